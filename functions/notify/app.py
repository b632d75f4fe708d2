"""notify function: a run Failed or Stopped, or its analysis gave up -> one notice.

Two kinds of event arrive: the pipeline's execution status change (Failed, Stopped),
and the analysis function's on-failure destination record (the Succeeded event it could
not analyse, in ``requestPayload``, with the error in ``responsePayload``). Thin by
design: parse, call :mod:`foldline.outcomes.failed`, log and count. Powertools idempotency
(key: the kind of notice and the execution ARN) keeps a redelivered event from
notifying twice.
"""

from __future__ import annotations

import os
from functools import cache

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from foldline.outcomes.failed import NotifyContext, notify_analysis_failed, notify_run_ended
from foldline.events.observability import logger, metrics
from foldline.events.pipeline import FAILED, STOPPED, NotAPipelineEvent, parse_execution_event
from foldline.runs.table import RunsTable

persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
idempotency = IdempotencyConfig(expires_after_seconds=24 * 3600)


@cache
def notify_context() -> NotifyContext:
    """Clients and settings, built once per execution environment."""
    return NotifyContext(
        sagemaker=boto3.client("sagemaker"),
        sns=boto3.client("sns"),
        s3=boto3.client("s3"),
        runs=RunsTable(os.environ["RUNS_TABLE"]),
        topic_arn=os.environ["TOPIC_ARN"],
        bucket=os.environ["BUCKET_NAME"],
    )


def _destination_error(record: dict) -> tuple[str, int | None]:
    """The error and attempt count from a Lambda on-failure destination record."""
    response = record.get("responsePayload") or {}
    error = response.get("errorMessage") or record.get("requestContext", {}).get("condition")
    kind = response.get("errorType")
    attempts = record.get("requestContext", {}).get("approximateInvokeCount")
    return (f"{kind}: {error}" if kind else str(error or "unknown error")), attempts


@idempotent_function(data_keyword_argument="key", config=idempotency, persistence_store=persistence)
def notify_once(*, key: dict, event: dict) -> dict:
    """One notice per (kind, execution): ``key`` is what idempotency hashes."""
    if key["kind"] == "analysis-failed":
        error, attempts = _destination_error(event)
        change = parse_execution_event(event["requestPayload"])
        outcome = notify_analysis_failed(notify_context(), change, error=error, attempts=attempts)
    else:
        outcome = notify_run_ended(notify_context(), parse_execution_event(event))
    logger.info(outcome.action, extra=outcome.log_fields())
    metrics.add_metric(name=f"Notices{outcome.status}", unit=MetricUnit.Count, value=1)
    return outcome.log_fields()


@logger.inject_lambda_context(
    correlation_id_path="detail.pipelineExecutionArn || requestPayload.detail.pipelineExecutionArn"
)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    idempotency.register_lambda_context(context)
    if "requestPayload" in event:  # the analysis function's on-failure destination
        kind, inner = "analysis-failed", event["requestPayload"]
    else:
        kind, inner = "ended", event
    try:
        change = parse_execution_event(inner)
    except NotAPipelineEvent as other:
        logger.warning("ignored", extra={"reason": str(other)})
        return {"action": "ignored", "reason": str(other)}
    if kind == "ended" and change.status not in (FAILED, STOPPED):
        logger.warning("ignored", extra={"status": change.status})
        return {"action": "ignored", "reason": f"execution is {change.status}"}
    return notify_once(key={"kind": kind, "execution_arn": change.execution_arn}, event=event)
