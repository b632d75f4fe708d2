"""The concurrency gate: never more than ``FOLDLINE_MAX_CONCURRENT_EXECUTIONS`` runs at once.

SageMaker refuses executions beyond the account's quota, and a burst of uploads (1,000
FASTA files dropped at once) must neither lose runs nor start them twice. The gate is
one item in the runs table under a reserved key (:data:`GATE_KEY`, which no run id can
be: run ids start with a letter or digit). Its ``slots`` map holds run id -> the time the
run took its slot; the number of entries is the number of runs holding a slot.

- **acquire** (start path, after the run is claimed, before StartPipelineExecution): one
  conditional UpdateItem ``SET slots.<run> = now IF slots.<run> exists OR size(slots) <
  cap``. DynamoDB applies a conditional write atomically, so any number of start-function
  instances together never hold more than ``cap`` slots; a run that already holds its
  slot (a redelivered or throttled start) takes it again without taking a second.
- **release** (end-of-run paths: the analysis function for Succeeded, the notify function
  for Failed and Stopped): ``REMOVE slots.<run> IF slots.<run> exists``. Only the run that
  holds a slot can free it, and only once: replays of the end event free nothing more.
- **reconcile** (self-healing, at most once a minute, when the gate says full): an end
  event that never arrived must not block the gate forever. ListPipelineExecutions says
  which holders still execute; a holder whose execution ended, or whose run the runs table
  shows as ended, is released; a holder with no execution at all (its start failed and the
  message went to the DLQ) is released after a grace period longer than any start attempt.

When the gate is full the upload waits on the queue: see :class:`Deferrer`.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from foldline.runs import table as runs_mod
from foldline.spec.statuses import ACTIVE_EXECUTION_STATUSES

log = logging.getLogger("foldline.intake.concurrency")

#: the runs-table key of the gate item (``RunsTable.recent`` skips it)
GATE_KEY = "#concurrency-gate"
#: the stack parameter MaxConcurrentExecutions, as the start function reads it
CAP_ENV = "FOLDLINE_MAX_CONCURRENT_EXECUTIONS"
#: message attribute counting how often an upload was put back to wait for a slot
DEFERRALS_ATTRIBUTE = "foldline-deferrals"
#: SQS's largest DelaySeconds
MAX_SQS_DELAY_S = 900


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def _stamp(moment: _dt.datetime) -> str:
    """Fixed-width UTC timestamps, so DynamoDB's string comparison orders them."""
    return moment.astimezone(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(stamp: str) -> _dt.datetime:
    return _dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=_dt.UTC)


def cap_from_env() -> int | None:
    """The configured cap, or None where the stack sets none (the gate is then off)."""
    value = os.environ.get(CAP_ENV, "").strip()
    if not value:
        return None
    cap = int(value)
    if cap < 1:
        raise ValueError(f"{CAP_ENV} must be at least 1, got {cap}")
    return cap


class GateFull(Exception):
    """Every slot is taken: the upload must wait (it is not a failure)."""

    def __init__(self, run_id: str, in_use: int, cap: int) -> None:
        super().__init__(f"{run_id}: {in_use} of {cap} execution slots in use")
        self.run_id = run_id
        self.in_use = in_use
        self.cap = cap


def release_slot(table: Any, run_id: str) -> bool:
    """Free the slot ``run_id`` holds; False (and nothing changed) where it holds none.

    ``table`` is the runs table: a :class:`~foldline.runs.table.RunsTable` or a boto3 Table
    resource. Safe to call for every final status event, replays included, and in stacks
    without a gate item.
    """
    try:
        runs_mod.TableConnection.of(table).update(
            GATE_KEY,
            UpdateExpression="REMOVE slots.#run SET updated_at = :now",
            ConditionExpression="attribute_exists(slots.#run)",
            ExpressionAttributeNames={"#run": run_id},
            values={":now": _stamp(_now())},
        )
    except Exception as err:
        if runs_mod.conditional_check_failed(err):
            return False
        raise
    log.debug("released the execution slot of %s", run_id)
    return True


def release_run_slot(runs: runs_mod.RunsTable, run_id: str) -> bool:
    """:func:`release_slot` on a :class:`~foldline.runs.table.RunsTable` (the end-of-run paths)."""
    return release_slot(runs, run_id)


@dataclass
class ConcurrencyGate:
    """Slots for pipeline executions, shared by every start-function instance."""

    table: Any  # the runs table: a foldline.runs.table.RunsTable, or a boto3 Table resource
    cap: int
    sagemaker: Any
    pipeline_name: str
    #: a holder with no execution and a run still Starting is released after this long:
    #: longer than any start attempt (the function times out after 60 s)
    grace_s: float = 900.0
    #: least time between two reconciliations (ListPipelineExecutions), across instances
    reconcile_every_s: float = 60.0
    clock: Callable[[], _dt.datetime] = _now
    _ready: bool = field(default=False, init=False, repr=False)

    @property
    def _db(self) -> runs_mod.TableConnection:
        return runs_mod.TableConnection.of(self.table)

    # -- the item ----------------------------------------------------------------------------

    def _ensure_item(self) -> None:
        """Create the gate item with an empty ``slots`` map, once (SET slots.x needs the map)."""
        if self._ready:
            return
        try:
            self._db.put(
                {"run_id": GATE_KEY, "slots": {}, "created_at": _stamp(self.clock())},
                ConditionExpression="attribute_not_exists(run_id)",
            )
        except Exception as err:
            if not runs_mod.conditional_check_failed(err):
                raise
        self._ready = True

    def _item_exists(self) -> bool:
        return self._db.get(GATE_KEY, ProjectionExpression="run_id") is not None

    def holders(self) -> dict[str, _dt.datetime]:
        """Run id -> when it took its slot (a consistent read)."""
        item = self._db.get(GATE_KEY)
        return {run: _parse(at) for run, at in ((item or {}).get("slots") or {}).items()}

    # -- acquire / release -------------------------------------------------------------------

    def _try_acquire(self, run_id: str) -> bool:
        try:
            self._db.update(
                GATE_KEY,
                UpdateExpression="SET slots.#run = :now, updated_at = :now",
                ConditionExpression="attribute_exists(slots.#run)"
                " OR (attribute_exists(slots) AND size(slots) < :cap)",
                ExpressionAttributeNames={"#run": run_id},
                values={":now": _stamp(self.clock()), ":cap": self.cap},
            )
        except ClientError as err:
            if runs_mod.conditional_check_failed(err):
                return False
            raise
        return True

    def acquire(self, run_id: str) -> None:
        """Take a slot for ``run_id`` (again, if it holds one); raise GateFull if none is free."""
        self._ensure_item()
        if self._try_acquire(run_id):
            return
        if not self._item_exists():  # deleted since this instance made it: make it again
            self._ready = False
            self._ensure_item()
            if self._try_acquire(run_id):
                return
        try:
            released = self.reconcile()
        except ClientError as err:  # a throttled List call must not fail the start: wait
            log.warning("could not reconcile the concurrency gate: %s", err)
            released = []
        if released and self._try_acquire(run_id):
            return
        raise GateFull(run_id, len(self.holders()), self.cap)

    def release(self, run_id: str) -> bool:
        return release_slot(self.table, run_id)

    # -- self-healing ------------------------------------------------------------------------

    def _claim_reconcile_turn(self) -> bool:
        """At most one reconciliation per ``reconcile_every_s``, whichever instance asks."""
        now = self.clock()
        cutoff = _stamp(now - _dt.timedelta(seconds=self.reconcile_every_s))
        try:
            self._db.update(
                GATE_KEY,
                UpdateExpression="SET reconciled_at = :now",
                ConditionExpression="attribute_not_exists(reconciled_at)"
                " OR reconciled_at < :cutoff",
                values={":now": _stamp(now), ":cutoff": cutoff},
            )
        except Exception as err:
            if runs_mod.conditional_check_failed(err):
                return False
            raise
        return True

    def _execution_statuses(self, since: _dt.datetime) -> dict[str, str]:
        """Display name (= run id) -> status, for this pipeline's executions since ``since``."""
        statuses: dict[str, str] = {}
        kwargs: dict[str, Any] = {
            "PipelineName": self.pipeline_name,
            "CreatedAfter": since,
            "SortBy": "CreationTime",
            "SortOrder": "Descending",
            "MaxResults": 100,
        }
        while True:
            page = self.sagemaker.list_pipeline_executions(**kwargs)
            for summary in page.get("PipelineExecutionSummaries", []):
                name = summary.get("PipelineExecutionDisplayName")
                if name and name not in statuses:  # newest first: the latest attempt wins
                    statuses[name] = summary.get("PipelineExecutionStatus", "")
            if not page.get("NextToken"):
                return statuses
            kwargs["NextToken"] = page["NextToken"]

    def reconcile(self, *, force: bool = False) -> list[str]:
        """Release slots whose runs no longer execute; returns the run ids released."""
        if not force and not self._claim_reconcile_turn():
            return []
        holders = self.holders()
        if not holders:
            return []
        now = self.clock()
        # an execution starts after its run took the slot, but a redelivered start renews
        # the stamp of a run that may have started earlier: look back a day besides
        since = min(holders.values()) - _dt.timedelta(days=1)
        statuses = self._execution_statuses(since)
        released = []
        for run_id, taken_at in holders.items():
            status = statuses.get(run_id)
            if status in ACTIVE_EXECUTION_STATUSES:
                continue
            if status is None:  # no execution (yet): is a start still in flight?
                item = self._db.get(run_id)
                ended = bool(item) and item.get("status") in runs_mod.FINAL_STATUSES
                if not ended and (now - taken_at).total_seconds() < self.grace_s:
                    continue
            if self._release_if_unchanged(run_id, taken_at):
                released.append(run_id)
        if released:
            log.warning(
                "reconciled the concurrency gate: released %d stale slots: %s",
                len(released),
                ", ".join(sorted(released)),
            )
        return released

    def _release_if_unchanged(self, run_id: str, taken_at: _dt.datetime) -> bool:
        """Release unless the run took its slot again since we looked (a retry in flight)."""
        try:
            self._db.update(
                GATE_KEY,
                UpdateExpression="REMOVE slots.#run",
                ConditionExpression="slots.#run = :taken",
                ExpressionAttributeNames={"#run": run_id},
                values={":taken": _stamp(taken_at)},
            )
        except Exception as err:
            if runs_mod.conditional_check_failed(err):
                return False
            raise
        return True


# ---------------------------------------------------------------------------------------
# waiting for a slot


#: Jitter from the operating system's entropy at each draw, not from ``random``'s state:
#: the start function runs under Lambda SnapStart, which resumes every new execution
#: environment from one snapshot, ``random``'s state included, so they would all draw
#: the same "random" delays and retry in step.
_ENTROPY = random.SystemRandom()


@dataclass(frozen=True)
class Backoff:
    """How long an upload waits before it asks for a slot again (seconds, with jitter)."""

    base_s: float = 20.0
    max_s: float = MAX_SQS_DELAY_S

    def delay(self, deferrals: int, rng: random.Random | None = None) -> int:
        """Exponential in the number of earlier deferrals, full jitter in its upper half."""
        ceiling = min(self.max_s, self.base_s * 2 ** min(deferrals, 16))
        jitter = (rng or _ENTROPY).uniform(0.5, 1.0)
        return int(min(MAX_SQS_DELAY_S, round(ceiling * jitter)))


@dataclass
class Deferrer:
    """Puts an upload that found the gate full back on the start queue, delayed.

    Why a new message and not a batch item failure (or ChangeMessageVisibility): every
    receive of the same message counts toward the queue's maxReceiveCount, and a burst
    can wait for hours behind the cap, so the waiting would push good uploads into the
    dead-letter queue (raising maxReceiveCount instead would let real failures, like
    an S3 error, retry for hours before anyone hears of them). A fresh copy starts its
    receive count at zero; the handler reports the old message processed only after the
    send succeeded, so the upload is on the queue at every moment. Should the old one
    come back anyway (its delete failed), the run's claim and the ClientRequestToken make
    the second start a no-op: at most one execution per upload either way.
    """

    sqs: Any
    queue_url: str
    backoff: Backoff = field(default_factory=Backoff)

    def defer(self, body: str, attributes: dict[str, Any] | None = None) -> tuple[int, int]:
        """Send ``body`` again with a delay; returns (delay seconds, deferrals so far)."""
        deferrals = deferrals_of(attributes) + 1
        delay = self.backoff.delay(deferrals - 1)
        self.sqs.send_message(
            QueueUrl=self.queue_url,
            MessageBody=body,
            DelaySeconds=delay,
            MessageAttributes={
                DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals)}
            },
        )
        return delay, deferrals


def deferrals_of(attributes: dict[str, Any] | None) -> int:
    """The deferral count from SQS message attributes (Lambda's or ReceiveMessage's shape)."""
    value = (attributes or {}).get(DEFERRALS_ATTRIBUTE) or {}
    text = value.get("stringValue") or value.get("StringValue") or "0"
    try:
        return max(0, int(text))
    except ValueError:
        return 0


def gate_summary(gate: ConcurrencyGate) -> dict[str, Any]:
    """For logs and the CLI: slots in use, the cap, and the holders."""
    holders = gate.holders()
    return {"in_use": len(holders), "cap": gate.cap, "holders": sorted(holders)}
