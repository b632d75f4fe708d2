"""Following runs to their end (``submit --wait``): poll the runs table, draw, summarise."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from botocore.exceptions import ClientError
from rich.live import Live

from foldline.cli import common, progress, views
from foldline.cli.stack_config import StackConfig
from foldline.runs.table import FINAL_STATUSES, SUCCEEDED
from foldline.spec import layout
from foldline.spec.formats import is_not_found

_sleep = time.sleep  # tests replace it to move the runs on between polls


def fetch_metrics(config: StackConfig, run_id: str) -> dict | None:
    """The run's ``metrics.json``, or None where the run has no report."""
    try:
        body = (
            config.client("s3")
            .get_object(
                Bucket=config.bucket, Key=layout.report_prefix(run_id) + layout.METRICS_FILE
            )["Body"]
            .read()
        )
    except ClientError as err:
        if is_not_found(err):
            return None
        raise
    return json.loads(body)


def headline_of(config: StackConfig, run_id: str) -> str | None:
    """The analysis' one-line summary (TM-score, RMSD, pLDDTs) from its metrics.json."""
    from foldline.analysis.wording import headline

    metrics = fetch_metrics(config, run_id)
    if metrics is None:
        return None
    try:
        return headline(metrics)
    except (KeyError, TypeError):
        return None


#: what a run's status (:func:`foldline.cli.progress.run_status`) is once nothing more will come
_ENDED = FINAL_STATUSES | {progress.ANALYSIS_FAILED}


def ended(item: dict | None) -> bool:
    """Nothing more will come: a final status and, for a pipeline that succeeded, its
    analysis done or given up (the report is what --wait waits for)."""
    return item is not None and progress.run_status(item) in _ENDED


def summary_lines(config: StackConfig, item: dict) -> list[str]:
    """What a finished run says: its headline and report, or why it did not make one."""
    run_id, status = item["run_id"], item.get("status")
    lines = [f"{run_id}: {status}"]
    if status == SUCCEEDED and item.get("report_uri"):
        lines.append(f"  {headline_of(config, run_id) or 'TM-score ' + views.tm_score(item)}")
        lines.append(f"  report: {item['report_uri']}{layout.REPORT_PAGE}")
        lines.append(f"  fetch it: {common.command_line(config, 'results', run_id, '--open')}")
    elif status == SUCCEEDED:
        lines.append(
            f"  analysis {item.get('analysis_status') or 'pending'}: "
            f"{item.get('analysis_error') or 'no report'}"
        )
        for slot, uri in (item.get("model_uris") or {}).items():
            lines.append(f"  {slot} models: {uri}")
    else:
        where = f" in {item['failed_step']}" if item.get("failed_step") else ""
        reason = item.get("reason") or item.get("failure_reason") or "no reason given"
        lines.append(f"  {status.lower()}{where}: {reason}")
    return lines


def skip_probe(config: StackConfig) -> progress.SkipProbe:
    """Which finished steps of a run skipped, from their archives in the stack's bucket."""
    from foldline.outcomes.step_outputs import finished_step_status

    s3 = config.client("s3")
    return progress.SkipProbe(
        lambda run_id, step: finished_step_status(s3, config.bucket, run_id, step)
    )


def follow(
    config: StackConfig,
    run_ids: list[str],
    *,
    interval: float,
    timeout: float | None,
    started: float,
    labels: dict[str, str] | None = None,
) -> bool:
    """Show the runs live until each has ended; print their results. True if all succeeded.

    The display is :mod:`foldline.cli.progress`'s, as ``foldline local run`` shows it.
    """
    out = common.console()
    runs = config.runs()
    items: dict[str, Any] = {}
    skipped = skip_probe(config)
    changes = progress.ChangeLog()

    def states() -> list[progress.RunState]:
        return [
            progress.run_state(
                (labels or {}).get(run_id, run_id),
                run_id,
                items.get(run_id),
                skipped(run_id, items.get(run_id)),
            )
            for run_id in run_ids
        ]

    def show(live: Any) -> None:
        if out.is_terminal:
            live.update(progress.board(states()))
            return
        for line in changes.lines(states()):  # piped: a line per change, nothing redrawn
            out.print(line, markup=False)

    try:
        with (
            Live(progress.board(states()), console=out, refresh_per_second=4, transient=True)
            if out.is_terminal
            else contextlib.nullcontext()
        ) as live:
            while True:
                items = {run_id: runs.get(run_id) for run_id in run_ids}
                show(live)
                if all(ended(items[r]) for r in run_ids):
                    break
                if timeout is not None and time.monotonic() - started > timeout:
                    waiting = [r for r in run_ids if not ended(items[r])]
                    raise common.CliError(
                        f"gave up waiting after {timeout:g} s; still running: {', '.join(waiting)} "
                        f"(they go on: see `{common.command_line(config, 'status')}`)"
                    )
                _sleep(interval)
    except KeyboardInterrupt:
        raise common.CliError(
            f"stopped waiting; the runs go on (see `{common.command_line(config, 'status')}`)", 130
        ) from None
    if out.is_terminal:  # the live board was transient: leave the last one
        out.print(progress.board(states()))
    for run_id in run_ids:
        for line in summary_lines(config, items[run_id]):
            out.print(line, markup=False)
    return all(progress.run_status(items[r]) == SUCCEEDED for r in run_ids)
