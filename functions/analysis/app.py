"""analysis function: a pipeline execution Succeeded -> report, Experiments, notice.

Thin by design: parse the status event, call :func:`foldline.outcomes.succeeded.analyse_run`,
log and count. An event that is not a well-formed Succeeded execution event (or names
an execution foldline did not start) is logged and dropped. Powertools idempotency
(key: the execution ARN) makes a redelivered event return the first result without
touching anything. An exception (corrupt model output, SNS down) propagates:
EventBridge/Lambda retry the event, and once retries are spent the function's
on-failure destination (the notify function) reports that the analysis failed and
where the models are, or, where only the notice failed, sends the notice kept for it.
"""

from __future__ import annotations

import os
from functools import cache

import boto3
from aws_lambda_powertools import Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from botocore.config import Config

from foldline.events.observability import logger, metrics
from foldline.events.pipeline import SUCCEEDED, NotAPipelineEvent, parse_execution_event
from foldline.outcomes.succeeded import AnalysisContext, analyse_run, link_expiry_from_env
from foldline.outcomes.tracking import SageMakerExperimentsTracker
from foldline.runs.table import RunsTable

# X-Ray subsegments for the S3, SageMaker and SNS calls of a run's analysis. Only here:
# creating a Tracer costs about 0.2-0.35 s of a cold start (the X-Ray SDK), which the
# latency-sensitive start, notify and progress functions do without (Lambda's active
# tracing still records each of their invocations).
tracer = Tracer(service="analysis")
persistence = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
# The key is the execution ARN of a parsed event (analyse_once): an event without one is
# dropped before idempotency, not an IdempotencyKeyError.
idempotency = IdempotencyConfig(
    expires_after_seconds=24 * 3600,  # EventBridge redelivers within hours, not days
)


@cache
def analysis_context() -> AnalysisContext:
    """Clients and settings, built once per execution environment."""
    sagemaker = boto3.client("sagemaker")
    return AnalysisContext(
        # SigV4 for presigned report links (boto3 would sign SigV2 in us-east-1)
        s3=boto3.client("s3", config=Config(signature_version="s3v4")),
        sagemaker=sagemaker,
        sns=boto3.client("sns"),
        runs=RunsTable(os.environ["RUNS_TABLE"]),
        bucket=os.environ["BUCKET_NAME"],
        topic_arn=os.environ["TOPIC_ARN"],
        tracker=SageMakerExperimentsTracker(sagemaker, boto3.client("sagemaker-metrics")),
        link_expiry_s=link_expiry_from_env(),
    )


@idempotent_function(data_keyword_argument="key", config=idempotency, persistence_store=persistence)
def analyse_once(*, key: dict, event: dict) -> dict:
    """One analysis per execution: ``key`` (the execution ARN) is what idempotency hashes."""
    outcome = analyse_run(analysis_context(), parse_execution_event(event))
    logger.info(outcome.action, extra=outcome.log_fields())
    metrics.add_metric(
        name=f"Analysis{outcome.action.capitalize()}", unit=MetricUnit.Count, value=1
    )
    return outcome.log_fields()


def _ignored(reason: str, **fields: object) -> dict:
    logger.warning("ignored", extra={"reason": reason, **fields})
    return {"action": "ignored", "reason": reason}


@logger.inject_lambda_context(correlation_id_path="detail.pipelineExecutionArn")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: object) -> dict:
    idempotency.register_lambda_context(context)
    try:
        change = parse_execution_event(event)
    except NotAPipelineEvent as other:
        return _ignored(str(other))
    if change.status != SUCCEEDED:
        return _ignored(f"execution is {change.status}", status=change.status)
    try:
        return analyse_once(key={"execution_arn": change.execution_arn}, event=event)
    except NotAPipelineEvent as unknown:  # an execution SageMaker does not know
        return _ignored(str(unknown), execution_arn=change.execution_arn)
