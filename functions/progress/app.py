"""progress function: a pipeline step changed status -> ``steps.<StepName>`` in the runs table.

Thin by design: parse the step status event, call :func:`foldline.outcomes.progress.record_progress`,
log and count. Replays are harmless (the same event writes the same values; a late,
older status is ignored), so no idempotency store is needed. A malformed event, or one
for an execution foldline did not start, is logged and dropped.
"""

from __future__ import annotations

import os
from functools import cache

import boto3
from aws_lambda_powertools.metrics import MetricUnit

from foldline.events.observability import logger, metrics
from foldline.events.pipeline import NotAPipelineEvent, parse_step_event
from foldline.outcomes.progress import record_progress
from foldline.runs.table import RunsTable


@cache
def clients() -> tuple[RunsTable, object]:
    """The runs table and a SageMaker client, built once per execution environment."""
    return RunsTable(os.environ["RUNS_TABLE"]), boto3.client("sagemaker")


@logger.inject_lambda_context(correlation_id_path="detail.pipelineExecutionArn")
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    try:
        change = parse_step_event(event)
    except NotAPipelineEvent as other:
        logger.warning("ignored", extra={"reason": str(other)})
        return {"action": "ignored", "reason": str(other)}
    runs, sagemaker = clients()
    try:
        progress = record_progress(runs, sagemaker, change)
    except NotAPipelineEvent as unknown:  # an execution SageMaker does not know
        logger.warning("ignored", extra={"reason": str(unknown)})
        return {"action": "ignored", "reason": str(unknown)}
    logger.info(progress.action, extra=progress.log_fields())
    if progress.cache_hit:
        metrics.add_metric(name="StepCacheHits", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=f"Steps{change.status}", unit=MetricUnit.Count, value=1)
    return progress.log_fields()
