"""moto's SageMaker pipelines, extended in-process so the local executor can run them.

moto 5.2.5 records executions but runs nothing: a new execution is ``Succeeded`` at
once, ``FailureReason`` is always empty, the ClientRequestToken does not make a start
idempotent, and ListPipelineExecutionSteps / StopPipelineExecution are not implemented.
The local runtime runs moto's server in its own process (a thread), so these patches
change what every boto3 client — the handlers' included — sees through the server:

- new executions start ``Executing`` (the executor sets the final status);
- StartPipelineExecution with a ClientRequestToken already used returns that execution;
- DescribePipelineExecution / ListPipelineExecutions report the execution's real
  FailureReason and end time;
- ListPipelineExecutionSteps answers from the steps the executor records on the
  execution object (:func:`set_steps`);
- StopPipelineExecution marks an Executing execution ``Stopping`` (the executor stops
  its running steps and ends it ``Stopped``).

:func:`install` is idempotent; moto's backends are process-global, like these patches.
"""

from __future__ import annotations

import datetime as _dt
import logging
import threading
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult
from moto.sagemaker import models as _models
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import get_pipeline_execution_from_arn

from foldline.spec.statuses import EXECUTING, STOPPING

_lock = threading.RLock()
_installed = False
#: called with each new execution's ARN as StartPipelineExecution creates it
_start_listeners: list[Callable[[str], None]] = []


def add_start_listener(listener: Callable[[str], None]) -> None:
    """Have ``listener(arn)`` called for each new execution: the executor starts it at
    once instead of at its next poll, as the service would."""
    with _lock:
        _start_listeners.append(listener)


def remove_start_listener(listener: Callable[[str], None]) -> None:
    with _lock:
        if listener in _start_listeners:
            _start_listeners.remove(listener)


def backend(account_id: str, region: str) -> _models.SageMakerModelBackend:
    return _models.sagemaker_backends[account_id][region]


def execution_object(account_id: str, region: str, arn: str) -> _models.FakePipelineExecution:
    """moto's own record of an execution (the server reports what is set on it)."""
    return get_pipeline_execution_from_arn(backend(account_id, region).pipelines, arn)


def set_status(
    account_id: str, region: str, arn: str, status: str, failure_reason: str | None = None
) -> None:
    execution = execution_object(account_id, region, arn)
    with _lock:
        now = _models.utcnow()
        execution.pipeline_execution_status = status
        execution.pipeline_execution_failure_reason = failure_reason
        execution.last_modified_time = now
        if status not in (EXECUTING, STOPPING):
            execution.foldline_end_time = now


def set_steps(account_id: str, region: str, arn: str, steps: list[dict[str, Any]]) -> None:
    """Record the execution's steps as ListPipelineExecutionSteps returns them."""
    execution = execution_object(account_id, region, arn)
    with _lock:
        execution.foldline_steps = [dict(step) for step in steps]


def _patched_execution_init(original):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.pipeline_execution_status = EXECUTING
        self.pipeline_execution_failure_reason = None
        self.foldline_steps = []
        self.foldline_end_time = None

    return __init__


def _patched_start(original):
    def start_pipeline_execution(self, pipeline_name: str, *args: Any, **kwargs: Any):
        token = kwargs.get("client_request_token") if kwargs else None
        if token is None and len(args) >= 5:
            token = args[4]
        with _lock:
            pipeline = self.pipelines.get(pipeline_name)
            if token and pipeline is not None:
                for arn, execution in pipeline.pipeline_executions.items():
                    if execution.client_request_token == token:
                        return {"PipelineExecutionArn": arn}
            started = original(self, pipeline_name, *args, **kwargs)
            listeners = list(_start_listeners)
        for listener in listeners:
            try:
                listener(started["PipelineExecutionArn"])
            except Exception:
                logging.getLogger("foldline.local").exception("execution start listener failed")
        return started

    return start_pipeline_execution


def _patched_describe(original):
    def describe_pipeline_execution(self, pipeline_execution_arn: str) -> dict[str, Any]:
        response = original(self, pipeline_execution_arn)
        execution = get_pipeline_execution_from_arn(self.pipelines, pipeline_execution_arn)
        reason = execution.pipeline_execution_failure_reason
        if reason:
            response["FailureReason"] = reason
        else:
            response.pop("FailureReason", None)
        return response

    return describe_pipeline_execution


def _patched_list(original):
    def list_pipeline_executions(self, pipeline_name: str) -> dict[str, Any]:
        response = original(self, pipeline_name)
        pipeline = self.pipelines[pipeline_name]
        for summary in response["PipelineExecutionSummaries"]:
            execution = pipeline.pipeline_executions[summary["PipelineExecutionArn"]]
            reason = execution.pipeline_execution_failure_reason
            if reason:
                summary["PipelineExecutionFailureReason"] = reason
            else:
                summary.pop("PipelineExecutionFailureReason", None)
        return response

    return list_pipeline_executions


def _list_pipeline_execution_steps(self: SageMakerResponse) -> ActionResult:
    arn = self._get_param("PipelineExecutionArn")
    execution = get_pipeline_execution_from_arn(self.sagemaker_backend.pipelines, arn)
    with _lock:
        steps = [dict(step) for step in getattr(execution, "foldline_steps", [])]
    epoch = _dt.datetime.min.replace(tzinfo=_dt.UTC)
    steps.sort(
        key=lambda s: s.get("StartTime") or epoch,
        reverse=self._get_param("SortOrder", "Descending") == "Descending",
    )
    return ActionResult({"PipelineExecutionSteps": steps})


def _stop_pipeline_execution(self: SageMakerResponse) -> ActionResult:
    arn = self._get_param("PipelineExecutionArn")
    execution = get_pipeline_execution_from_arn(self.sagemaker_backend.pipelines, arn)
    with _lock:
        if execution.pipeline_execution_status == EXECUTING:
            execution.pipeline_execution_status = STOPPING
            execution.last_modified_time = _models.utcnow()
    return ActionResult({"PipelineExecutionArn": arn})


_originals: list[tuple[type, str, Any]] = []


def _patch(cls: type, name: str, value: Any) -> None:
    _originals.append((cls, name, cls.__dict__.get(name)))
    setattr(cls, name, value)


def install() -> None:
    """Patch moto's SageMaker backend and responses (once per process, until uninstall)."""
    global _installed
    with _lock:
        if _installed:
            return
        execution = _models.FakePipelineExecution
        _patch(execution, "__init__", _patched_execution_init(execution.__init__))
        backend_cls = _models.SageMakerModelBackend
        for name, wrap in (
            ("start_pipeline_execution", _patched_start),
            ("describe_pipeline_execution", _patched_describe),
            ("list_pipeline_executions", _patched_list),
        ):
            _patch(backend_cls, name, wrap(getattr(backend_cls, name)))
        _patch(SageMakerResponse, "list_pipeline_execution_steps", _list_pipeline_execution_steps)
        _patch(SageMakerResponse, "stop_pipeline_execution", _stop_pipeline_execution)
        _installed = True


def uninstall() -> None:
    """Give moto back its own behaviour (other moto users in the same process)."""
    global _installed
    with _lock:
        while _originals:
            cls, name, original = _originals.pop()
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        _installed = False


# -- training jobs: the executor's record of each step's job, as DescribeTrainingJob shows it


def create_training_job(account_id: str, region: str, name: str, arguments: dict[str, Any]) -> str:
    """Register a step's training job with moto (status InProgress); returns its ARN."""
    job = backend(account_id, region).create_training_job(
        training_job_name=name,
        hyper_parameters={k: str(v) for k, v in (arguments.get("HyperParameters") or {}).items()},
        algorithm_specification=dict(arguments.get("AlgorithmSpecification") or {}),
        role_arn=arguments.get("RoleArn", ""),
        input_data_config=arguments.get("InputDataConfig") or [],
        output_data_config=arguments.get("OutputDataConfig") or {},
        resource_config=arguments.get("ResourceConfig") or {},
        vpc_config=arguments.get("VpcConfig"),
        stopping_condition=arguments.get("StoppingCondition") or {},
        tags=arguments.get("Tags") or [],
        enable_network_isolation=bool(arguments.get("EnableNetworkIsolation", False)),
        enable_inter_container_traffic_encryption=bool(
            arguments.get("EnableInterContainerTrafficEncryption", False)
        ),
        enable_managed_spot_training=bool(arguments.get("EnableManagedSpotTraining", False)),
        checkpoint_config=arguments.get("CheckpointConfig"),
        debug_hook_config=arguments.get("DebugHookConfig"),
        debug_rule_configurations=arguments.get("DebugRuleConfigurations"),
        tensor_board_output_config=arguments.get("TensorBoardOutputConfig"),
        experiment_config=arguments.get("ExperimentConfig"),
    )
    with _lock:
        job.training_job_status = "InProgress"
        job.secondary_status = "Training"
        job.training_end_time = None
    return job.arn


def set_training_job_status(
    account_id: str, region: str, name: str, status: str, failure_reason: str | None = None
) -> None:
    """Completed / Failed / Stopped, with the FailureReason SageMaker would report."""
    job = backend(account_id, region).training_jobs[name]
    with _lock:
        now = _models.utcnow()
        job.training_job_status = status
        job.secondary_status = status
        job.training_end_time = now
        job.last_modified_time = now
        if failure_reason:
            job.failure_reason = failure_reason
