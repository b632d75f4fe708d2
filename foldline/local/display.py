"""What ``foldline local`` shows: a live board of runs, events as they pass, and a summary."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

from rich.console import Console, RenderableType

from foldline.cli import progress
from foldline.local.cloud import Route
from foldline.local.lambda_runtime import Invocation
from foldline.local.outbox import Notice
from foldline.local.runtime import LocalRuntime, Submission
from foldline.runs import table as runs
from foldline.spec import layout
from foldline.spec.parameters import Step
from foldline.spec.statuses import REJECTED, SUCCEEDED


def _seconds(value: float) -> str:
    minutes, seconds = divmod(int(value), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class RunBoard:
    """Follows ``foldline local run``'s uploads: the runtime's hooks bring notices and
    failed functions; each poll of the runs table goes through :mod:`foldline.cli.progress`,
    the display ``foldline submit --wait`` shows too."""

    def __init__(self, runtime: LocalRuntime, submissions: list[Submission]):
        self.runtime = runtime
        self.submissions = submissions
        self.started = time.monotonic()
        self.events: collections.deque[str] = collections.deque(maxlen=4)
        self.notices: list[Notice] = []
        #: screening drops (their campaign ids) whose runs are among the submissions
        self.campaigns: list[str] = []
        self._changes = progress.ChangeLog()
        self._campaign_lines_seen: set[str] = set()
        self._skipped = progress.SkipProbe(self._step_status)

    def _step_status(self, run_id: str, step: Step) -> str | None:
        from foldline.outcomes.step_outputs import finished_step_status

        return finished_step_status(
            self.runtime.cloud.client("s3"), self.runtime.bucket, run_id, step
        )

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

    def states(self, items: dict[str, dict | None]) -> list[progress.RunState]:
        return [
            progress.run_state(
                sub.label,
                sub.run_id,
                items.get(sub.run_id),
                self._skipped(sub.run_id, items.get(sub.run_id)),
            )
            for sub in self.submissions
        ]

    def changes(self, items: dict[str, dict | None]) -> list[str]:
        """For output that is not a terminal: one line per run whose status or steps changed
        since the last call (no elapsed times, no function log lines: a line means a change)."""
        lines = self._changes.lines(self.states(items))
        for line in self.campaign_lines(items):  # a screening drop's line, when it changes
            if line not in self._campaign_lines_seen:
                self._campaign_lines_seen.add(line)
                lines.append(f"{time.strftime('%H:%M:%S')} {line}")
        return lines

    def campaign_lines(self, items: dict[str, dict | None]) -> list[str]:
        """One line per screening drop: its runs by status, and whether its summary is out."""
        lines = []
        for campaign_id in self.campaigns:
            members = [s for s in self.submissions if s.campaign == campaign_id]
            counts = collections.Counter(
                (items.get(s.run_id) or {}).get("status", "waiting") for s in members
            )
            counted = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            campaign = self.runtime.campaign(campaign_id) or {}
            summary = "summary sent" if campaign.get("summary_message_id") else "running"
            lines.append(
                f"campaign {campaign_id}: {len(members)} records ({counted}); "
                f"{campaign.get('unique_sequences', '?')} distinct sequences; {summary}"
            )
        return lines

    def render(self, items: dict[str, dict | None]) -> RenderableType:
        title = f"foldline local — {_seconds(time.monotonic() - self.started)}"
        events = [*self.campaign_lines(items), *self.events]
        return progress.live_view(self.states(items), title=title, events=events)


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
        # a refused record of a screening drop is reported, and sinks nothing else
        all_ok = all_ok and (ok or (sub.campaign is not None and status == REJECTED))
        if console.is_terminal:
            console.rule(f"{sub.label}: {shown}")
        else:  # piped: a line a program can find, not a terminal-wide rule
            console.print(f"== {sub.label}: {shown}", markup=False)
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
    for line, campaign_id in zip(board.campaign_lines(items), board.campaigns, strict=True):
        console.print(f"== {line}", markup=False)
        for notice in board.notices:
            if notice.run_id == campaign_id:
                console.print(f"summary: {notice.subject}\n        {notice.path}", markup=False)
    console.print(f"work folder: {runtime.workdir} (outbox/, logs/, jobs/, reports/)")
    return all_ok


def echo_notice(console: Console, notice: Notice) -> None:
    console.print(f"[bold]notice[/bold] {notice.subject}\n  {Path(notice.path)}")
