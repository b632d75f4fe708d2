"""The runs table (DynamoDB): one item per upload, keyed by ``run_id``.

Status moves Starting -> Executing -> Succeeded | Failed | Stopped (Rejected for bad
input). ``claim`` is the guard that lets only one start proceed per run id: a replayed
event finds the item past Starting and stops there.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.conditions import Attr

STARTING = "Starting"
EXECUTING = "Executing"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPED = "Stopped"
REJECTED = "Rejected"
FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, STOPPED, REJECTED})


def is_reserved_key(run_id: str) -> bool:
    """Items that are not runs (the concurrency gate's ``#concurrency-gate``): run ids
    start with a letter or digit."""
    return run_id.startswith("#")


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


@dataclass
class RunsTable:
    """Data access for the runs table; all writes stamp ``updated_at``."""

    table_name: str
    dynamodb: Any = None  # a boto3 DynamoDB service resource

    def __post_init__(self) -> None:
        self.dynamodb = self.dynamodb or boto3.resource("dynamodb")
        self._table = self.dynamodb.Table(self.table_name)

    @property
    def table(self) -> Any:
        """The boto3 Table (the concurrency gate keeps one reserved item in it)."""
        return self._table

    def get(self, run_id: str) -> dict | None:
        item = self._table.get_item(Key={"run_id": run_id}, ConsistentRead=True).get("Item")
        return _from_dynamo(item) if item else None

    def claim(self, run_id: str, **fields: Any) -> dict | None:
        """Create the run in status Starting, or take over one still Starting.

        Returns None when the claim succeeded, else the existing item (a duplicate).
        """
        now = utc_now()
        item = {"run_id": run_id, "status": STARTING, "created_at": now, "updated_at": now}
        item.update(fields)
        try:
            self._table.put_item(
                Item=_to_dynamo(item),
                ConditionExpression=Attr("run_id").not_exists() | Attr("status").eq(STARTING),
            )
        except self.dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
            return self.get(run_id)
        return None

    def put(self, run_id: str, **fields: Any) -> None:
        now = utc_now()
        item = {"run_id": run_id, "created_at": now, "updated_at": now, **fields}
        self._table.put_item(Item=_to_dynamo(item))

    def update(self, run_id: str, **fields: Any) -> None:
        """Set top-level attributes (None values are skipped)."""
        fields = {k: v for k, v in fields.items() if v is not None}
        fields["updated_at"] = utc_now()
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        values = {f":v{i}": _to_dynamo(v) for i, v in enumerate(fields.values())}
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        self._table.update_item(
            Key={"run_id": run_id},
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def record_step(self, run_id: str, step_name: str, **step: Any) -> None:
        """Merge one step's progress into ``steps.<name>`` (creating the map if needed)."""
        step = {k: v for k, v in step.items() if v is not None}
        try:
            self._table.update_item(
                Key={"run_id": run_id},
                UpdateExpression="SET #steps.#name = :step, updated_at = :now",
                ConditionExpression=Attr("steps").exists(),
                ExpressionAttributeNames={"#steps": "steps", "#name": step_name},
                ExpressionAttributeValues={":step": _to_dynamo(step), ":now": utc_now()},
            )
        except self.dynamodb.meta.client.exceptions.ConditionalCheckFailedException:
            self._table.update_item(
                Key={"run_id": run_id},
                UpdateExpression="SET #steps = :steps, updated_at = :now",
                ExpressionAttributeNames={"#steps": "steps"},
                ExpressionAttributeValues={
                    ":steps": {step_name: _to_dynamo(step)},
                    ":now": utc_now(),
                },
            )

    def recent(self, limit: int = 20) -> list[dict]:
        """The most recently created runs, newest first (a scan: fine at foldline's scale)."""
        items: list[dict] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = self._table.scan(**kwargs)
            items.extend(_from_dynamo(i) for i in page.get("Items", [])
                         if not is_reserved_key(i["run_id"]))  # fmt: skip
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        items.sort(key=lambda i: i.get("created_at", ""), reverse=True)
        return items[:limit]
