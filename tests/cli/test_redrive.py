"""``foldline redrive``: dead-letter messages go back to their queue or function."""

from __future__ import annotations

import io
import json
import zipfile

import boto3

from .conftest import invoke


def _bodies(sqs, url: str) -> list[str]:
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        messages = got.get("Messages", [])
        new = [m["Body"] for m in messages if m["Body"] not in out]
        if not new:
            return sorted(out)
        out += new


def _arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def _upload_event(key: str) -> str:
    return json.dumps(
        {
            "source": "aws.s3",
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": "b"}, "object": {"key": key}},
        }
    )


def test_start_dead_letters_go_back_to_the_start_queue(moto_stack):
    sqs, out = moto_stack.sqs, moto_stack.outputs
    events = [_upload_event("inputs/a.fasta"), _upload_event("inputs/b.fasta")]
    for body in events:
        sqs.send_message(QueueUrl=out["StartDeadLetterQueueUrl"], MessageBody=body)

    dry = invoke("redrive", "--queue", "start", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    queue_name = out["StartQueueUrl"].rsplit("/", 1)[-1]
    assert dry.output == f"start: 2 messages, would re-drive 2 (2 to {queue_name})\n"
    assert _bodies(sqs, out["StartDeadLetterQueueUrl"]) == sorted(events)  # still there
    assert _bodies(sqs, out["StartQueueUrl"]) == []

    result = invoke("redrive", "--queue", "start")
    assert result.exit_code == 0, result.stderr
    assert result.output == f"start: 2 messages, re-drove 2 (2 to {queue_name})\n"
    assert _bodies(sqs, out["StartQueueUrl"]) == sorted(events)
    assert _bodies(sqs, out["StartDeadLetterQueueUrl"]) == []


def test_undelivered_events_go_to_the_target_they_name(moto_stack):
    sqs, out = moto_stack.sqs, moto_stack.outputs
    body = _upload_event("inputs/c.fasta")
    sqs.send_message(
        QueueUrl=out["EventsDeadLetterQueueUrl"],
        MessageBody=body,
        MessageAttributes={
            "TARGET_ARN": {"DataType": "String", "StringValue": _arn(sqs, out["StartQueueUrl"])},
            "RULE_ARN": {
                "DataType": "String",
                "StringValue": "arn:aws:events:us-east-1:123456789012:rule/x",
            },
            "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
        },
    )
    result = invoke("redrive", "--queue", "events")
    assert result.exit_code == 0, result.stderr
    assert result.output.startswith("events: 1 message, re-drove 1 (1 to ")
    assert _bodies(sqs, out["StartQueueUrl"]) == [body]


def _function(name: str) -> str:
    iam = boto3.client("iam")
    role = iam.create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return boto3.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app.lambda_handler",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]


def _failure_record(function_arn: str, event: dict) -> str:
    return json.dumps(
        {
            "version": "1.0",
            "requestContext": {
                "requestId": "r",
                "functionArn": f"{function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": event,
            "responsePayload": {"errorMessage": "boom", "errorType": "RuntimeError"},
        }
    )


def test_failed_invocations_go_back_to_their_function_and_a_bad_one_stays(moto_stack):
    sqs, out = moto_stack.sqs, moto_stack.outputs
    arn = _function("foldline-test-AnalysisFunction")
    event = {"source": "aws.sagemaker", "detail": {"currentPipelineExecutionStatus": "Succeeded"}}
    good = _failure_record(arn, event)
    garbled = "not an on-failure record"
    for body in (good, garbled):
        sqs.send_message(QueueUrl=out["FunctionFailuresQueueUrl"], MessageBody=body)
    result = invoke("redrive", "--queue", "functions")
    assert result.exit_code == 1  # one message could not be re-driven
    lines = result.output.splitlines()
    assert lines[0] == (
        "functions: 2 messages, re-drove 1 (1 to foldline-test-AnalysisFunction), 1 failed"
    )
    assert lines[1].endswith("is not a Lambda on-failure record")
    assert _bodies(sqs, out["FunctionFailuresQueueUrl"]) == [garbled]  # kept for another look


def test_redrive_all_queues_when_all_are_empty(moto_stack):
    result = invoke("redrive")
    assert result.exit_code == 0
    assert result.output == (
        "start: 0 messages, re-drove 0\nevents: 0 messages, re-drove 0\n"
        "functions: 0 messages, re-drove 0\n"
    )
