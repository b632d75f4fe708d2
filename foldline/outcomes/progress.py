"""The progress path: a step status change -> ``steps.<StepName>`` in the runs table.

EventBridge does not promise order: a late "Executing" must not undo a "Succeeded", so a
step already in a final status only moves to another final status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from foldline.events.pipeline import StepStatusChange, run_id_of
from foldline.runs.table import RunsTable
from foldline.spec.statuses import ACTIVE_STEP_STATUSES, FINAL_STEP_STATUSES


@dataclass(frozen=True)
class StepProgress:
    action: str  # "recorded" or "stale" (an out-of-order event, ignored)
    run_id: str
    step: str
    status: str
    cache_hit: bool = False

    def log_fields(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def step_record(change: StepStatusChange) -> dict[str, Any]:
    """The ``steps.<name>`` map for one event (None values are dropped by the table)."""
    return {
        "status": change.status,
        "type": change.step_type,
        "started_at": _iso(change.start_time),
        "ended_at": _iso(change.end_time),
        "failure_reason": change.failure_reason,
        "training_job": change.training_job_name,
        "cache_hit": change.cache_hit,
        "cache_source_execution_arn": change.cache_source_execution_arn,
        "execution_arn": change.execution_arn,
    }


def record_progress(runs: RunsTable, sagemaker: Any, change: StepStatusChange) -> StepProgress:
    """Merge one step event into the run's item and point ``current_step`` at live steps."""
    run_id = run_id_of(sagemaker, change.execution_arn)
    item = runs.get(run_id) or {}
    known = (item.get("steps") or {}).get(change.step_name) or {}
    if known.get("status") in FINAL_STEP_STATUSES and change.status not in FINAL_STEP_STATUSES:
        return StepProgress("stale", run_id, change.step_name, change.status, change.cache_hit)

    record = step_record(change)
    if known.get("started_at") and not record["started_at"]:
        record["started_at"] = known["started_at"]  # keep what an earlier event said
    runs.record_step(run_id, change.step_name, **record)
    if change.status in ACTIVE_STEP_STATUSES:
        runs.update(run_id, current_step=change.step_name)
    elif item.get("current_step") == change.step_name:
        runs.update(run_id, current_step=f"{change.step_name} {change.status.lower()}")
    return StepProgress("recorded", run_id, change.step_name, change.status, change.cache_hit)
