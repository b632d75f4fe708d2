"""A moto-backed foldline stack for the handlers: template.yaml's resources (tests/stack.py),
plus what the tests watch with: every S3 event on a queue, the topic's notices on another."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from foldline.spec.parameters import PIPELINE_NAME
from tests.stack import build_stack, template_stack

STACK = template_stack()
BUCKET = STACK.physical_name("FoldlineBucket")
RUNS_TABLE = STACK.physical_name("RunsTable")


@dataclass
class Stack:
    s3: Any
    sqs: Any
    sns: Any
    sagemaker: Any
    dynamodb: Any
    events: Any
    topic_arn: str
    notices_queue: str
    s3_events_queue: str

    def put(self, key: str, body: bytes, tags: str | None = None) -> list[dict]:
        """Upload an object; return the S3 "Object Created" events EventBridge delivered."""
        extra = {"Tagging": tags} if tags else {}
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)
        return [e for e in self.drain(self.s3_events_queue) if e["detail-type"] == "Object Created"]

    def drain(self, queue_url: str) -> list[dict]:
        out = []
        while True:
            got = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])

    def notices(self) -> list[dict]:
        """SNS messages published so far (the SNS envelope: Subject, Message, attributes)."""
        return self.drain(self.notices_queue)

    def executions(self) -> list[dict]:
        return self.sagemaker.list_pipeline_executions(PipelineName=PIPELINE_NAME)[
            "PipelineExecutionSummaries"
        ]

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return [o["Key"] for o in listed.get("Contents", [])]


@pytest.fixture
def stack(monkeypatch) -> Stack:
    with mock_aws():
        s3 = boto3.client("s3")
        sqs = boto3.client("sqs")
        sns = boto3.client("sns")
        events = boto3.client("events")
        sagemaker = boto3.client("sagemaker")
        dynamodb = boto3.resource("dynamodb")

        build_stack(STACK)  # databases ready for both presets, EventBridge notifications on
        # Capture every S3 event from the default bus (not the template's filter: the
        # tests feed the start function what S3 really emits, filters included).
        s3_events = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
        s3_events_arn = sqs.get_queue_attributes(QueueUrl=s3_events, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.put_rule(Name="all-s3", EventPattern=json.dumps({"source": ["aws.s3"]}))
        events.put_targets(Rule="all-s3", Targets=[{"Id": "q", "Arn": s3_events_arn}])

        topic_arn = STACK.ref("NotificationsTopic")
        notices = sqs.create_queue(QueueName="notices")["QueueUrl"]
        notices_arn = sqs.get_queue_attributes(QueueUrl=notices, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=notices_arn)
        monkeypatch.setenv("BUCKET_NAME", BUCKET)
        monkeypatch.setenv("RUNS_TABLE", RUNS_TABLE)
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        monkeypatch.setenv("PIPELINE_NAME", PIPELINE_NAME)
        yield Stack(s3, sqs, sns, sagemaker, dynamodb, events, topic_arn, notices, s3_events)
