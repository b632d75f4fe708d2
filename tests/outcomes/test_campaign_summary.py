"""The campaign's one summary notice: counted ends, one claim, a failed publish retried."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from foldline.outcomes.campaigns import campaign_member_ended
from foldline.outcomes.notices import as_campaign_member, ended_notice, publish
from foldline.runs.campaigns import Campaigns
from foldline.runs.table import RunsTable
from foldline.spec import layout
from foldline.spec.screening import CAMPAIGN_MEMBER_ATTRIBUTE, EMAIL_FILTER_POLICY
from tests.intake.test_screen import SCREEN, campaign_of, screen_fasta
from tests.moto_stack import BUCKET, RUNS_TABLE, STACK


@pytest.fixture
def campaign(stack, lambda_context):
    """A screening drop of six records started by the real start function: five runs
    executing, one refused record (ended at once)."""
    from tests.conftest import load_handler, sqs_batch

    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    events = stack.put("inputs/screen.fasta", screen_fasta(SCREEN), tags="Mode=screen")
    app.lambda_handler(sqs_batch(events), lambda_context)
    campaign_id, item = campaign_of(stack, events)
    runs = RunsTable(RUNS_TABLE, stack.dynamodb)
    return campaign_id, item, runs


def end(runs: RunsTable, run_id: str, status: str = "Succeeded", **fields) -> dict:
    runs.update(run_id, status=status, **fields)
    return runs.get(run_id)


def test_the_last_end_sends_one_summary_and_replays_send_none(stack, campaign):
    campaign_id, item, runs = campaign
    members = [m["run_id"] for m in item["members"]]
    running = [r for r in members if runs.get(r)["status"] == "Executing"]
    for i, run_id in enumerate(running[:-1]):
        ended = end(runs, run_id, tm_score=0.5 + i / 10, plddt_mean={"alphafold": 80.0})
        assert campaign_member_ended(runs, stack.sns, stack.topic_arn, ended, s3=stack.s3) is None
        assert (
            campaign_member_ended(runs, stack.sns, stack.topic_arn, ended, s3=stack.s3) is None
        )  # replay
    assert stack.notices() == []
    last = end(runs, running[-1], "Failed", failure_reason="RunMSA: out of memory")
    assert campaign_member_ended(runs, stack.sns, stack.topic_arn, last, s3=stack.s3)
    for _ in range(3):  # the same end told again, by a retry or a concurrent invocation
        assert campaign_member_ended(runs, stack.sns, stack.topic_arn, last, s3=stack.s3) is None
    (summary,) = stack.notices()
    assert "1 failed, 1 rejected, 4 succeeded" in summary["Subject"]
    body = summary["Message"]
    assert "RunMSA: out of memory" in body and "TM-score 0.500" in body and "nucleotide" in body
    assert Campaigns(runs).get(campaign_id)["summary_message_id"]
    # beside the notice, the campaign's table in the bucket, which the notice names
    key = layout.campaign_summary_key(campaign_id)
    assert key in body
    doc = json.loads(stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert [r["run_id"] for r in doc["runs"]] == [m["run_id"] for m in item["members"]]
    assert doc["statuses"] == {"Succeeded": 4, "Failed": 1, "Rejected": 1}
    assert doc["unique_sequences"] == 3 and doc["records"] == 6


def test_of_two_invocations_that_both_see_the_campaign_complete_one_sends(stack, campaign):
    campaign_id, item, runs = campaign
    campaigns = Campaigns(runs)
    for member in item["members"]:
        campaigns.member_ended(campaign_id, member["run_id"])
    assert campaigns.claim_summary(campaign_id, "first", 900)
    assert not campaigns.claim_summary(campaign_id, "second", 900)  # the first holds it
    campaigns.release_summary(campaign_id, "second")  # not its claim: changes nothing
    assert not campaigns.claim_summary(campaign_id, "third", 900)
    campaigns.summary_sent(campaign_id, "message-1")
    assert not campaigns.claim_summary(campaign_id, "fourth", 0)  # sent: never again


def test_a_summary_sns_refused_is_sent_by_the_retry(stack, campaign):
    _campaign_id, item, runs = campaign
    running = [
        m["run_id"] for m in item["members"] if runs.get(m["run_id"])["status"] != "Rejected"
    ]
    for run_id in running[:-1]:
        campaign_member_ended(runs, stack.sns, stack.topic_arn, end(runs, run_id), s3=stack.s3)
    last = end(runs, running[-1])

    gone = stack.topic_arn + "-deleted"  # SNS refuses a publish to a topic that is not there
    with pytest.raises(ClientError, match="NotFound"):
        campaign_member_ended(runs, stack.sns, gone, last, s3=stack.s3)
    assert campaign_member_ended(
        runs, stack.sns, stack.topic_arn, last, s3=stack.s3
    )  # the retry, at once
    assert len(stack.notices()) == 1


def _mailbox(stack) -> str:
    """A queue subscribed to the topic as template.yaml subscribes the e-mail address."""
    props = STACK.template["Resources"]["NotificationsEmailSubscription"]["Properties"]
    assert props["FilterPolicy"] == EMAIL_FILTER_POLICY  # the template says what the code means
    url = stack.sqs.create_queue(QueueName="mailbox")["QueueUrl"]
    arn = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    stack.sns.subscribe(
        TopicArn=stack.topic_arn,
        Protocol="sqs",
        Endpoint=arn["Attributes"]["QueueArn"],
        Attributes={
            "FilterPolicy": json.dumps(props["FilterPolicy"]),
            "FilterPolicyScope": props["FilterPolicyScope"],
        },
    )
    return url


def test_the_mailbox_gets_the_campaign_summary_not_each_members_notice(stack, campaign):
    campaign_id, item, runs = campaign
    mailbox = _mailbox(stack)

    def failed(run_id: str, item: dict | None) -> None:
        notice = ended_notice(
            status="failed", target="t", run_id=run_id, execution_arn="arn:x", steps=[]
        )
        publish(stack.sns, stack.topic_arn, as_campaign_member(notice, item))

    failed("single-run", {"run_id": "single-run"})  # an upload of its own
    # the refused record ended at the start (no notice of its own); the five that ran fail
    members = [
        m["run_id"] for m in item["members"] if runs.get(m["run_id"])["status"] == "Executing"
    ]
    for run_id in members:
        ended = end(runs, run_id, "Failed", failure_reason="RunMSA: out of memory")
        failed(run_id, ended)
        campaign_member_ended(runs, stack.sns, stack.topic_arn, ended, s3=stack.s3)

    def who(messages: list[dict]) -> list[str]:
        return [m["MessageAttributes"]["run_id"]["Value"] for m in messages]

    topic = stack.notices()  # every notice the topic carried
    assert who(topic) == ["single-run", *members, campaign_id]
    assert {
        m["MessageAttributes"][CAMPAIGN_MEMBER_ATTRIBUTE]["Value"]
        for m in topic
        if m["MessageAttributes"]["run_id"]["Value"] in members
    } == {campaign_id}
    assert who(stack.drain(mailbox)) == ["single-run", campaign_id]
