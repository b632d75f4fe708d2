"""SageMaker Pipelines status events (EventBridge, source ``aws.sagemaker``) as small records.

Two kinds reach foldline: the execution status change (Succeeded -> analysis, Failed and
Stopped -> notify) and the step status change (-> progress). Their ``detail`` fields are
as AWS documents them (SageMaker's EventBridge events, "SageMaker Model Building
Pipeline" execution and step status changes). The execution event carries the
display name, which the start path set to the run id; the step event does not, so the
run id comes from DescribePipelineExecution.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from foldline.spec.statuses import (  # noqa: F401 - execution and step statuses, re-exported
    COMPLETED_WITH_FAILURES,
    ENDED_STATUSES,
    EXECUTING,
    FAILED,
    FINAL_STEP_STATUSES,
    STOPPED,
    STOPPING,
    SUCCEEDED,
)

SOURCE = "aws.sagemaker"
EXECUTION_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Status Change"
STEP_STATUS_CHANGE = "SageMaker Model Building Pipeline Execution Step Status Change"


class NotAPipelineEvent(ValueError):
    """The event is not the SageMaker pipeline event this handler expects."""


class UnknownExecution(NotAPipelineEvent):
    """The event names an execution SageMaker does not know, or one foldline did not start."""


#: ``arn:<partition>:sagemaker:<region>:<account>:pipeline/<name>/execution/<id>``
_EXECUTION_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:pipeline/[^/\s]+/execution/[^/\s]+$"
)
_SHOWN = 80  # characters of a bad value quoted in a reason


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _time(value: object) -> _dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        moment = _dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise NotAPipelineEvent(f"not a time: {_shown(value)}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)


def _text(detail: dict, name: str, *, required: bool = False) -> str | None:
    """A string field of ``detail`` (None where absent and not required)."""
    value = detail.get(name)
    if value is None or value == "":
        if required:
            raise NotAPipelineEvent(f"event detail has no {name}")
        return None
    if not isinstance(value, str):
        raise NotAPipelineEvent(f"event detail's {name} is not a string: {_shown(value)}")
    return value


def _mapping(detail: dict, name: str) -> dict:
    value = detail.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NotAPipelineEvent(f"event detail's {name} is not an object: {_shown(value)}")
    return value


def _check(event: object, detail_type: str) -> dict:
    """The event's ``detail``, once the event is the expected kind and well formed.

    Anything else (not a JSON object, another source or kind, a detail without an
    execution ARN, fields of the wrong type) raises :class:`NotAPipelineEvent`, which the
    handlers log and drop: a malformed event is never worth a retry.
    """
    if not isinstance(event, dict):
        raise NotAPipelineEvent(f"not an event (a JSON object): {_shown(event)}")
    if event.get("source") != SOURCE or event.get("detail-type") != detail_type:
        raise NotAPipelineEvent(
            f"expected {SOURCE} {detail_type!r}, got "
            f"{_shown(event.get('source'))} {_shown(event.get('detail-type'))}"
        )
    detail = event.get("detail")
    if not isinstance(detail, dict):
        raise NotAPipelineEvent(f"event has no detail object: {_shown(detail)}")
    arn = _text(detail, "pipelineExecutionArn", required=True)
    if not _EXECUTION_ARN.match(arn):
        raise NotAPipelineEvent(f"not a pipeline execution ARN: {_shown(arn)}")
    _text(detail, "pipelineArn")
    return detail


def execution_id(execution_arn: str) -> str:
    """``arn:…:pipeline/<name>/execution/<id>`` -> ``<id>``."""
    return execution_arn.rsplit("/", 1)[-1]


def pipeline_name_from_arn(pipeline_arn: str) -> str:
    """``arn:…:pipeline/<name>`` (or an execution ARN) -> ``<name>``."""
    resource = pipeline_arn.split(":", 5)[-1]  # pipeline/<name>[/execution/<id>]
    return resource.split("/")[1]


def region_from_arn(arn: str) -> str:
    return arn.split(":")[3]


@dataclass(frozen=True)
class ExecutionStatusChange:
    """One "Execution Status Change" event."""

    execution_arn: str
    pipeline_arn: str
    status: str
    previous_status: str | None
    display_name: str | None
    description: str | None
    start_time: _dt.datetime | None
    end_time: _dt.datetime | None
    event_id: str | None = None

    @property
    def region(self) -> str:
        return region_from_arn(self.execution_arn)


@dataclass(frozen=True)
class StepStatusChange:
    """One "Execution Step Status Change" event."""

    execution_arn: str
    pipeline_arn: str
    step_name: str
    step_type: str | None
    status: str
    previous_status: str | None
    start_time: _dt.datetime | None
    end_time: _dt.datetime | None
    failure_reason: str | None
    #: the execution whose cached result this step reused (cache hit), else None
    cache_source_execution_arn: str | None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def cache_hit(self) -> bool:
        return self.cache_source_execution_arn is not None

    @property
    def training_job_name(self) -> str | None:
        arn = (self.metadata.get("trainingJob") or {}).get("arn")
        return arn.rsplit("/", 1)[-1] if arn else None


def _pipeline_arn(detail: dict) -> str:
    """The event's pipeline ARN, or the execution ARN's pipeline part where it is absent."""
    return detail.get("pipelineArn") or detail["pipelineExecutionArn"].rsplit("/execution/", 1)[0]


def parse_execution_event(event: object) -> ExecutionStatusChange:
    detail = _check(event, EXECUTION_STATUS_CHANGE)
    event_id = event.get("id")  # type: ignore[union-attr]  (_check: a dict)
    return ExecutionStatusChange(
        execution_arn=detail["pipelineExecutionArn"],
        pipeline_arn=_pipeline_arn(detail),
        status=_text(detail, "currentPipelineExecutionStatus", required=True),
        previous_status=_text(detail, "previousPipelineExecutionStatus"),
        display_name=_text(detail, "pipelineExecutionDisplayName"),
        description=_text(detail, "pipelineExecutionDescription"),
        start_time=_time(detail.get("executionStartTime")),
        end_time=_time(detail.get("executionEndTime")),
        event_id=event_id if isinstance(event_id, str) else None,
    )


def parse_step_event(event: object) -> StepStatusChange:
    detail = _check(event, STEP_STATUS_CHANGE)
    cache = _mapping(detail, "cacheHitResult")
    metadata = _mapping(detail, "metadata")
    job = metadata.get("trainingJob")
    if job is not None and not (isinstance(job, dict) and isinstance(job.get("arn", ""), str)):
        raise NotAPipelineEvent(f"event detail's metadata.trainingJob is malformed: {_shown(job)}")
    source = cache.get("sourcePipelineExecutionArn")
    return StepStatusChange(
        execution_arn=detail["pipelineExecutionArn"],
        pipeline_arn=_pipeline_arn(detail),
        step_name=_text(detail, "stepName", required=True),
        step_type=_text(detail, "stepType"),
        status=_text(detail, "currentStepStatus", required=True),
        previous_status=_text(detail, "previousStepStatus"),
        start_time=_time(detail.get("stepStartTime")),
        end_time=_time(detail.get("stepEndTime")),
        failure_reason=_text(detail, "failureReason"),
        cache_source_execution_arn=source if isinstance(source, str) and source else None,
        metadata=metadata,
    )


def run_id_of(sagemaker: Any, execution_arn: str, display_name: str | None = None) -> str:
    """The run id of an execution: its display name (set by the start path to the run id).

    The execution event carries the display name; for the step event it is looked up
    (and remembered: an execution's display name never changes).
    """
    if display_name:
        return display_name
    return _display_name(sagemaker, execution_arn)


#: SageMaker's answers for an execution ARN it does not know
_UNKNOWN_CODES = frozenset({"ResourceNotFound", "ValidationException"})


@lru_cache(maxsize=256)
def _display_name(sagemaker: Any, execution_arn: str) -> str:
    try:
        described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution_arn)
    except ClientError as err:  # throttling and the like propagate: worth a retry
        if err.response.get("Error", {}).get("Code") in _UNKNOWN_CODES:
            raise UnknownExecution(f"SageMaker does not know {execution_arn}") from None
        raise
    name = described.get("PipelineExecutionDisplayName")
    if not name:
        raise UnknownExecution(f"{execution_arn} has no display name: not started by foldline?")
    return name


class StepsUnavailable(RuntimeError):
    """ListPipelineExecutionSteps could not be called (e.g. moto, which lacks it)."""


def list_execution_steps(sagemaker: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The execution's steps as ListPipelineExecutionSteps reports them, all pages.

    Raises :class:`StepsUnavailable` where the API is missing (moto, so local mode) or
    refuses; callers carry on with what the event told them.
    """
    steps: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"PipelineExecutionArn": execution_arn, "SortOrder": "Ascending"}
    try:
        while True:
            page = sagemaker.list_pipeline_execution_steps(**kwargs)
            steps.extend(page.get("PipelineExecutionSteps", []))
            if not page.get("NextToken"):
                return steps
            kwargs["NextToken"] = page["NextToken"]
    except NotImplementedError as missing:  # moto raises this in-process
        raise StepsUnavailable(str(missing)) from missing
    except (ClientError, BotoCoreError) as err:
        raise StepsUnavailable(str(err)) from err


def step_training_job(step: dict[str, Any]) -> str | None:
    """The training job name in a ListPipelineExecutionSteps entry, if it ran one."""
    arn = ((step.get("Metadata") or {}).get("TrainingJob") or {}).get("Arn")
    return arn.rsplit("/", 1)[-1] if arn else None
