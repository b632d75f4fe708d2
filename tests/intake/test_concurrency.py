"""The concurrency gate: bursts start every upload once, never more than the cap at once.

The gate's rules one at a time under moto (two instances racing for the last slot,
idempotent acquire and release, the self-healing reconciliation), the start function
deferring an upload without pushing it toward the DLQ, the end-of-run paths freeing the
slot, and then a burst: 60 uploads, cap 5, three start-function instances in separate
processes, executions ending (or losing their end event) as they go.
"""

from __future__ import annotations

import datetime as dt
import json
import os

import boto3
import pytest

from foldline.intake.concurrency import (
    DEFERRALS_ATTRIBUTE,
    GATE_KEY,
    Backoff,
    ConcurrencyGate,
    GateFull,
    release_slot,
)
from foldline.runs.table import RunsTable
from foldline.spec.parameters import PIPELINE_NAME
from tests.conftest import DATA, load_handler, sqs_batch
from tests.intake.burst import BurstConfig, run_burst
from tests.moto_stack import RUNS_TABLE
from tests.pipeline_runs import set_execution_status

FASTA_6KWC = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()
T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self, now: dt.datetime = T0) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(params=["RunsTable", "boto3 Table"])
def table(stack, request):
    """The runs table as the gate is given it: the start function passes its RunsTable
    (DynamoDB's low-level client); a boto3 Table resource works the same."""
    if request.param == "RunsTable":
        return RunsTable(RUNS_TABLE)
    return stack.dynamodb.Table(RUNS_TABLE)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def gate(stack, table, clock, cap: int = 2, **kwargs) -> ConcurrencyGate:
    """One start-function instance's gate (each with its own SageMaker client)."""
    return ConcurrencyGate(
        table, cap, boto3.client("sagemaker"), PIPELINE_NAME, clock=clock, **kwargs
    )


def start_execution(stack, run_id: str) -> str:
    return stack.sagemaker.start_pipeline_execution(
        PipelineName=PIPELINE_NAME, PipelineExecutionDisplayName=run_id, ClientRequestToken=run_id
    )["PipelineExecutionArn"]


def set_status(arn: str, status: str) -> None:
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends["123456789012"]["us-east-1"]
    backend.pipelines[PIPELINE_NAME].pipeline_executions[arn].pipeline_execution_status = status


RUN_A, RUN_B, RUN_C = ("a" * 8 + "-" + "1" * 32, "b" * 8 + "-" + "2" * 32, "c" * 8 + "-" + "3" * 32)


# ---------------------------------------------------------------------------------------
# the gate's rules


def test_two_instances_racing_for_the_last_slot_get_one(stack, table, clock):
    first, second = gate(stack, table, clock), gate(stack, table, clock)
    first.acquire(RUN_A)

    second.acquire(RUN_B)  # the last slot
    with pytest.raises(GateFull) as full:
        first.acquire(RUN_C)

    assert (full.value.in_use, full.value.cap) == (2, 2)
    assert set(first.holders()) == {RUN_A, RUN_B}


def test_a_run_that_holds_a_slot_takes_it_again_without_a_second(stack, table, clock):
    g = gate(stack, table, clock)
    g.acquire(RUN_A)
    g.acquire(RUN_A)  # a redelivered or throttled start
    g.acquire(RUN_B)
    g.acquire(RUN_A)  # still fine at the cap: it is the same slot
    assert set(g.holders()) == {RUN_A, RUN_B}


def test_release_frees_only_a_slot_the_run_holds_and_only_once(stack, table, clock):
    g = gate(stack, table, clock)
    g.acquire(RUN_A)
    g.acquire(RUN_B)

    assert release_slot(table, RUN_C) is False  # holds none: nothing changes
    assert release_slot(table, RUN_A) is True
    assert release_slot(table, RUN_A) is False  # the replayed end event
    assert set(g.holders()) == {RUN_B}
    g.acquire(RUN_C)
    assert set(g.holders()) == {RUN_B, RUN_C}


def test_release_without_a_gate_item_changes_nothing(stack, table):
    assert release_slot(table, RUN_A) is False
    assert "Item" not in stack.dynamodb.Table(RUNS_TABLE).get_item(Key={"run_id": GATE_KEY})


def test_a_deleted_gate_item_is_made_again(stack, table, clock):
    g = gate(stack, table, clock)
    g.acquire(RUN_A)
    # someone tidied the table by hand
    stack.dynamodb.Table(RUNS_TABLE).delete_item(Key={"run_id": GATE_KEY})
    g.acquire(RUN_B)
    assert set(g.holders()) == {RUN_B}


def test_the_gate_item_is_not_a_run(stack, table, clock):
    gate(stack, table, clock).acquire(RUN_A)
    runs = RunsTable(RUNS_TABLE, stack.dynamodb)
    runs.put(RUN_B, status="Executing")
    assert [item["run_id"] for item in runs.recent()] == [RUN_B]


def test_reconcile_frees_a_slot_whose_end_event_was_lost(stack, table, clock):
    g = gate(stack, table, clock)
    set_status(start_execution(stack, RUN_A), "Succeeded")  # ended; no event came
    set_status(start_execution(stack, RUN_B), "Executing")
    g.acquire(RUN_A)
    g.acquire(RUN_B)

    g.acquire(RUN_C)  # full -> reconcile -> RUN_A's slot was stale

    assert set(g.holders()) == {RUN_B, RUN_C}


def test_reconcile_waits_out_the_grace_period_for_a_start_in_flight(stack, table, clock):
    g = gate(stack, table, clock, grace_s=900)
    g.acquire(RUN_A)  # took its slot; StartPipelineExecution not (yet) called
    g.acquire(RUN_B)
    set_status(start_execution(stack, RUN_B), "Executing")

    clock.advance(600)
    assert g.reconcile(force=True) == []
    clock.advance(301)  # longer than any start attempt: that start failed for good
    assert g.reconcile(force=True) == [RUN_A]


def test_reconcile_frees_at_once_a_run_the_runs_table_shows_ended(stack, table, clock):
    g = gate(stack, table, clock, grace_s=900)
    g.acquire(RUN_A)
    RunsTable(RUNS_TABLE, stack.dynamodb).put(RUN_A, status="Failed")
    assert g.reconcile(force=True) == [RUN_A]


def test_reconcile_runs_at_most_once_per_interval_across_instances(stack, table, clock):
    first = gate(stack, table, clock, reconcile_every_s=60)
    second = gate(stack, table, clock, reconcile_every_s=60)
    first.acquire(RUN_A)
    set_status(start_execution(stack, RUN_A), "Succeeded")

    clock.advance(1)
    assert first.reconcile() == [RUN_A]  # its execution ended: stale
    first.acquire(RUN_A)  # taken again (a replayed start), stale again
    assert second.reconcile() == []  # within the interval: no ListPipelineExecutions
    clock.advance(61)
    assert second.reconcile() == [RUN_A]


def test_a_reconcile_does_not_free_a_slot_retaken_meanwhile(stack, table, clock):
    g = gate(stack, table, clock)
    g.acquire(RUN_A)
    taken = g.holders()[RUN_A]
    clock.advance(5)
    g.acquire(RUN_A)  # the run's retry renewed its slot after the reconcile looked
    assert g._release_if_unchanged(RUN_A, taken) is False
    assert RUN_A in g.holders()


def test_backoff_doubles_with_jitter_up_to_sqs_limit():
    import random

    backoff, rng = Backoff(base_s=20, max_s=900), random.Random(1)
    delays = [backoff.delay(n, rng) for n in range(8)]
    for n, delay in enumerate(delays):
        ceiling = min(900, 20 * 2**n)
        assert ceiling / 2 - 1 <= delay <= ceiling
    assert max(delays) <= 900


# ---------------------------------------------------------------------------------------
# the start function when the gate is full


@pytest.fixture
def start_queue(stack):
    """StartQueue with its DLQ after 2 receives (what waiting must never burn through)."""
    dlq = stack.sqs.create_queue(QueueName="start-dlq")["QueueUrl"]
    dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    url = stack.sqs.create_queue(
        QueueName="start",
        Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    return url, dlq


@pytest.fixture
def executions_run(stack):
    """Executions stay Executing until ended, as in SageMaker (moto ends them at once)."""
    from foldline.local import moto_sagemaker

    moto_sagemaker.install()
    yield
    moto_sagemaker.uninstall()


@pytest.fixture
def gated_start(stack, start_queue, executions_run, lambda_context, monkeypatch):
    monkeypatch.setenv("FOLDLINE_MAX_CONCURRENT_EXECUTIONS", "1")
    monkeypatch.setenv("START_QUEUE_URL", start_queue[0])
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    app.deferrer.cache_clear()
    app.deferrer().backoff = Backoff(base_s=0, max_s=0)  # no waiting in a test

    def poll() -> list[dict]:
        """One poll of the queue as Lambda's poller does it: results per message."""
        got = stack.sqs.receive_message(
            QueueUrl=start_queue[0],
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            return []
        event = sqs_batch([json.loads(m["Body"]) for m in got])
        for record, message in zip(event["Records"], got):
            record["messageAttributes"] = {
                k: {"stringValue": v["StringValue"], "dataType": v["DataType"]}
                for k, v in (message.get("MessageAttributes") or {}).items()
            }
        result = app.lambda_handler(event, lambda_context)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for record, message in zip(event["Records"], got):
            if record["messageId"] not in failed:
                stack.sqs.delete_message(
                    QueueUrl=start_queue[0], ReceiptHandle=message["ReceiptHandle"]
                )
        return got

    poll.app = app
    return poll


def queued(stack, url: str) -> int:
    attrs = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(attrs[k])
        for k in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def test_a_full_gate_defers_the_upload_without_burning_its_receive_count(
    stack, start_queue, gated_start
):
    url, dlq = start_queue
    for name in ("first.fasta", "second.fasta"):
        for event in stack.put(f"inputs/{name}", FASTA_6KWC):
            stack.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))

    gated_start()  # both in one batch: one starts, one is deferred
    (execution,) = stack.executions()
    for _ in range(5):  # more waits than the DLQ's maxReceiveCount of 2
        (waiting,) = gated_start()
    assert int(waiting["MessageAttributes"][DEFERRALS_ATTRIBUTE]["StringValue"]) == 5
    assert queued(stack, dlq) == 0 and queued(stack, url) == 1
    assert len(stack.executions()) == 1
    runs = RunsTable(RUNS_TABLE, stack.dynamodb)
    waiting_run = next(i for i in runs.recent() if i["status"] == "Starting")
    assert stack.keys(f"runs/{waiting_run['run_id']}/") == []  # nothing half-done

    # the first run ends; its end event frees the slot; the waiting upload starts
    release_slot(runs.table, execution["PipelineExecutionDisplayName"])
    gated_start()
    assert len(stack.executions()) == 2
    assert queued(stack, url) == 0 and queued(stack, dlq) == 0
    assert runs.get(waiting_run["run_id"])["status"] == "Executing"


def test_the_deferred_decision_is_one_structured_line(stack, start_queue, gated_start):
    import logging

    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(self.format(record))

    handler = Keep(level=logging.INFO)
    handler.setFormatter(LambdaPowertoolsFormatter())
    logging.getLogger("foldline").addHandler(handler)
    try:
        url, _ = start_queue
        for name in ("first.fasta", "second.fasta"):
            for event in stack.put(f"inputs/{name}", FASTA_6KWC):
                stack.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
        gated_start()
    finally:
        logging.getLogger("foldline").removeHandler(handler)
    lines = [json.loads(r) for r in records]
    decisions = [(line["message"], line.get("key"), bool(line.get("run_id"))) for line in lines]
    assert ("deferred", "inputs/second.fasta", True) in decisions or (
        "deferred",
        "inputs/first.fasta",
        True,
    ) in decisions
    deferred = next(line for line in lines if line["message"] == "deferred")
    assert (deferred["slots_in_use"], deferred["cap"], deferred["deferrals"]) == (1, 1, 1)
    assert [m for m, _, _ in decisions].count("started") == 1


# ---------------------------------------------------------------------------------------
# the end-of-run paths free the slot


def test_a_failed_run_frees_its_slot_through_the_notify_path(ended_run, lambda_context):
    run = ended_run
    table = run.stack.dynamodb.Table(RUNS_TABLE)
    g = ConcurrencyGate(table, 1, boto3.client("sagemaker"), PIPELINE_NAME)
    g.acquire(run.run_id)
    set_execution_status(run, "Failed")
    app = load_handler("notify")
    app.notify_context.cache_clear()

    app.lambda_handler(run.event("pipeline-failed.json"), lambda_context)

    assert g.holders() == {}
    assert run.item()["status"] == "Failed"


def test_an_analysis_that_crashes_has_freed_the_slot_already(ended_run, lambda_context):
    run = ended_run
    run.place_outputs(alphafold=b"<html>not a tarball</html>")
    table = run.stack.dynamodb.Table(RUNS_TABLE)
    g = ConcurrencyGate(table, 1, boto3.client("sagemaker"), PIPELINE_NAME)
    g.acquire(run.run_id)
    app = load_handler("analysis")
    app.analysis_context.cache_clear()

    with pytest.raises(Exception, match="not a gzip file"):
        app.lambda_handler(run.event("pipeline-succeeded.json"), lambda_context)

    assert g.holders() == {}  # the execution ended; its analysis' retries hold no slot


# ---------------------------------------------------------------------------------------
# the burst


@pytest.fixture(scope="module")
def burst(tmp_path_factory):
    # moto's server shares this process' backends: no mock_aws may be active meanwhile
    saved = {k: os.environ.pop(k) for k in ("AWS_ENDPOINT_URL",) if k in os.environ}
    try:
        return run_burst(
            BurstConfig(uploads=60, cap=5, instances=3), tmp_path_factory.mktemp("burst")
        )
    finally:
        os.environ.update(saved)


def test_a_burst_starts_every_upload_exactly_once(burst):
    assert not burst.timed_out, burst
    assert burst.uploads == 60
    assert burst.runs_started == 60 and burst.lost == 0
    assert burst.executions == 60 and burst.duplicated == 0
    assert burst.dead_letters == 0 and burst.batch_item_failures == 0


def test_a_burst_never_exceeds_the_cap(burst):
    assert burst.over_cap_moments == 0
    assert burst.peak_concurrent == 5  # reached, never passed
    assert burst.peak_gate_holders <= 5
    assert burst.deferrals > 0  # uploads did wait for slots


def test_a_burst_survives_lost_end_events(burst):
    """Executions whose end event never came held slots until the reconciliation freed them."""
    assert burst.lost_end_events > 0
    assert burst.released_by_reconcile > 0
    # every slot taken was freed once, by its end event or by the reconciliation (which
    # may come first: an execution ends before its event is delivered), or is still held
    # by a run whose event was lost and that no start has needed back since
    assert burst.gate_holders_at_end <= burst.lost_end_events
    assert (
        burst.released_by_end_path + burst.released_by_reconcile + burst.gate_holders_at_end
    ) == burst.executions


def test_every_decision_line_names_its_key_and_run(burst):
    lines = burst.decision_lines
    assert lines["started"] == 60
    assert lines["deferred"] == burst.deferrals
    assert lines["accepted"] == lines["started"] + lines["deferred"]
    assert burst.lines_missing_key_or_run_id == 0
