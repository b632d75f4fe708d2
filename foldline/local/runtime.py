"""``foldline local``: the whole event-driven flow on one machine.

:class:`LocalRuntime` starts the local cloud (:mod:`~foldline.local.cloud`), restores
the work folder's saved state, and runs three pollers on one background thread: the
dispatcher (queues -> handlers), the pipeline executor (new executions -> steps) and the
outbox (SNS -> ``.eml`` files). Uploading a FASTA to ``inputs/`` is all it takes to
start a run, exactly as in the cloud; the runtime only watches what happens.

Work folder layout::

    <workdir>/state/     S3 objects and table items (survive a restart)
    <workdir>/executions/ each pipeline execution as the SageMaker API described it
    <workdir>/jobs/      one folder per training job (SageMaker's /opt/ml layout)
    <workdir>/logs/      one log per function (the local CloudWatch Logs)
    <workdir>/outbox/    every notification, as .eml
    <workdir>/reports/   reports downloaded from runs/<run_id>/report/
    <workdir>/drop/      watched by ``foldline local serve``

One runtime per work folder (:mod:`.workdir_lock`). Nothing is lost when it stops,
however it stops: every upload is written to ``state/`` as it is made, the whole state
every few seconds and on stop, and the next start re-drives what was owed and announces
runs that were cut short (:mod:`.recovery`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlencode

from foldline.intake.run_identity import run_id_for, upload_version
from foldline.local import state
from foldline.local.cloud import DEFAULT_TEMPLATE, LocalCloud, Route
from foldline.local.dispatcher import Dispatcher, Pump
from foldline.local.executor import ExecutionRun, PipelineExecutor, StepRun
from foldline.local.lambda_runtime import Invocation
from foldline.local.outbox import Notice, Outbox
from foldline.local.paths import DEFAULT_DATABASES, DEFAULT_WORKDIR
from foldline.local.recovery import Recovery, recover
from foldline.local.stack import clear_local_state, write_local_state
from foldline.local.workdir_lock import WorkdirBusy, WorkdirLock  # noqa: F401 - re-exported
from foldline.runs import table as runs
from foldline.runs.campaigns import Campaigns
from foldline.spec import layout

log = logging.getLogger("foldline.local")

RUNS_TABLE = "RunsTable"  # the template's logical id of the runs table
TOPIC = "NotificationsTopic"  # ... and of the notices' topic
#: how often the whole state is written to the work folder while the runtime runs
SAVE_EVERY_S = 5.0


class RunsStalled(RuntimeError):
    """The runtime went idle with runs still open; the message says which and why."""


@dataclass(frozen=True)
class Submission:
    """One uploaded file and the run id the start function will give it; for a record of
    a screening drop, the record's id and its campaign."""

    path: Path
    key: str
    run_id: str
    record: str | None = None
    campaign: str | None = None

    @property
    def label(self) -> str:
        return f"{self.path.name} {self.record}" if self.record else self.path.name


class LocalRuntime:
    """The local cloud, its pollers and the work folder. Use as a context manager."""

    def __init__(
        self,
        workdir: Path = DEFAULT_WORKDIR,
        *,
        databases: Path | None = None,
        template: Path = DEFAULT_TEMPLATE,
        parameter_values: dict[str, Any] | None = None,
        job_env: dict[str, str] | None = None,
        images: dict[str, Any] | None = None,
        num_cpus: int | None = None,
        retry_delay: int = 1,
        on_notice: Callable[[Notice], None] | None = None,
        on_invocation: Callable[[Invocation, Route], None] | None = None,
        on_step: Callable[[ExecutionRun, StepRun | None], None] | None = None,
        dispatch: bool = True,
        save_every_s: float = SAVE_EVERY_S,
    ):
        self.workdir = Path(workdir).resolve()
        self.databases = Path(databases or DEFAULT_DATABASES).resolve()
        self.cloud = LocalCloud(template, parameter_values or {})
        self.job_env = job_env
        self.images = images  # step name -> StepImage (foldline.local.containers)
        self.num_cpus = num_cpus
        self.retry_delay = retry_delay
        self.on_notice = on_notice
        self.on_invocation = on_invocation
        self.on_step = on_step
        self.dispatch = dispatch
        self.dispatcher: Dispatcher | None = None
        self.executor: PipelineExecutor | None = None
        self.outbox: Outbox | None = None
        self._pumps: list[Pump] = []
        self.restored = 0
        self.state = state.StateStore(self.workdir / "state")
        self.recovered = Recovery()
        self.save_every_s = save_every_s
        self._lock = WorkdirLock(self.workdir)
        self._last_save = 0.0

    # -- life cycle ------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        if not self.databases.is_dir():
            raise FileNotFoundError(f"database folder {self.databases} does not exist")
        self._lock.acquire()  # raises WorkdirBusy: another runtime has this work folder
        try:
            self._start()
        except BaseException:
            self._lock.release()
            raise
        return self

    def _start(self) -> None:
        for sub in ("state", "jobs", "logs", "outbox", "reports"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self.cloud.start()
        try:
            self.cloud.create_resources(restore=self._restore)
            self.dispatcher = Dispatcher(
                self.cloud,
                self.workdir / "logs",
                retry_delay=self.retry_delay,
                on_invocation=self.on_invocation,
                env={layout.LOCAL_WORKDIR_ENV: str(self.workdir.resolve())},
            )
            self.executor = PipelineExecutor(
                self.cloud,
                self.workdir,
                self.databases,
                num_cpus=self.num_cpus,
                job_env=self.job_env,
                images=self.images,
                on_change=self.on_step,
            )
            self.outbox = Outbox(self.cloud, self.workdir / "outbox", on_notice=self.on_notice)
            self.outbox.subscribe()
            self.recovered = recover(
                s3=self.cloud.client("s3"),
                events=self.cloud.client("events"),
                sns=self.cloud.client("sns"),
                table=self.runs_table(),
                bucket=self.bucket,
                topic_arn=self.topic_arn,
                region=self.cloud.region,
            )
            # a thread each for the pipeline steps, the notices, the saves and every
            # route: a function's long invocation or a long save holds up nothing else
            pollers = [
                ("executor", self.executor.poll_once),
                ("outbox", self.outbox.poll_once),
                ("state saves", self._autosave),
            ]
            if self.dispatch:
                pollers += self.dispatcher.pollers()
            self._pumps = [Pump(poll, name) for name, poll in pollers]
            self._last_save = time.monotonic()
            for pump in self._pumps:
                pump.start()
            # other shells' `foldline status|results|...` find this cloud through it
            write_local_state(self.workdir, self.cloud.endpoint_url, self.cloud.region)
        except BaseException:
            self._stop_pumps()
            self.cloud.stop()
            raise

    def stop(self) -> None:
        self._stop_pumps()
        if self.executor is not None:
            self.executor.shutdown()
        if self.cloud.server is not None:
            try:
                if self.outbox is not None:
                    self.outbox.drain()  # the notices the last invocations published
                self.save()
            finally:
                clear_local_state(self.workdir)
                self.cloud.stop()
                self._lock.release()

    def _stop_pumps(self) -> None:
        for pump in self._pumps:
            pump.request_stop()  # all at once: each may be waiting for an invocation
        for pump in self._pumps:
            pump.stop()
        if self.dispatcher is not None:
            self.dispatcher.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- state -----------------------------------------------------------------------------

    def _restore(self, cloud: LocalCloud) -> None:
        self.restored = self.state.restore(cloud)

    def save(self) -> None:
        self.state.save(self.cloud)
        state.save_executions(self.cloud, self.workdir / "executions")

    def _autosave(self) -> int:
        """A pump poller: the whole state every ``save_every_s`` (a crash loses at most that)."""
        if time.monotonic() - self._last_save >= self.save_every_s:
            self._last_save = time.monotonic()
            self.state.save(self.cloud)
        return 0

    # -- what a user does --------------------------------------------------------------------

    @property
    def bucket(self) -> str:
        return self.cloud.bucket_name()

    @property
    def topic_arn(self) -> str:
        return self.cloud.stack.ref(TOPIC)

    def runs_table(self) -> runs.RunsTable:
        name = self.cloud.stack.physical_name(RUNS_TABLE)
        return runs.RunsTable(name, dynamodb=self.cloud.client("dynamodb"))

    def upload(
        self, path: Path, name: str | None = None, tags: dict[str, str] | None = None
    ) -> Submission:
        """Put a file under ``inputs/``, as a user would (run overrides as object tags,
        like ``foldline submit``); the bucket's events do the rest."""
        path = Path(path)
        key = layout.INPUTS + (name or path.name)
        extra = {"Tagging": urlencode(tags)} if tags else {}
        response = self.cloud.client("s3").put_object(
            Bucket=self.bucket, Key=key, Body=path.read_bytes(), **extra
        )
        # on disk before its run id is shown: a restart takes it up, whenever this stops
        self.state.save_object(self.cloud, self.bucket, key)
        version = upload_version(response.get("VersionId"), response["ETag"])
        return Submission(path, key, run_id_for(self.bucket, key, version))

    def run(self, run_id: str) -> dict | None:
        return self.runs_table().get(run_id)

    def campaign(self, campaign_id: str) -> dict | None:
        """A screening drop's campaign item (foldline.runs.campaigns), or None (not yet)."""
        return Campaigns(self.runs_table()).get(campaign_id)

    def screen_members(
        self, screen: Submission, *, timeout: float = 600, stall: float = 5.0
    ) -> list[Submission]:
        """The runs a screening drop became, once the start function has split it (one per
        record, refused ones included); ``[screen]`` itself where the whole drop was
        rejected (its run id then holds the rejection)."""
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while True:
            campaign = self.campaign(screen.run_id)
            if campaign is not None:
                return [
                    Submission(screen.path, screen.key, m["run_id"], m["record_id"], screen.run_id)
                    for m in campaign["members"]
                ]
            whole = self.run(screen.run_id)
            if whole is not None and whole.get("status") in runs.FINAL_STATUSES:
                return [screen]
            idle_since = (idle_since or time.monotonic()) if self.idle() else None
            if idle_since is not None and time.monotonic() - idle_since > stall:
                raise RunsStalled(
                    f"{screen.path.name}: the start function has not split the screening "
                    f"drop {screen.run_id} (see {self.workdir / 'logs'})"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(f"{screen.path.name}: not split after {timeout:.0f} s")
            time.sleep(0.2)

    def steps(self, execution_arn: str) -> list[dict]:
        response = self.cloud.client("sagemaker").list_pipeline_execution_steps(
            PipelineExecutionArn=execution_arn, SortOrder="Ascending"
        )
        return response["PipelineExecutionSteps"]

    def idle(self) -> bool:
        """Nothing queued, nothing running: every event of finished work was handled and
        every notice written."""
        assert self.dispatcher is not None and self.executor is not None
        return (
            not self.dispatcher.busy
            and self.executor.active == 0
            and self.dispatcher.pending() == 0
            and (self.outbox is None or self.outbox.pending() == 0)
        )

    def wait(
        self,
        run_ids: Iterable[str],
        *,
        timeout: float = 1800,
        on_poll: Callable[[dict[str, dict | None]], None] | None = None,
        interval: float = 0.3,
        stall: float = 5.0,
    ) -> dict[str, dict | None]:
        """Wait until every run is final in the runs table and the runtime is idle.

        Raises :class:`RunsStalled` when the runtime has been idle for ``stall`` seconds
        with a run still open (e.g. its upload event ended in a dead-letter queue after
        the start function failed on it every time).
        """
        run_ids = list(run_ids)
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while True:
            items = {run_id: self.run(run_id) for run_id in run_ids}
            if on_poll is not None:
                on_poll(items)
            final = all(
                i is not None and i.get("status") in runs.FINAL_STATUSES for i in items.values()
            )
            idle = self.idle()
            if final and idle:
                time.sleep(interval)  # one more pass: the outbox and last writes
                if self.idle():
                    return {run_id: self.run(run_id) for run_id in run_ids}
            errors = [error for pump in self._pumps for error in pump.errors]
            if errors:
                raise RuntimeError("local runtime failed: " + errors[-1])
            idle_since = (idle_since or time.monotonic()) if idle else None
            if idle_since is not None and time.monotonic() - idle_since > stall:
                raise RunsStalled(self._stall_message(items))
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not finished after {timeout:.0f} s: {items}")
            time.sleep(interval)

    def _stall_message(self, items: dict[str, dict | None]) -> str:
        open_runs = [
            run_id
            for run_id, item in items.items()
            if item is None or item.get("status") not in runs.FINAL_STATUSES
        ]
        errors = [f"{i.function}: {i.error}" for i in self.dispatcher.invocations if i.error]
        text = f"nothing more is happening, but these runs did not end: {', '.join(open_runs)}"
        if errors:
            text += f"\nlast function error: {errors[-1]}\n(see {self.workdir / 'logs'})"
        return text

    def download_report(self, run_id: str) -> Path | None:
        """``runs/<run_id>/report/`` -> ``<workdir>/reports/<run_id>/``; None if there is none."""
        s3 = self.cloud.client("s3")
        prefix = layout.report_prefix(run_id)
        target = self.workdir / layout.LOCAL_REPORTS_DIR / run_id
        found = False
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                path = target / obj["Key"][len(prefix) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(self.bucket, obj["Key"], str(path))
                found = True
        return target if found else None
