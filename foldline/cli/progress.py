"""The one progress display of ``foldline local run`` and ``foldline submit --wait``.

Both commands poll the runs table (the progress function keeps ``steps.<StepName>`` there
from the pipeline's step events, in the cloud and in the local runtime alike) and show
the runs here: in a terminal, a live board whose columns keep their widths while the
numbers change (one column per pipeline step, so steps running side by side show side by
side); piped, a line per change in one format. A step that ended well but ran nothing
(OpenFold on a multimer) says "skipped": SageMaker only knows its job exited 0, so the
step's own ``foldline-step.json`` is read from its (small) archive, once.

Nothing here prints log lines: the board holds runs and steps; what the runtime logs
stays in its logs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from foldline.cli.common import duration, parse_time, run_seconds
from foldline.cli.views import short_ids
from foldline.spec.parameters import INFERENCE_STEPS, STEPS
from foldline.spec.statuses import (
    EXECUTING,
    FAILED,
    FINAL_STATUSES,
    FINAL_STEP_STATUSES,
    REJECTED,
    STEP_SKIPPED,
    STOPPED,
    SUCCEEDED,
)

#: a run whose pipeline succeeded, while the analysis writes its report
ANALYSING = "Analysing"
ANALYSIS_FAILED = "Analysis failed"
#: before the start function has claimed the upload
UPLOADED = "uploaded"
#: every status the board shows: its column is as wide as the longest
SHOWN_STATUSES = (UPLOADED, "Starting", EXECUTING, ANALYSING, SUCCEEDED, FAILED, ANALYSIS_FAILED,
                  STOPPED, REJECTED, "Stopping")  # fmt: skip
STATUS_STYLES = {
    SUCCEEDED: "green",
    FAILED: "red",
    REJECTED: "red",
    ANALYSIS_FAILED: "red",
    STOPPED: "yellow",
    EXECUTING: "cyan",
    ANALYSING: "cyan",
}

#: a step's state -> its mark
WAITING, RUNNING, DONE, STEP_FAILED, STEP_STOPPED, SKIPPED = (
    "waiting", "running", "done", "failed", "stopped", STEP_SKIPPED,
)  # fmt: skip
MARKS = {WAITING: "·", RUNNING: "…", DONE: "✓", STEP_FAILED: "✗", STEP_STOPPED: "■"}
#: a step cell's width: a mark and the longest duration ("✓ 12m 05s"), or "skipped"
STEP_CELL = 9
ELAPSED_CELL = 7


@dataclass(frozen=True)
class StepState:
    name: str
    state: str  # one of WAITING, RUNNING, DONE, STEP_FAILED, STEP_STOPPED, SKIPPED
    seconds: float | None = None
    cached: bool = False

    def cell(self, *, times: bool = True) -> str:
        """ "✓ 12m 05s", "… 3s", "✓ cached", "skipped", "·"."""
        if self.state == SKIPPED:
            return SKIPPED
        mark = MARKS[self.state]
        if self.cached and self.state == DONE:
            return f"{mark} cached"
        if times and self.state != WAITING and self.seconds is not None:
            return f"{mark} {duration(self.seconds)}"
        return mark


@dataclass(frozen=True)
class RunState:
    """One run as the display shows it."""

    label: str  # the file it came from
    run_id: str
    status: str
    steps: tuple[StepState, ...]
    seconds: float | None

    def line(self) -> str:
        """The piped form, without times: it changes only when the run does."""
        marks = ", ".join(f"{s.name} {s.cell(times=False)}" for s in self.steps)
        return f"{self.label} {self.run_id}: {self.status} ({marks})"


def run_status(item: Mapping[str, Any] | None) -> str:
    """The run's status, with the analysis after the pipeline: a run is Succeeded once its
    report is written, "Analysing" until then."""
    if not item:
        return UPLOADED
    status = str(item.get("status") or UPLOADED)
    if status == SUCCEEDED and item.get("analysis_status") != SUCCEEDED:
        return ANALYSIS_FAILED if item.get("analysis_status") == FAILED else ANALYSING
    return status


def settled_step_status(item: Mapping[str, Any] | None, step_name: str) -> str | None:
    """The step's status as its events told it, except that a pipeline that succeeded
    has every step succeeded: EventBridge does not keep order, and the pipeline's own
    "Succeeded" (and the report after it) can arrive before a step's last event."""
    status = (((item or {}).get("steps") or {}).get(step_name) or {}).get("status")
    if (item or {}).get("status") == SUCCEEDED and status not in FINAL_STEP_STATUSES:
        return SUCCEEDED
    return status


def _step_seconds(record: Mapping[str, Any], status: str | None) -> float | None:
    start = parse_time(record.get("started_at"))
    if start is None:
        return None
    end = parse_time(record.get("ended_at"))
    if end is None and status in FINAL_STEP_STATUSES:
        return None
    return ((end.timestamp() if end else time.time()) - start.timestamp()) or 0.0


def step_states(
    item: Mapping[str, Any] | None, skipped: frozenset[str] = frozenset()
) -> tuple[StepState, ...]:
    """Each pipeline step's state from the run's ``steps`` map; ``skipped``: the steps
    whose own record says they ran nothing."""
    records = (item or {}).get("steps") or {}
    states = []
    for step in STEPS:
        record = records.get(step.name) or {}
        status = settled_step_status(item, step.name)
        if status == SUCCEEDED:
            state = SKIPPED if step.name in skipped else DONE
        elif status == FAILED:
            state = STEP_FAILED
        elif status in (STOPPED, "Stopping"):
            state = STEP_STOPPED
        elif status:
            state = RUNNING
        else:
            state = WAITING
        states.append(
            StepState(
                step.name, state, _step_seconds(record, status), bool(record.get("cache_hit"))
            )
        )
    return tuple(states)


def run_state(
    label: str, run_id: str, item: Mapping[str, Any] | None, skipped: frozenset[str] = frozenset()
) -> RunState:
    return RunState(
        label,
        run_id,
        run_status(item),
        step_states(item, skipped),
        run_seconds(dict(item), FINAL_STATUSES) if item else None,
    )


class SkipProbe:
    """Which finished inference steps skipped, asked once per step and remembered.

    ``status_of(run_id, step)`` is :func:`foldline.outcomes.step_outputs.finished_step_status`
    bound to a bucket; None (no archive yet) is asked again at the next poll.
    """

    def __init__(self, status_of: Callable[[str, Any], str | None]):
        self.status_of = status_of
        self.known: dict[tuple[str, str], bool] = {}

    def __call__(self, run_id: str, item: Mapping[str, Any] | None) -> frozenset[str]:
        for step in INFERENCE_STEPS:
            key = (run_id, step.name)
            if key in self.known or settled_step_status(item, step.name) != SUCCEEDED:
                continue
            try:
                status = self.status_of(run_id, step)
            except Exception:  # noqa: BLE001 - a display must not break the run it follows
                status = None
            if status is not None:
                self.known[key] = status == STEP_SKIPPED
        return frozenset(name for (rid, name), skip in self.known.items() if rid == run_id and skip)


def board(runs: list[RunState], *, title: str | None = None) -> Table:
    """The live display: a row per run (its file, its id's unique beginning), a column per
    step, every column but the first of fixed width."""
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1),
        collapse_padding=True,
        title_justify="left",
    )
    # ids cut to a unique beginning (every command takes one), so that the board keeps
    # its columns whole at 80; the piped lines and the summary give them whole
    short = short_ids([run.run_id for run in runs])
    table.add_column("Run", overflow="fold", min_width=14, ratio=1)
    table.add_column("Status", width=max(map(len, SHOWN_STATUSES)), no_wrap=True)
    for step in STEPS:
        table.add_column(step.name.removeprefix("Run"), width=STEP_CELL, no_wrap=True)
    table.add_column("Elapsed", width=ELAPSED_CELL, justify="right", no_wrap=True)
    for run in runs:
        table.add_row(
            Text(run.label) + Text("\n" + short[run.run_id], style="dim"),
            Text(run.status, style=STATUS_STYLES.get(run.status, "")),
            *(Text(s.cell(), style="dim" if s.state == SKIPPED else "") for s in run.steps),
            duration(run.seconds) if run.seconds is not None else "-",
        )
    return table


def live_view(
    runs: list[RunState], *, title: str | None = None, events: list[str] | None = None
) -> RenderableType:
    """The board, and under it the last few events worth a person's eye (notices, a
    function that failed), each cut to one line so the display keeps its height."""
    if not events:
        return board(runs, title=title)
    lines = [Text(e, style="dim", no_wrap=True, overflow="ellipsis") for e in events]
    return Group(board(runs, title=title), *lines)


class ChangeLog:
    """For output that is not a terminal: a line per run each time its state changes."""

    def __init__(self) -> None:
        self.last: dict[str, str] = {}

    def lines(self, runs: list[RunState]) -> list[str]:
        out = []
        for run in runs:
            line = run.line()
            if self.last.get(run.run_id) != line:
                self.last[run.run_id] = line
                out.append(f"{time.strftime('%H:%M:%S')} {line}")
        return out
