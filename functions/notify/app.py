"""notify function: a run Failed or Stopped, or its analysis gave up -> one notice.

Two kinds of event arrive: the pipeline's execution status change (Failed, Stopped),
and the analysis function's on-failure destination record (the Succeeded event it could
not analyse, in ``requestPayload``, with the error in ``responsePayload``). Thin by
design: parse, call :mod:`foldline.outcomes.failed`, log and count. Powertools idempotency
(key: the kind of notice and the execution ARN) keeps a redelivered event from
notifying twice. An event that is neither (malformed, another kind, an execution
foldline did not start) is logged and dropped, never retried.
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

from foldline.events.observability import logger, metrics
from foldline.events.pipeline import (
    FAILED,
    STOPPED,
    SUCCEEDED,
    NotAPipelineEvent,
    parse_execution_event,
)
from foldline.outcomes.failed import NotifyContext, notify_analysis_failed, notify_run_ended
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
    response = record.get("responsePayload")
    response = response if isinstance(response, dict) else {}
    context = record.get("requestContext")
    context = context if isinstance(context, dict) else {}
    error = response.get("errorMessage") or context.get("condition")
    kind = response.get("errorType")
    attempts = context.get("approximateInvokeCount")
    attempts = attempts if isinstance(attempts, int) and not isinstance(attempts, bool) else None
    return (f"{kind}: {error}" if kind else str(error or "unknown error"))[:2000], attempts


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


def _ignored(reason: str, **fields: object) -> dict:
    logger.warning("ignored", extra={"reason": reason, **fields})
    return {"action": "ignored", "reason": reason}


@logger.inject_lambda_context(
    correlation_id_path="detail.pipelineExecutionArn || requestPayload.detail.pipelineExecutionArn"
)
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    idempotency.register_lambda_context(context)
    if isinstance(event, dict) and "requestPayload" in event:  # the analysis' on-failure record
        kind, inner = "analysis-failed", event["requestPayload"]
    else:
        kind, inner = "ended", event
    try:
        change = parse_execution_event(inner)
    except NotAPipelineEvent as other:
        return _ignored(str(other), kind=kind)
    wanted = (FAILED, STOPPED) if kind == "ended" else (SUCCEEDED,)
    if change.status not in wanted:
        return _ignored(f"execution is {change.status}", status=change.status, kind=kind)
    try:
        return notify_once(key={"kind": kind, "execution_arn": change.execution_arn}, event=event)
    except NotAPipelineEvent as unknown:  # an execution SageMaker does not know
        return _ignored(str(unknown), execution_arn=change.execution_arn, kind=kind)
