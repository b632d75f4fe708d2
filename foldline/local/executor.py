"""The local pipeline executor: runs each new execution's steps, as SageMaker would.

moto records a StartPipelineExecution and (with :mod:`foldline.local.moto_sagemaker`)
leaves it ``Executing``. The executor picks each new execution up, reads its definition
and parameters through the SageMaker API (DescribePipelineDefinitionForExecution,
ListPipelineParametersForExecution), and runs the steps in dependency order — steps with
no dependency between them at the same time. A training step runs as
:mod:`foldline.local.training` describes. Every status change is recorded where the
SageMaker API reports it (the execution, its ListPipelineExecutionSteps entries, the
step's training job) and published as the EventBridge event SageMaker sends, so the
template's rules route it to the analysis, notify and progress functions.

A step given an image (``foldline local run --containers``) runs as ``docker run IMAGE
train``; its training job's ``AlgorithmSpecification.TrainingImage`` is that image, pinned
to its id, so DescribeTrainingJob names what ran, and SageMaker's step cache (which
compares the image) reuses only a run of that very image.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import json
import logging
import os
import queue
import random
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foldline.events.pipeline import EXECUTION_STATUS_CHANGE, SOURCE, STEP_STATUS_CHANGE
from foldline.local import moto_sagemaker as msm
from foldline.local import training
from foldline.local.cloud import ACCOUNT_ID, LocalCloud
from foldline.local.containers import StepImage
from foldline.local.expressions import (
    ExecutionValues,
    UnsupportedExpression,
    dependencies_of_definition,
    evaluate,
    parameter_values,
)
from foldline.local.step_cache import CachedStep, StepCache
from foldline.local.training import StepStopped, TrainingJob
from foldline.spec import layout
from foldline.spec.parameters import step_by_name
from foldline.spec.statuses import (
    EXECUTING,
    FAILED,
    JOB_COMPLETED,
    STARTING,
    STOPPED,
    SUCCEEDED,
)
from foldline.steps.msa_lease import LEASE_S_ENV as MSA_LEASE_S_ENV
from foldline.steps.msa_lease import POLL_S_ENV as MSA_LEASE_POLL_S_ENV

log = logging.getLogger("foldline.local.executor")

STEP_CACHE_FILE = "step-cache.json"
#: every local job's environment, below the pipeline's own and --job-env: an MSA job that
#: waits for another's search of the same chains looks every second (one machine, no
#: request costs), where the cloud's look every ten, and a search lease whose job died
#: lapses within a minute (renewed every 20 s while its search runs)
LOCAL_JOB_ENV = {MSA_LEASE_POLL_S_ENV: "1", MSA_LEASE_S_ENV: "60"}

#: the execution FailureReason SageMaker reports when a step failed
STEP_FAILURE = "Step failure: One or multiple steps failed."


def _iso(moment: _dt.datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _in_image(arguments: dict[str, Any], image: StepImage) -> dict[str, Any]:
    """The job's arguments with the local image as its TrainingImage."""
    spec = {**(arguments.get("AlgorithmSpecification") or {}), "TrainingImage": image.pinned}
    return {**arguments, "AlgorithmSpecification": spec}


@dataclass
class StepRun:
    """One step of one execution, as ListPipelineExecutionSteps reports it."""

    name: str
    type: str
    spec: dict
    depends_on: set[str]
    status: str = "NotStarted"
    start_time: _dt.datetime | None = None
    end_time: _dt.datetime | None = None
    failure_reason: str | None = None
    training_job_arn: str | None = None
    properties: dict = field(default_factory=dict)
    cache_source: str | None = None  # execution whose result a cache hit reused

    def api(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "StepName": self.name,
            "StepStatus": self.status,
            "AttemptCount": 1,
        }
        if self.spec.get("DisplayName"):
            entry["StepDisplayName"] = self.spec["DisplayName"]
        if self.spec.get("Description"):
            entry["StepDescription"] = self.spec["Description"]
        if self.start_time:
            entry["StartTime"] = self.start_time
        if self.end_time:
            entry["EndTime"] = self.end_time
        if self.failure_reason:
            entry["FailureReason"] = self.failure_reason
        if self.training_job_arn:
            entry["Metadata"] = {"TrainingJob": {"Arn": self.training_job_arn}}
        if self.cache_source:
            entry["CacheHitResult"] = {"SourcePipelineExecutionArn": self.cache_source}
        return entry


@dataclass
class ExecutionRun:
    arn: str
    pipeline_arn: str
    display_name: str
    description: str
    start_time: _dt.datetime
    steps: dict[str, StepRun]
    status: str = EXECUTING


class PipelineExecutor:
    """Runs the executions of the template's pipelines, one thread per execution."""

    def __init__(
        self,
        cloud: LocalCloud,
        work_dir: Path,
        databases: Path,
        *,
        num_cpus: int | None = None,
        job_env: dict[str, str] | None = None,
        images: dict[str, StepImage] | None = None,
        on_change: Callable[[ExecutionRun, StepRun | None], None] | None = None,
    ):
        self.cloud = cloud
        self.work_dir = Path(work_dir)
        self.databases = Path(databases).resolve()
        self.num_cpus = num_cpus
        self.job_env = dict(job_env or {})
        #: step name -> the image it runs in; steps not named run as local processes
        self.images = dict(images or {})
        self.on_change = on_change
        self.runs: dict[str, ExecutionRun] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._pool = cf.ThreadPoolExecutor(max_workers=8, thread_name_prefix="foldline-exec")
        self._futures: list[cf.Future] = []
        #: SageMaker's step cache; kept beside the S3 state its entries point into
        self.step_cache = StepCache(self.work_dir / "state" / STEP_CACHE_FILE)
        self._events: queue.Queue[dict | None] = queue.Queue()
        self._publisher = threading.Thread(
            target=self._publish_events, daemon=True, name="foldline-events"
        )
        self._publisher.start()
        msm.add_start_listener(self._on_start)

    def _client(self, service: str) -> Any:
        # one client per service for every execution thread (LocalCloud shares them)
        return self.cloud.client(service)

    # -- picking executions up ---------------------------------------------------------------

    def poll_once(self) -> int:
        """Start the executions the start listener missed (none, normally)."""
        started = 0
        for pipeline in self.cloud.stack.pipelines():
            summaries = self._client("sagemaker").list_pipeline_executions(
                PipelineName=pipeline.name
            )
            for summary in summaries["PipelineExecutionSummaries"]:
                if summary["PipelineExecutionStatus"] == EXECUTING:
                    started += self._pick_up(summary["PipelineExecutionArn"])
        return started

    def _on_start(self, arn: str) -> None:
        """StartPipelineExecution just made ``arn``: run it now, not at the next poll."""
        region, pipeline = arn.split(":")[3], arn.split("/")[1]
        names = {p.name.lower() for p in self.cloud.stack.pipelines()}
        if region == self.cloud.region and pipeline.lower() in names:
            self._pick_up(arn)

    def _pick_up(self, arn: str) -> int:
        with self._lock:
            if arn in self._seen or self._closing.is_set():
                return 0
            try:
                future = self._pool.submit(self._run_safely, arn)
            except RuntimeError:  # shutting down: the pool takes no new work
                return 0
            self._seen.add(arn)
            self._futures.append(future)
        return 1

    @property
    def active(self) -> int:
        """Executions running, plus status events not yet handed to EventBridge."""
        running = sum(1 for f in self._futures if not f.done())
        return running + self._events.unfinished_tasks

    def shutdown(self) -> None:
        """Stop running steps, wait for the execution threads, send the events left."""
        self._closing.set()
        msm.remove_start_listener(self._on_start)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._events.put(None)
        self._publisher.join(timeout=30)

    # -- one execution ---------------------------------------------------------------------

    def _run_safely(self, arn: str) -> None:
        try:
            self.run_execution(arn)
        except Exception as err:
            log.exception("execution %s broke the local executor", arn)
            self._finish(arn, FAILED, f"local executor error: {type(err).__name__}: {err}")

    def _stopped(self, arn: str) -> bool:
        if self._closing.is_set():
            return True
        execution = msm.execution_object(ACCOUNT_ID, self.cloud.region, arn)
        return execution.pipeline_execution_status == msm.STOPPING

    def run_execution(self, arn: str) -> ExecutionRun:
        # DescribePipelineExecution, DescribePipelineDefinitionForExecution and
        # ListPipelineParametersForExecution, answered by moto's backend in this process:
        # over HTTP the three were most of the time from an execution's creation to its
        # first step (~35 ms, mostly serialising the definition)
        backend = msm.backend(ACCOUNT_ID, self.cloud.region)
        described = backend.describe_pipeline_execution(arn)
        definition = json.loads(
            backend.describe_pipeline_definition_for_execution(arn)["PipelineDefinition"]
        )
        given = backend.list_pipeline_parameters_for_execution(arn)
        created = described["CreationTime"]  # moto keeps naive UTC; the API adds the zone
        described["CreationTime"] = (
            created.replace(tzinfo=_dt.UTC) if created.tzinfo is None else created
        )
        graph = dependencies_of_definition(definition)
        run = ExecutionRun(
            arn=arn,
            pipeline_arn=described["PipelineArn"],
            display_name=described.get("PipelineExecutionDisplayName", ""),
            description=described.get("PipelineExecutionDescription", ""),
            start_time=described["CreationTime"],
            steps={
                s["Name"]: StepRun(s["Name"], s["Type"], s, graph[s["Name"]])
                for s in definition.get("Steps", [])
            },
        )
        with self._lock:
            self.runs[arn] = run
        values = ExecutionValues(
            parameters=parameter_values(definition, given.get("PipelineParameters", [])),
            execution_arn=arn,
            pipeline_arn=run.pipeline_arn,
            pipeline_name=run.pipeline_arn.rsplit("/", 1)[-1],
            start_time=run.start_time,
        )
        self._publish_execution(run, EXECUTING, None)
        limit = (definition.get("ParallelismConfiguration") or {}).get(
            "MaxParallelExecutionSteps"
        ) or max(len(run.steps), 1)
        with cf.ThreadPoolExecutor(max_workers=limit, thread_name_prefix="foldline-step") as pool:
            running: dict[cf.Future, StepRun] = {}
            while True:
                for step in run.steps.values():
                    if step.status != "NotStarted" or self._stopped(arn):
                        continue
                    dep_status = {run.steps[d].status for d in step.depends_on}
                    if dep_status <= {SUCCEEDED}:
                        step.status = STARTING
                        running[pool.submit(self._run_step, run, step, values)] = step
                if not running:
                    break
                done, _ = cf.wait(running, timeout=0.5, return_when=cf.FIRST_COMPLETED)
                for future in done:
                    running.pop(future)
                    future.result()
        if self._stopped(arn):
            status, reason = STOPPED, None
        elif any(s.status == FAILED for s in run.steps.values()):
            status, reason = FAILED, STEP_FAILURE
        else:
            status, reason = SUCCEEDED, None
        self._finish(arn, status, reason)
        return run

    def _finish(self, arn: str, status: str, reason: str | None) -> None:
        msm.set_status(ACCOUNT_ID, self.cloud.region, arn, status, reason)
        run = self.runs.get(arn)
        if run is None:
            described = self._client("sagemaker").describe_pipeline_execution(
                PipelineExecutionArn=arn
            )
            run = ExecutionRun(
                arn,
                described["PipelineArn"],
                described.get("PipelineExecutionDisplayName", ""),
                described.get("PipelineExecutionDescription", ""),
                described["CreationTime"],
                {},
            )
            self.runs[arn] = run
        run.status = status
        self._publish_execution(run, status, EXECUTING)

    # -- one step ----------------------------------------------------------------------------

    def _run_step(self, run: ExecutionRun, step: StepRun, values: ExecutionValues) -> None:
        step.start_time = _now()
        try:
            if step.type != "Training":
                raise UnsupportedExpression(f"step type {step.type} is not run locally")
            arguments = evaluate(step.spec.get("Arguments") or {}, values)
            program = step_by_name(step.name).program
        except (UnsupportedExpression, KeyError) as err:
            self._change(run, step, FAILED, failure=f"{type(err).__name__}: {err}")
            return
        image = self.images.get(step.name)
        if image is not None:
            arguments = _in_image(arguments, image)
        cache_config = step.spec.get("CacheConfig") or {}
        hit = self.step_cache.lookup(run.pipeline_arn, step.name, arguments, cache_config, _now())
        if hit is not None:
            self._reuse(run, step, values, hit)
            return
        execution_id = run.arn.rsplit("/", 1)[-1]
        suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=10))
        job_name = f"pipelines-{execution_id}-{step.name}-{suffix}"[:63]
        step.training_job_arn = msm.create_training_job(
            ACCOUNT_ID, self.cloud.region, job_name, arguments
        )
        self._change(run, step, STARTING)
        self._change(run, step, EXECUTING)
        job = TrainingJob(
            name=job_name,
            arguments=arguments,
            program=program,
            root=self.work_dir / layout.LOCAL_JOBS_DIR / job_name,
            databases=self.databases,
            env={**self.cloud.env, **LOCAL_JOB_ENV, **self.job_env},
            num_cpus=self.num_cpus or os.cpu_count() or 1,
            image=image,
            arn=step.training_job_arn,
        )
        try:
            result = training.run(job, self._client("s3"), lambda: self._stopped(run.arn))
        except StepStopped:
            msm.set_training_job_status(ACCOUNT_ID, self.cloud.region, job_name, STOPPED)
            self._change(run, step, STOPPED)
            return
        if result.succeeded:
            step.properties = {
                "TrainingJobName": job_name,
                "TrainingJobArn": step.training_job_arn,
                "TrainingJobStatus": JOB_COMPLETED,
                "ModelArtifacts": {"S3ModelArtifacts": result.model_artifacts},
                "OutputDataConfig": arguments.get("OutputDataConfig"),
                "HyperParameters": arguments.get("HyperParameters"),
            }
            values.steps[step.name] = step.properties
            msm.set_training_job_status(ACCOUNT_ID, self.cloud.region, job_name, JOB_COMPLETED)
            if cache_config.get("Enabled"):
                self.step_cache.record(
                    run.pipeline_arn,
                    step.name,
                    arguments,
                    CachedStep(
                        execution_arn=run.arn,
                        job_name=job_name,
                        job_arguments=arguments,
                        properties=step.properties,
                        ended_at=_now().isoformat(),
                    ),
                )
            self._change(run, step, SUCCEEDED)
        else:
            msm.set_training_job_status(
                ACCOUNT_ID, self.cloud.region, job_name, FAILED, result.failure_reason
            )
            self._change(run, step, FAILED, failure=result.failure_reason)

    def _reuse(
        self, run: ExecutionRun, step: StepRun, values: ExecutionValues, hit: CachedStep
    ) -> None:
        """A cache hit: no job; the step hands on the source run's properties at once."""
        if hit.job_name not in msm.backend(ACCOUNT_ID, self.cloud.region).training_jobs:
            # a restarted local cloud forgot the source job: DescribeTrainingJob must work
            msm.create_training_job(ACCOUNT_ID, self.cloud.region, hit.job_name, hit.job_arguments)
            msm.set_training_job_status(ACCOUNT_ID, self.cloud.region, hit.job_name, JOB_COMPLETED)
        step.cache_source = hit.execution_arn
        step.training_job_arn = hit.properties.get("TrainingJobArn")
        step.properties = hit.properties
        values.steps[step.name] = step.properties
        self._change(run, step, STARTING)
        self._change(run, step, SUCCEEDED)

    def _change(
        self, run: ExecutionRun, step: StepRun, status: str, failure: str | None = None
    ) -> None:
        previous = step.status if step.status != "NotStarted" else None
        if status == STARTING:
            previous = None
        step.status = status
        if status in (SUCCEEDED, FAILED, STOPPED):
            step.end_time = _now()
        if failure:
            step.failure_reason = failure
        self._record_steps(run)
        detail = {
            "metadata": (
                {"trainingJob": {"arn": step.training_job_arn}} if step.training_job_arn else {}
            ),
            "stepStartTime": _iso(step.start_time),
            "stepEndTime": _iso(step.end_time),
            "stepName": step.name,
            "stepType": step.type,
            "previousStepStatus": previous,
            "currentStepStatus": status,
            "pipelineArn": run.pipeline_arn,
            "pipelineExecutionArn": run.arn,
        }
        if failure:
            detail["failureReason"] = failure
        self._put_event(
            STEP_STATUS_CHANGE,
            {k: v for k, v in detail.items() if v is not None},
            [run.pipeline_arn, run.arn],
        )
        if self.on_change is not None:
            self.on_change(run, step)

    def _record_steps(self, run: ExecutionRun) -> None:
        started = [s.api() for s in run.steps.values() if s.status != "NotStarted"]
        msm.set_steps(ACCOUNT_ID, self.cloud.region, run.arn, started)

    # -- events ------------------------------------------------------------------------------

    def _publish_execution(self, run: ExecutionRun, status: str, previous: str | None) -> None:
        execution = msm.execution_object(ACCOUNT_ID, self.cloud.region, run.arn)
        detail = {
            "pipelineExecutionDisplayName": run.display_name,
            "currentPipelineExecutionStatus": status,
            "previousPipelineExecutionStatus": previous,
            "executionStartTime": _iso(run.start_time),
            "executionEndTime": _iso(getattr(execution, "foldline_end_time", None)),
            "pipelineExecutionDescription": run.description,
            "pipelineArn": run.pipeline_arn,
            "pipelineExecutionArn": run.arn,
        }
        self._put_event(
            EXECUTION_STATUS_CHANGE,
            {k: v for k, v in detail.items() if v is not None},
            [run.pipeline_arn, run.arn],
        )
        if self.on_change is not None:
            self.on_change(run, None)

    def _put_event(self, detail_type: str, detail: dict, resources: list[str]) -> None:
        """Queue a status event. SageMaker sends them asynchronously too; a step waiting
        on each PutEvents (30 ms and more, as moto routes it to its targets) would make
        orchestration, not work, the time between steps. One thread keeps their order."""
        self._events.put(
            {
                "Source": SOURCE,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
                "Resources": resources,
                "Time": _now(),
            }
        )

    def _publish_events(self) -> None:
        while (entry := self._events.get()) is not None:
            try:
                response = self._client("events").put_events(Entries=[entry])
                if response.get("FailedEntryCount"):
                    log.error("put_events failed: %s", response["Entries"])
            except Exception:
                log.exception("put_events failed for %s", entry["DetailType"])
            finally:
                self._events.task_done()
        self._events.task_done()
