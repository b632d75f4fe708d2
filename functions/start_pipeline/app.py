"""start function: SQS batches of S3 "Object Created" events -> pipeline executions.

Thin by design: parse each record, call :func:`foldline.intake.start.start_run`, log and count
the outcome. A record that raises (throttling, S3 errors) is reported as a batch item
failure, so only it returns to the queue and, after the queue's maxReceiveCount, to the
dead-letter queue. An upload that finds every execution slot taken
(:mod:`foldline.intake.concurrency`) is not a failure: it goes back on the queue as a new,
delayed message, so waiting out a burst never pushes it into the dead-letter queue.

One structured log line per decision, each with ``key`` and (once known) ``run_id``:
accepted, rejected, started, duplicate, ignored, throttled, deferred, failed (SageMaker
refused every try: the run is marked Failed and announced), and ``error`` for a record
that raised, with its cause, whether it was its last try. Sequences never appear in them.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from functools import cache

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from foldline.events.observability import logger, metrics
from foldline.events.s3 import upload_from_eventbridge
from foldline.intake.concurrency import ConcurrencyGate, Deferrer, GateFull, cap_from_env
from foldline.intake.fasta import IntakeLimits
from foldline.intake.spend_limits import SpendLimits
from foldline.intake.start import (
    RetryLater,
    StartContext,
    after_last_try,
    max_tries_from_env,
    start_run,
)
from foldline.runs.table import RunsTable

#: how much of an error's text a log line carries (a message may quote a large input)
CAUSE_CHARS = 1000

# Report every failed record, even when all of a batch fails: only those messages return
# to the queue, and the dead-letter queue takes them after the queue's maxReceiveCount.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def start_context() -> StartContext:
    """Clients and settings, built once per execution environment."""
    sagemaker = boto3.client("sagemaker")
    runs = RunsTable(os.environ["RUNS_TABLE"])
    cap = cap_from_env()
    return StartContext(
        s3=boto3.client("s3"),
        sagemaker=sagemaker,
        make_sns=sns_client,  # only a rejection publishes: no SNS client on the happy path
        runs=runs,
        topic_arn=os.environ["TOPIC_ARN"],
        pipeline_name=os.environ["PIPELINE_NAME"],
        limits=IntakeLimits.from_env(),
        spend=SpendLimits.from_env(),
        gate=None
        if cap is None
        else ConcurrencyGate(runs, cap, sagemaker, os.environ["PIPELINE_NAME"]),
        max_tries=max_tries_from_env(),
    )


@cache
def sns_client() -> object:
    """The SNS client for rejection notices, made when the first rejection needs it."""
    return boto3.client("sns")


@cache
def deferrer() -> Deferrer:
    """Puts uploads that found the gate full back on the start queue."""
    return Deferrer(boto3.client("sqs"), os.environ["START_QUEUE_URL"])


def _cause(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"[:CAUSE_CHARS]


def _receive_count(record: SQSRecord) -> int:
    try:
        return max(1, int((record.attributes or {}).get("ApproximateReceiveCount") or 1))
    except (TypeError, ValueError):
        return 1


def record_handler(record: SQSRecord) -> str:
    attempt = _receive_count(record)
    try:
        upload = upload_from_eventbridge(json.loads(record.body))
    except Exception as err:  # not an event at all: logged, then the queue's redrive policy
        logger.error(
            "error",
            extra={"message_id": record.message_id, "cause": _cause(err), "attempt": attempt},
        )
        raise
    if upload is None:
        logger.info("ignored: not an Object Created event", extra={"message_id": record.message_id})
        return "ignored"
    upload = replace(upload, attempt=attempt)
    try:
        outcome = start_run(start_context(), upload)
    except RetryLater as later:
        logger.warning(
            "throttled",
            extra={
                "key": later.key or upload.key,
                "run_id": later.run_id,
                "detail": str(later),
                "attempt": attempt,
            },
        )
        metrics.add_metric(name="StartsThrottled", unit=MetricUnit.Count, value=1)
        raise
    except GateFull as full:  # send the copy first: the upload is on the queue throughout
        # a screening drop that started members before the gate filled waits afresh
        # (foldline.intake.screen.ScreenProgress): its deferrals so far were not in vain
        waited = None if getattr(full, "started", 0) else record.raw_event.get("messageAttributes")
        delay, deferrals = deferrer().defer(record.body, waited)
        logger.info(
            "deferred",
            extra={
                "key": upload.key,
                "run_id": full.run_id,
                "slots_in_use": full.in_use,
                "cap": full.cap,
                "delay_s": delay,
                "deferrals": deferrals,
            },
        )
        metrics.add_metric(name="UploadsDeferred", unit=MetricUnit.Count, value=1)
        return "deferred"
    except Exception as err:  # S3 or SageMaker errors: the record is retried, then dead-lettered
        run_id = getattr(err, "run_id", None)
        max_tries = max_tries_from_env()
        last = max_tries is not None and attempt >= max_tries
        logger.error(
            "error",
            extra={
                "key": upload.key,
                "run_id": run_id,
                "cause": _cause(err),
                "attempt": attempt,
                "last_try": last,
            },
        )
        metrics.add_metric(name="StartErrors", unit=MetricUnit.Count, value=1)
        if last:
            try:
                after_last_try(start_context(), run_id)
            except Exception as cleanup:  # noqa: BLE001 - the first error is the one to retry
                logger.warning(
                    "could not free the slot", extra={"run_id": run_id, "cause": _cause(cleanup)}
                )
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
