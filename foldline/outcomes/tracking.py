"""Experiment tracking: one record per run, behind a small interface.

:class:`RunTracker` is what the analysis path calls. :class:`SageMakerExperimentsTracker`
implements it with SageMaker Experiments through boto3 (the sagemaker SDK is too heavy
for a Lambda): one experiment per target, one trial per pipeline execution, one trial
component holding the run's parameters, metrics (``sagemaker-metrics``
BatchPutMetrics) and artefacts (S3 URIs). SageMaker is moving tracking to managed
MLflow; a tracker for it implements the same ``log_run``.

Every call is create-if-absent, so a retried analysis logs the same run again without
error: AWS refuses a duplicate name (ValidationException "... already exists"), moto
overwrites. Parameters are always sent whole, so UpdateTrialComponent's semantics
(AWS merges the map, moto replaces it) give the same result.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from botocore.exceptions import ClientError

__all__ = ["RunTracker", "SageMakerExperimentsTracker", "TrackedRun", "experiment_name"]

_NAME_MAX = 120  # experiment, trial and trial component names
_METRICS_PER_CALL = 10  # BatchPutMetrics takes at most 10 data points


@dataclass(frozen=True)
class TrackedRun:
    """What is recorded about one run."""

    target: str
    run_id: str
    execution_arn: str
    parameters: dict[str, str | int | float]  # the pipeline parameters, engine versions …
    metrics: dict[str, float]  # name -> value (TM-score, RMSD, mean pLDDT, runtimes)
    artifacts: dict[str, str]  # name -> S3 URI (report, models)
    inputs: dict[str, str] = field(default_factory=dict)  # name -> S3 URI (the FASTA)
    start_time: _dt.datetime | None = None
    end_time: _dt.datetime | None = None


@dataclass(frozen=True)
class TrackedRunRef:
    """Where a run was recorded."""

    experiment: str
    trial: str
    trial_component: str


class RunTracker(Protocol):
    def log_run(self, run: TrackedRun) -> TrackedRunRef: ...


def _name(text: str) -> str:
    """A valid Experiments name: ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}``."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:_NAME_MAX].strip("-")
    return name or "unnamed"


def experiment_name(target: str) -> str:
    return _name(f"foldline-{target}")


def _already_exists(err: ClientError) -> bool:
    error = err.response["Error"]
    return error["Code"] in ("ValidationException", "ResourceInUse") and (
        "already exist" in error.get("Message", "").lower()
        or "already associated" in error.get("Message", "").lower()
    )


_MEDIA_TYPES = (
    (".html", "text/html"),
    (".json", "application/json"),
    (".tar.gz", "application/gzip"),
    (".pdb", "chemical/x-pdb"),
    (".fasta", "text/x-fasta"),
    ("/", "application/x-directory"),
)


def _media_type(uri: str) -> str:
    for suffix, media in _MEDIA_TYPES:
        if uri.endswith(suffix):
            return media
    return "application/octet-stream"


def _parameter(value: str | float) -> dict[str, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"NumberValue": float(value)}
    return {"StringValue": str(value)[:2500]}


@dataclass
class SageMakerExperimentsTracker:
    """SageMaker Experiments through boto3 (``sagemaker`` and ``sagemaker-metrics``)."""

    sagemaker: Any
    sagemaker_metrics: Any

    def _create(self, call: Any, **kwargs: Any) -> bool:
        """Run a Create* call; False when the resource already existed."""
        try:
            call(**kwargs)
        except ClientError as err:
            if _already_exists(err):
                return False
            raise
        return True

    def log_run(self, run: TrackedRun) -> TrackedRunRef:
        experiment = experiment_name(run.target)
        trial = _name(run.run_id)
        component = _name(f"{run.run_id}-comparison")
        self._create(
            self.sagemaker.create_experiment,
            ExperimentName=experiment,
            DisplayName=experiment,
            Description=f"foldline runs for target {run.target}"[:3072],
        )
        self._create(
            self.sagemaker.create_trial,
            TrialName=trial,
            ExperimentName=experiment,
            DisplayName=trial,
        )
        details: dict[str, Any] = {
            "Status": {"PrimaryStatus": "Completed", "Message": run.execution_arn[:1024]},
            "Parameters": {k[:256]: _parameter(v) for k, v in run.parameters.items()},
            "InputArtifacts": {
                k[:64]: {"Value": v, "MediaType": _media_type(v)} for k, v in run.inputs.items()
            },
            "OutputArtifacts": {
                k[:64]: {"Value": v, "MediaType": _media_type(v)} for k, v in run.artifacts.items()
            },
        }
        if run.start_time:
            details["StartTime"] = run.start_time
        if run.end_time:
            details["EndTime"] = run.end_time
        created = self._create(
            self.sagemaker.create_trial_component,
            TrialComponentName=component,
            DisplayName=component,
            **details,
        )
        if not created:
            self.sagemaker.update_trial_component(TrialComponentName=component, **details)
        try:
            self.sagemaker.associate_trial_component(TrialComponentName=component, TrialName=trial)
        except ClientError as err:
            if not _already_exists(err):
                raise
        self._put_metrics(component, run.metrics, run.end_time)
        return TrackedRunRef(experiment, trial, component)

    def _put_metrics(
        self, component: str, metrics: dict[str, float], when: _dt.datetime | None
    ) -> None:
        stamp = when or _dt.datetime.now(_dt.UTC)
        data = [
            {"MetricName": name[:255], "Timestamp": stamp, "Step": 0, "Value": float(value)}
            for name, value in metrics.items()
            if value is not None
        ]
        for start in range(0, len(data), _METRICS_PER_CALL):
            response = self.sagemaker_metrics.batch_put_metrics(
                TrialComponentName=component, MetricData=data[start : start + _METRICS_PER_CALL]
            )
            if response.get("Errors"):
                raise RuntimeError(f"BatchPutMetrics refused metrics: {response['Errors']}")
