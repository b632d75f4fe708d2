"""start function: SQS batches of S3 "Object Created" events -> pipeline executions.

Thin by design: parse each record, call :func:`foldline.start.start_run`, log and count
the outcome. A record that raises (throttling, S3 errors) is reported as a batch item
failure, so only it returns to the queue and, after the queue's maxReceiveCount, to the
dead-letter queue.
"""

from __future__ import annotations

import json
import os
from functools import cache

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from foldline.fasta import IntakeLimits
from foldline.observability import logger, metrics
from foldline.runs import RunsTable
from foldline.s3_events import upload_from_eventbridge
from foldline.start import RetryLater, StartContext, start_run

# Report every failed record, even when all of a batch fails: only those messages return
# to the queue, and the dead-letter queue takes them after the queue's maxReceiveCount.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def start_context() -> StartContext:
    """Clients and settings, built once per execution environment."""
    return StartContext(
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        sns=boto3.client("sns"),
        runs=RunsTable(os.environ["RUNS_TABLE"]),
        topic_arn=os.environ["TOPIC_ARN"],
        pipeline_name=os.environ["PIPELINE_NAME"],
        limits=IntakeLimits.from_env(),
    )


def record_handler(record: SQSRecord) -> str:
    upload = upload_from_eventbridge(json.loads(record.body))
    if upload is None:
        logger.info("ignored: not an Object Created event", extra={"message_id": record.message_id})
        return "ignored"
    try:
        outcome = start_run(start_context(), upload)
    except RetryLater as later:
        logger.warning("throttled", extra={"key": upload.key, "detail": str(later)})
        metrics.add_metric(name="StartsThrottled", unit=MetricUnit.Count, value=1)
        raise
    logger.info(outcome.action, extra=outcome.log_fields())
    metrics.add_metric(name=f"Uploads{outcome.action.capitalize()}", unit=MetricUnit.Count, value=1)
    return outcome.action


@logger.inject_lambda_context(correlation_id_path="Records[0].messageId")
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
