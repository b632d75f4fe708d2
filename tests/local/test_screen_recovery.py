"""A restart of the local runtime after a screening drop was cut short (moto, in-process)."""

from __future__ import annotations

from foldline.local.recovery import recover
from foldline.outcomes.campaigns import campaign_member_ended
from foldline.runs.campaigns import Campaigns
from foldline.runs.table import RunsTable
from tests.conftest import load_handler, sqs_batch
from tests.intake.test_screen import SCREEN, campaign_of, screen_fasta
from tests.moto_stack import BUCKET, RUNS_TABLE


def _recover(stack, runs):
    return recover(
        s3=stack.s3,
        events=stack.events,
        sns=stack.sns,
        table=runs,
        bucket=BUCKET,
        topic_arn=stack.topic_arn,
        region="us-east-1",
    )


def test_records_cut_short_start_again_and_a_finished_drop_is_left_alone(stack, lambda_context):
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    events = stack.put("inputs/screen.fasta", screen_fasta(SCREEN), tags="Mode=screen")
    app.lambda_handler(sqs_batch(events), lambda_context)
    campaign_id, campaign = campaign_of(stack, events)
    runs = RunsTable(RUNS_TABLE, stack.dynamodb)
    statuses = {m["run_id"]: runs.get(m["run_id"])["status"] for m in campaign["members"]}
    executing = sorted(r for r, s in statuses.items() if s == "Executing")
    assert len(executing) == 5
    stack.drain(stack.s3_events_queue)

    found = _recover(stack, runs)  # the runtime stopped with the five runs executing
    assert sorted(found.resumed) == executing and found.lost == []
    for run_id, status in statuses.items():  # the refused record stays as it was
        assert runs.get(run_id)["status"] == ("Starting" if status == "Executing" else status)
    assert len(stack.notices()) == 5  # one "interrupted" notice per run cut short
    redriven = [
        e for e in stack.drain(stack.s3_events_queue) if e["detail-type"] == "Object Created"
    ]
    assert [e["detail"]["object"]["key"] for e in redriven] == ["inputs/screen.fasta"]
    app.lambda_handler(sqs_batch(redriven), lambda_context)  # its start function, again
    assert {runs.get(r)["status"] for r in executing} == {"Executing"}

    for run_id in executing:  # the runs end; the summary goes out
        runs.update(run_id, status="Succeeded")
        campaign_member_ended(runs, stack.sns, stack.topic_arn, runs.get(run_id), s3=stack.s3)
    assert Campaigns(runs).get(campaign_id)["summary_message_id"]
    stack.notices()
    stack.drain(stack.s3_events_queue)
    found = _recover(stack, runs)  # a later restart: nothing owed
    assert not found
    assert stack.drain(stack.s3_events_queue) == [] and stack.notices() == []


def test_a_search_lease_left_by_a_job_the_stop_killed_is_let_go(stack):
    from foldline.steps import msa_lease

    key = "b" * 64
    assert msa_lease.claim(stack.s3, BUCKET, key, "a-job-that-died", 600) is not None
    _recover(stack, RunsTable(RUNS_TABLE, stack.dynamodb))
    assert msa_lease.read_lease(stack.s3, BUCKET, key) is None
    assert msa_lease.claim(stack.s3, BUCKET, key, "the-resumed-run", 600) is not None
