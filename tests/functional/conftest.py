"""A moto-backed foldline stack for the start path: bucket, runs table, topic, pipeline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from foldline.databases.presets import write_ready
from foldline.spec.parameters import DB_PRESETS, PARAMETERS, PIPELINE_NAME

BUCKET = "foldline-test-bucket"
RUNS_TABLE = "foldline-test-runs"


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


def _pipeline_definition() -> str:
    parameters = []
    for p in PARAMETERS:
        entry = {"Name": p.name, "Type": p.type}
        if p.default is not None:
            entry["DefaultValue"] = p.default
        parameters.append(entry)
    return json.dumps({"Version": "2020-12-01", "Parameters": parameters, "Steps": []})


@pytest.fixture
def stack(monkeypatch) -> Stack:
    with mock_aws():
        s3 = boto3.client("s3")
        sqs = boto3.client("sqs")
        sns = boto3.client("sns")
        events = boto3.client("events")
        sagemaker = boto3.client("sagemaker")
        dynamodb = boto3.resource("dynamodb")

        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for preset in DB_PRESETS:  # `foldline setup databases` ran for both presets
            write_ready(s3, BUCKET, preset, source="test stack")
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        # Capture every S3 event from the default bus (not the template's filter: the
        # tests feed the start function what S3 really emits, filters included).
        s3_events = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
        s3_events_arn = sqs.get_queue_attributes(
            QueueUrl=s3_events, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        events.put_rule(Name="all-s3", EventPattern=json.dumps({"source": ["aws.s3"]}))
        events.put_targets(Rule="all-s3", Targets=[{"Id": "q", "Arn": s3_events_arn}])

        dynamodb.create_table(
            TableName=RUNS_TABLE,
            KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        topic_arn = sns.create_topic(Name="foldline-notices")["TopicArn"]
        notices = sqs.create_queue(QueueName="notices")["QueueUrl"]
        notices_arn = sqs.get_queue_attributes(
            QueueUrl=notices, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=notices_arn)
        sagemaker.create_pipeline(
            PipelineName=PIPELINE_NAME,
            PipelineDefinition=_pipeline_definition(),
            RoleArn="arn:aws:iam::123456789012:role/foldline-sagemaker",
        )
        monkeypatch.setenv("BUCKET_NAME", BUCKET)
        monkeypatch.setenv("RUNS_TABLE", RUNS_TABLE)
        monkeypatch.setenv("TOPIC_ARN", topic_arn)
        monkeypatch.setenv("PIPELINE_NAME", PIPELINE_NAME)
        yield Stack(s3, sqs, sns, sagemaker, dynamodb, events, topic_arn, notices, s3_events)
