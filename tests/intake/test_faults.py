"""Faults on the start path: an S3 error mid-way, retries, the DLQ, and the re-drive.

Faults are injected on the start function's own S3 client through botocore's event
system (a ``before-parameter-build`` handler that raises the error S3 would return), with moto
behind it for every other call: the retry then meets the state the failed attempt
left. The queue is a real (moto) SQS queue with a redrive policy, polled as Lambda's
poller does; the re-drive is :func:`foldline.cli.dead_letters.redrive`, what ``foldline redrive
--queue start`` runs.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.exceptions import ClientError

from foldline.cli.dead_letters import redrive
from foldline.cli.stack_config import START_DLQ, START_QUEUE, StackConfig
from foldline.runs.table import RunsTable
from foldline.spec import layout
from tests.conftest import DATA, load_handler, sqs_batch
from tests.moto_stack import BUCKET, RUNS_TABLE

FASTA_6KWC = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()
MAX_RECEIVES = 3


class S3Fault:
    """Make ``operation`` on one client fail ``times`` times (None: until cleared), on
    every key or only on keys starting with ``key_prefix``."""

    def __init__(
        self,
        client,
        operation: str,
        code: str = "InternalError",
        times: int | None = 1,
        key_prefix: str = "",
    ) -> None:
        self.client, self.operation, self.code, self.left = client, operation, code, times
        self.key_prefix = key_prefix
        self.raised = 0
        client.meta.events.register(f"before-parameter-build.s3.{operation}", self)

    def __call__(self, params=None, **kwargs):
        if not str((params or {}).get("Key", "")).startswith(self.key_prefix):
            return
        if self.left is not None and self.left <= 0:
            return
        if self.left is not None:
            self.left -= 1
        self.raised += 1
        error = {
            "Error": {"Code": self.code, "Message": "injected"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        }
        raise ClientError(error, self.operation)

    def clear(self) -> None:
        self.client.meta.events.unregister(f"before-parameter-build.s3.{self.operation}", self)


@pytest.fixture
def queues(stack):
    dlq = stack.sqs.create_queue(QueueName="StartDeadLetterQueue")["QueueUrl"]
    dlq_arn = stack.sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    redrive_policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}
    queue = stack.sqs.create_queue(
        QueueName="StartQueue", Attributes={"RedrivePolicy": json.dumps(redrive_policy)}
    )["QueueUrl"]
    return queue, dlq


@pytest.fixture
def start(stack, queues, lambda_context):
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    queue, _ = queues

    def poll() -> dict:
        """One receive + invoke + delete-what-succeeded, as Lambda's SQS poller."""
        got = stack.sqs.receive_message(
            QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return {"received": 0, "failed": 0}
        result = app.lambda_handler(sqs_batch([json.loads(m["Body"]) for m in got]), lambda_context)
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for i, message in enumerate(got):
            handle = message["ReceiptHandle"]
            if f"msg-{i}" in failed:  # visible again now (Lambda: after the visibility timeout)
                stack.sqs.change_message_visibility(
                    QueueUrl=queue, ReceiptHandle=handle, VisibilityTimeout=0
                )
            else:
                stack.sqs.delete_message(QueueUrl=queue, ReceiptHandle=handle)
        return {"received": len(got), "failed": len(failed)}

    poll.app = app
    return poll


def enqueue(stack, queue: str, key: str, body: bytes) -> None:
    for event in stack.put(key, body):
        stack.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))


def count(stack, url: str) -> int:
    attrs = stack.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(
        attrs["ApproximateNumberOfMessagesNotVisible"]
    )


def test_an_s3_error_copying_the_run_input_is_retried_and_the_run_starts_once(stack, queues, start):
    queue, dlq = queues
    enqueue(stack, queue, "inputs/6kwc.fasta", FASTA_6KWC)
    # the run's input copy (the start path's other PutObject stages the MSA cache query)
    fault = S3Fault(start.app.start_context().s3, "PutObject", key_prefix=layout.RUNS)

    assert start() == {"received": 1, "failed": 1}
    assert fault.raised == 1
    assert stack.executions() == []
    (item,) = RunsTable(RUNS_TABLE, stack.dynamodb).recent()
    assert item["status"] == "Starting"  # claimed, nothing started: the retry may take over

    assert start() == {"received": 1, "failed": 0}
    (execution,) = stack.executions()
    run_id = execution["PipelineExecutionDisplayName"]
    copied = stack.keys(layout.run_input_prefix(run_id))
    assert copied == [layout.run_input_key(run_id, "6kwc.fasta")]
    assert RunsTable(RUNS_TABLE, stack.dynamodb).get(run_id)["status"] == "Executing"
    assert count(stack, queue) == 0 and count(stack, dlq) == 0
    assert stack.notices() == []


def test_an_s3_error_copying_a_rejected_upload_is_retried_and_rejected_once(stack, queues, start):
    queue, _dlq = queues
    body = b">gene\nATGGCGTACGATCGATCGATCGTAGCTAGCTAGCTAGCATCG\n"
    enqueue(stack, queue, "inputs/dna.fasta", body)
    S3Fault(start.app.start_context().s3, "CopyObject", code="SlowDown")

    assert start() == {"received": 1, "failed": 1}
    assert stack.keys("rejected/") == [] and stack.notices() == []
    assert stack.keys("inputs/") == ["inputs/dna.fasta"]  # the original is still there

    assert start() == {"received": 1, "failed": 0}
    kept = stack.s3.get_object(Bucket=BUCKET, Key=layout.rejected_key("inputs/dna.fasta"))
    assert kept["Body"].read() == body
    assert len(stack.notices()) == 1
    assert stack.keys("inputs/") == [] and stack.executions() == []


def test_a_lasting_fault_lands_in_the_dlq_and_the_redrive_starts_the_run(stack, queues, start):
    queue, dlq = queues
    enqueue(stack, queue, "inputs/6kwc.fasta", FASTA_6KWC)
    fault = S3Fault(start.app.start_context().s3, "GetObject", code="AccessDenied", times=None)

    polls = [start() for _ in range(MAX_RECEIVES + 2)]

    assert [p["failed"] for p in polls] == [1] * MAX_RECEIVES + [0, 0]  # then it was gone
    assert fault.raised == MAX_RECEIVES
    assert count(stack, queue) == 0 and count(stack, dlq) == 1
    assert stack.executions() == [] and stack.notices() == []

    fault.clear()  # the cause is fixed (here: the permission)
    config = StackConfig(
        outputs={START_QUEUE: queue, START_DLQ: dlq},
        region="us-east-1",
        source="test",
        stack_name="foldline",
        session=boto3.Session(),
    )
    report = redrive(config, "start")

    assert (report.found, report.moved, report.failed) == (1, 1, 0)
    assert count(stack, dlq) == 0 and count(stack, queue) == 1
    assert start() == {"received": 1, "failed": 0}
    (execution,) = stack.executions()
    assert execution["PipelineExecutionDisplayName"].startswith("6kwc-")
    assert count(stack, queue) == 0 and count(stack, dlq) == 0


def test_a_redriven_message_for_a_run_already_started_starts_nothing(stack, queues, start):
    """A message re-driven after its run started anyway (a late duplicate) is a duplicate."""
    queue, dlq = queues
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    stack.sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(events[0]))
    assert start()["failed"] == 0
    stack.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps(events[0]))  # a stale copy

    config = StackConfig(
        outputs={START_QUEUE: queue, START_DLQ: dlq},
        region="us-east-1",
        source="test",
        stack_name="foldline",
        session=boto3.Session(),
    )
    assert redrive(config, "start").moved == 1
    assert start()["failed"] == 0
    assert len(stack.executions()) == 1
