"""How runs look in the terminal: the recent-runs table and one run in detail (the live
board of ``submit --wait`` and ``local run`` is :mod:`foldline.cli.progress`).

Everything here reads a runs-table item (see :mod:`foldline.runs.table` and
:mod:`foldline.outcomes.progress` for its fields) and returns rich renderables; nothing calls AWS.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from foldline.cli.common import duration, parse_time, run_seconds, short_time
from foldline.spec import layout
from foldline.spec.parameters import STEPS
from foldline.spec.statuses import (
    EXECUTING,
    FAILED,
    FINAL_STATUSES,
    FINAL_STEP_STATUSES,
    REJECTED,
    STOPPED,
    SUCCEEDED,
)

STATUS_STYLES = {
    SUCCEEDED: "green",
    FAILED: "red",
    REJECTED: "red",
    STOPPED: "yellow",
    EXECUTING: "cyan",
}


def status_text(status: str | None) -> Text:
    return Text(status or "waiting", style=STATUS_STYLES.get(status or "", "dim"))


def tm_score(item: dict) -> str:
    value = item.get("tm_score")
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def current_step(item: dict | None) -> str:
    """What the run is doing now, in a few words."""
    if item is None:
        return "waiting for the start function"
    status = item.get("status")
    if status == REJECTED:
        return "rejected"
    if status in FINAL_STATUSES:
        if status == FAILED and item.get("failed_step"):
            return f"{item['failed_step']} failed"
        if item.get("analysis_status") == FAILED:
            return "analysis failed"
        return "done"
    steps = item.get("steps") or {}
    if steps and all((steps.get(s.name) or {}).get("status") == SUCCEEDED for s in STEPS):
        return "analysis"
    return item.get("current_step") or ("starting" if status != EXECUTING else "queued")


def step_seconds(step: dict) -> float | None:
    from foldline.cli.common import now

    start = parse_time(step.get("started_at"))
    if start is None:
        return None
    end = parse_time(step.get("ended_at"))
    if end is None and step.get("status") not in FINAL_STEP_STATUSES:
        end = now()
    return (end - start).total_seconds() if end else None


#: hex digits a compact table keeps of a run id's hash (after "<target>-")
SHORT_ID_HEX = 8
#: a terminal narrower than this gets the compact table
COMPACT_BELOW = 120
COMPACT_NOTE = (
    "run ids shortened to a unique beginning, which every command accepts; "
    "a wider terminal, a pipe or --json shows them whole"
)


def short_ids(run_ids: list[str]) -> dict[str, str]:
    """Each run id cut to "<target>-" and :data:`SHORT_ID_HEX` hex digits, longer where two
    shown ids would share a beginning: a prefix ``find_run`` resolves to that run.

    >>> short_ids(["6kwc-7e8fe2278ca4763e", "6kwc-7e8fe2270000", "T1-abcdef0123"])
    {'6kwc-7e8fe2278ca4763e': '6kwc-7e8fe2278', '6kwc-7e8fe2270000': '6kwc-7e8fe2270', 'T1-abcdef0123': 'T1-abcdef01'}
    """
    out = {}
    for run_id in run_ids:
        n = run_id.rfind("-") + 1 + SHORT_ID_HEX
        while n < len(run_id) and any(o != run_id and o.startswith(run_id[:n]) for o in run_ids):
            n += 1
        out[run_id] = run_id[:n]
    return out


def recent_table(items: list[dict], *, compact: bool = False) -> Table:
    """The recent runs. ``compact`` (a narrow terminal): run ids cut to a unique beginning
    and no start time, so that target, status, step and TM-score stay whole at 80 columns."""
    table = Table(title=None, show_edge=False, pad_edge=False)
    names = short_ids([i["run_id"] for i in items]) if compact else {}
    table.add_column("Run id", no_wrap=True, overflow="fold")
    table.add_column("Target")
    table.add_column("Status")
    table.add_column("Step")
    if not compact:
        table.add_column("Started", no_wrap=True)
    table.add_column("Duration", justify="right", no_wrap=True)
    table.add_column("TM-score", justify="right")
    for item in items:
        started = [] if compact else [short_time(item.get("started_at") or item.get("created_at"))]
        table.add_row(
            names.get(item["run_id"], item["run_id"]),
            str(item.get("target", "-")),
            status_text(item.get("status")),
            current_step(item),
            *started,
            duration(run_seconds(item, FINAL_STATUSES)),
            tm_score(item),
        )
    return table


def steps_table(item: dict) -> Table:
    table = Table(show_edge=False, pad_edge=False)
    for name, justify in (
        ("Step", "left"),
        ("Status", "left"),
        ("Started", "left"),
        ("Duration", "right"),
        ("Note", "left"),
    ):
        table.add_column(name, justify=justify)
    steps = item.get("steps") or {}
    for step in STEPS:
        record = steps.get(step.name) or {}
        note = []
        if record.get("cache_hit"):
            note.append("cache hit")
        if record.get("failure_reason"):
            note.append(str(record["failure_reason"]))
        table.add_row(
            step.name,
            status_text(record.get("status") or "-"),
            short_time(record.get("started_at")),
            duration(step_seconds(record)),
            "; ".join(note),
        )
    return table


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def detail(item: dict, headline: str | None = None) -> Group:
    """One run: identity, status, timings, parameters, steps, results."""
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    rows: list[tuple[str, Any]] = [
        ("Run id", item["run_id"]),
        ("Target", item.get("target")),
        ("Status", status_text(item.get("status"))),
        ("Step", current_step(item)),
        (
            "Input",
            f"s3://{item['bucket']}/{item['key']}"
            if item.get("bucket") and item.get("key")
            else None,
        ),
        ("Version", item.get("version")),
        ("Chains", item.get("chains")),
        ("Residues", item.get("residues")),
        ("Created", short_time(item.get("created_at"))),
        ("Started", short_time(item.get("started_at")) if item.get("started_at") else None),
        ("Ended", short_time(item.get("ended_at")) if item.get("ended_at") else None),
        ("Duration", duration(run_seconds(item, FINAL_STATUSES))),
        ("Execution", item.get("execution_arn")),
        ("Reason", item.get("reason") or item.get("failure_reason")),
        ("Analysis", item.get("analysis_status")),
        ("Analysis error", item.get("analysis_error")),
        ("TM-score", item.get("tm_score")),
        ("RMSD (Å)", item.get("rmsd")),
        ("Mean pLDDT", item.get("plddt_mean")),
        ("Headline", headline),
        ("Report", (item["report_uri"] + layout.REPORT_PAGE) if item.get("report_uri") else None),
    ]
    for name, value in rows:
        if value is None or value == "":
            continue
        if isinstance(value, dict):
            value = ", ".join(f"{k} {_value(v)}" for k, v in value.items())
        facts.add_row(name, value if isinstance(value, Text) else _value(value))
    parts: list[Any] = [facts]
    if item.get("parameters"):
        params = Table.grid(padding=(0, 2))
        params.add_column(style="dim")
        params.add_column()
        for name, value in sorted(item["parameters"].items()):
            params.add_row(name, _value(value))
        parts += [Text("\nParameters", style="bold"), params]
    if item.get("steps") or item.get("status") == EXECUTING:
        parts += [Text("\nSteps", style="bold"), steps_table(item)]
    return Group(*parts)
