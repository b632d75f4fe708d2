"""What ``foldline local`` shows: a live board of runs, events as they pass, and a summary."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from foldline.local.cloud import Route
from foldline.local.lambda_runtime import Invocation
from foldline.local.outbox import Notice
from foldline.local.runtime import LocalRuntime, Submission
from foldline.runs import table as runs
from foldline.spec import layout
from foldline.spec.statuses import EXECUTING, FAILED, REJECTED, STARTING, STOPPED, SUCCEEDED

_STEP_MARK = {SUCCEEDED: "✓", FAILED: "✗", STOPPED: "■", EXECUTING: "…", STARTING: "…"}


def _seconds(value: float) -> str:
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class RunBoard:
    """Collects events from the runtime's hooks and renders the runs' state."""

    def __init__(self, runtime: LocalRuntime, submissions: list[Submission]):
        self.runtime = runtime
        self.submissions = submissions
        self.started = time.monotonic()
        self.events: collections.deque[str] = collections.deque(maxlen=8)
        self.notices: list[Notice] = []

    # hooks ------------------------------------------------------------------------------

    def on_invocation(self, invocation: Invocation, route: Route) -> None:
        """A function's failure is worth a line under the board; its routine calls are the
        runtime's business (they are in <workdir>/logs/), not the run's progress."""
        if invocation.error:
            self.events.append(
                f"{time.strftime('%H:%M:%S')} {invocation.function} failed "
                f"(its log: logs/): {invocation.error}"
            )

    def on_notice(self, notice: Notice) -> None:
        self.notices.append(notice)
        self.events.append(f"{time.strftime('%H:%M:%S')} notice: {notice.subject}")

    # rendering ----------------------------------------------------------------------------

    def _steps(self, item: dict | None, *, times: bool = True) -> str:
        if not item or not item.get("execution_arn"):
            return ""
        try:
            steps = self.runtime.steps(item["execution_arn"])
        except Exception:  # noqa: BLE001 - a display must not break the run
            return ""
        parts = []
        for step in steps:
            status = step["StepStatus"]
            took = ""
            if times and step.get("StartTime"):
                end = step.get("EndTime")
                seconds = (
                    (end - step["StartTime"]).total_seconds()
                    if end
                    else (time.time() - step["StartTime"].timestamp())
                )
                took = f" {_seconds(seconds)}"
            cached = " (cached)" if step.get("CacheHitResult") else ""
            mark = "skipped" if self._skipped(step) else _STEP_MARK.get(status, status)
            parts.append(f"{step['StepName']} {mark}{took}{cached}")
        return "  ".join(parts)

    def _skipped(self, step: dict) -> bool:
        """A step that ended well but ran nothing (OpenFold on a multimer): its manifest,
        in the job's model folder, says ``skipped``; it is not shown as done."""
        if step.get("StepStatus") != SUCCEEDED:
            return False
        arn = ((step.get("Metadata") or {}).get("TrainingJob") or {}).get("Arn", "")
        job = arn.rsplit("/", 1)[-1]
        if not job:
            return False
        manifest = (
            self.runtime.workdir / layout.LOCAL_JOBS_DIR / job / "model" / layout.STEP_MANIFEST
        )
        try:
            return json.loads(manifest.read_text()).get("status") == "skipped"
        except (OSError, ValueError):
            return False

    def _status(self, item: dict | None) -> str:
        status = (item or {}).get("status", "uploaded")
        analysis = (item or {}).get("analysis_status")
        if status == runs.SUCCEEDED and analysis != SUCCEEDED:  # the report is not out yet
            status = "Analysis failed" if analysis == FAILED else "Analysing"
        return status

    def changes(self, items: dict[str, dict | None]) -> list[str]:
        """For output that is not a terminal: one line per run whose status or steps changed
        since the last call (no elapsed times, no function log lines: a line means a change)."""
        seen = self.__dict__.setdefault("_seen", {})
        lines = []
        for sub in self.submissions:
            item = items.get(sub.run_id)
            state = f"{self._status(item)}  {self._steps(item, times=False)}".rstrip()
            if seen.get(sub.run_id) != state:
                seen[sub.run_id] = state
                lines.append(f"{time.strftime('%H:%M:%S')} {sub.path.name} {sub.run_id}: {state}")
        return lines

    def render(self, items: dict[str, dict | None]) -> Group:
        table = Table(
            title=f"foldline local — {_seconds(time.monotonic() - self.started)}", expand=False
        )
        for column in ("file", "run", "status", "steps"):
            table.add_column(column)
        for sub in self.submissions:
            item = items.get(sub.run_id)
            status = self._status(item)
            style = {
                SUCCEEDED: "green",
                FAILED: "red",
                REJECTED: "red",
                "Analysis failed": "red",
                STOPPED: "yellow",
            }.get(status, "")
            table.add_row(sub.path.name, sub.run_id, Text(status, style=style), self._steps(item))
        return Group(table, Text("\n".join(self.events), style="dim"))


def outcome(item: dict) -> tuple[str, bool]:
    """What a run came to, for the summary, and whether it counts as a success.

    A run succeeds when its pipeline did *and* its analysis wrote a report: a pipeline
    that succeeded with an analysis that failed (``analysis_status`` "Failed", or never
    got to "Succeeded") is shown as such and fails ``foldline local run``.
    """
    status = item.get("status", "unknown")
    if status != runs.SUCCEEDED:
        return status, False
    analysis = item.get("analysis_status")
    if analysis == SUCCEEDED:
        return status, True
    return f"analysis {analysis or 'not run'} (the pipeline succeeded)", False


def summary(
    console: Console, runtime: LocalRuntime, board: RunBoard, items: dict[str, dict | None]
) -> bool:
    """Print each run's outcome, its notices and report; True when every run succeeded
    (pipeline and analysis both)."""
    all_ok = True
    for sub in board.submissions:
        item = items.get(sub.run_id) or {}
        status = item.get("status", "unknown")
        shown, ok = outcome(item)
        all_ok = all_ok and ok
        if console.is_terminal:
            console.rule(f"{sub.path.name}: {shown}")
        else:  # piped: a line a program can find, not a terminal-wide rule
            console.print(f"== {sub.path.name}: {shown}", markup=False)
        console.print(f"run id: {sub.run_id}")
        if item.get("reason"):
            console.print(f"reason: {item['reason']}")
        if status == runs.SUCCEEDED and not ok and item.get("analysis_error"):
            console.print(f"analysis error: {item['analysis_error']}", markup=False)
        if item.get("comparison_skipped"):
            console.print(f"no comparison: {item['comparison_skipped']}", markup=False)
        for notice in board.notices:
            if notice.run_id == sub.run_id:
                console.print(f"notice: {notice.subject}\n        {notice.path}", markup=False)
        report = runtime.download_report(sub.run_id) if status == runs.SUCCEEDED else None
        if report is not None:
            html = report / layout.REPORT_PAGE
            metrics = report / layout.METRICS_FILE
            if metrics.is_file():
                headline = json.loads(metrics.read_text()).get("headline")
                console.print(f"headline: {headline}", markup=False)
            console.print(f"report: {html if html.is_file() else report}", markup=False)
    console.print(f"work folder: {runtime.workdir} (outbox/, logs/, jobs/, reports/)")
    return all_ok


def echo_notice(console: Console, notice: Notice) -> None:
    console.print(f"[bold]notice[/bold] {notice.subject}\n  {Path(notice.path)}")
