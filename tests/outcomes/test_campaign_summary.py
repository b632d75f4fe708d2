"""The campaign's one summary notice: counted ends, one claim, a failed publish retried."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from foldline.outcomes.campaigns import campaign_member_ended
from foldline.runs.campaigns import Campaigns
from foldline.runs.table import RunsTable
from foldline.spec import layout
from tests.intake.test_screen import SCREEN, campaign_of, screen_fasta
from tests.moto_stack import BUCKET, RUNS_TABLE


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
