"""The runs table (DynamoDB): one item per upload, keyed by ``run_id``.

What an item holds is :class:`foldline.runs.record.RunRecord`; writes of attributes it
does not declare are refused.

Status moves Starting -> Executing -> Succeeded | Failed | Stopped (Rejected for bad
input). ``claim`` is the guard that lets only one start proceed per run id: a replayed
event finds the item past Starting and stops there.

Talks to DynamoDB through the low-level client, converting with boto3's own
TypeSerializer/TypeDeserializer (what boto3's Table resource does internally): the
resource costs 30-50 ms more of every cold start than the client (it loads and builds
the resource model), and the start function pays that on each new execution environment.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Unpack

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from foldline.runs.record import STEP_ATTRIBUTES, RunRecord, StepRecord, check_fields
from foldline.spec.formats import utc_now
from foldline.spec.statuses import (  # noqa: F401 - the run statuses, as runs.table names them
    EXECUTING,
    FAILED,
    FINAL_STATUSES,
    REJECTED,
    STARTING,
    STOPPED,
    SUCCEEDED,
)

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def is_reserved_key(run_id: str) -> bool:
    """Items that are not runs (the concurrency gate's ``#concurrency-gate``): run ids
    start with a letter or digit."""
    return run_id.startswith("#")


def rejection_unfinished(item: Mapping[str, Any] | None) -> bool:
    """A rejection whose notice has not gone out: its claim (:meth:`RunsTable.claim_rejection`)
    is held by a delivery still at work, or by one that failed and let go or died."""
    return (
        bool(item)
        and item.get("status") == REJECTED
        and "rejecting" in item
        and not item.get("notice_message_id")
    )


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


def to_wire(values: Mapping[str, Any]) -> dict[str, dict]:
    """Name (or ``:placeholder``) -> DynamoDB JSON (``{"S": ...}``, ``{"M": ...}`` …).

    Floats become Decimals (DynamoDB numbers are decimal) and None values are left out,
    at the top and inside maps, as everywhere in the runs table (None in a list is NULL).
    """
    return {name: _SERIALIZER.serialize(value) for name, value in _to_dynamo(dict(values)).items()}


def from_wire(item: Mapping[str, dict]) -> dict[str, Any]:
    """An item in DynamoDB JSON as plain Python (numbers as int or float)."""
    return {name: _from_dynamo(_DESERIALIZER.deserialize(value)) for name, value in item.items()}


def conditional_check_failed(err: BaseException) -> bool:
    """Whether ``err`` is DynamoDB refusing a conditional write (the condition was false)."""
    code = err.response.get("Error", {}).get("Code") if isinstance(err, ClientError) else None
    return code == "ConditionalCheckFailedException"


def _is_resource(obj: Any) -> bool:
    """A boto3 DynamoDB resource (the service, or a Table), as opposed to a client."""
    return getattr(getattr(obj, "meta", None), "client", None) is not None


@dataclass(frozen=True)
class TableConnection:
    """One DynamoDB table through a low-level client, with plain Python values in and out.

    A client that came from a boto3 resource has boto3's converters hooked into its
    events (they serialize every request's values and deserialize every response), so
    over it values already cross as plain Python; over any other client they cross as
    DynamoDB JSON, converted here with the same TypeSerializer/TypeDeserializer.
    """

    client: Any
    table_name: str
    #: True where boto3's resource hooks on ``client`` do the conversion
    hooked: bool = False

    @classmethod
    def of(cls, table: Any) -> TableConnection:
        """For a :class:`RunsTable` or a boto3 Table resource."""
        if isinstance(table, RunsTable):
            return table.connection
        return cls(table.meta.client, table.name, hooked=True)

    def values(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return _to_dynamo(dict(values)) if self.hooked else to_wire(values)

    def item(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return _from_dynamo(dict(raw)) if self.hooked else from_wire(raw)

    def key(self, run_id: str) -> dict[str, Any]:
        return self.values({"run_id": run_id})

    def get(self, run_id: str, **kwargs: Any) -> dict | None:
        """The item of ``run_id`` (a consistent read), or None."""
        raw = self.client.get_item(
            TableName=self.table_name, Key=self.key(run_id), ConsistentRead=True, **kwargs
        ).get("Item")
        return self.item(raw) if raw is not None else None

    def put(self, item: Mapping[str, Any], **kwargs: Any) -> None:
        self.client.put_item(TableName=self.table_name, Item=self.values(item), **kwargs)

    def update(
        self, run_id: str, *, values: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """UpdateItem on ``run_id``; ``values`` are the ExpressionAttributeValues."""
        if values:
            kwargs["ExpressionAttributeValues"] = self.values(values)
        self.client.update_item(TableName=self.table_name, Key=self.key(run_id), **kwargs)

    def scan(self) -> Iterator[dict[str, Any]]:
        kwargs: dict[str, Any] = {"TableName": self.table_name}
        while True:
            page = self.client.scan(**kwargs)
            yield from (self.item(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@dataclass
class RunsTable:
    """Data access for the runs table; all writes stamp ``updated_at``."""

    table_name: str
    #: a boto3 DynamoDB client or service resource; None: a new low-level client
    dynamodb: Any = None
    connection: TableConnection = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.dynamodb is None:
            self.connection = TableConnection(boto3.client("dynamodb"), self.table_name)
        elif _is_resource(self.dynamodb):
            self.connection = TableConnection(
                self.dynamodb.meta.client, self.table_name, hooked=True
            )
        else:
            self.connection = TableConnection(self.dynamodb, self.table_name)
        self._table: Any = None

    @property
    def client(self) -> Any:
        """The DynamoDB client it talks through."""
        return self.connection.client

    @property
    def table(self) -> Any:
        """boto3's Table resource for this table, made on first use (foldline's Lambdas do
        not use it: a resource costs 30-50 ms more of a cold start than the client)."""
        if self._table is None:
            resource = self.dynamodb
            if not _is_resource(resource):
                resource = boto3.resource(
                    "dynamodb",
                    region_name=self.client.meta.region_name,
                    endpoint_url=self.client.meta.endpoint_url,
                )
            self._table = resource.Table(self.table_name)
        return self._table

    def get(self, run_id: str) -> RunRecord | None:
        return self.connection.get(run_id)

    def claim(self, run_id: str, **fields: Unpack[RunRecord]) -> RunRecord | None:
        """Create the run in status Starting, or take over one still Starting.

        Returns None when the claim succeeded, else the existing item (a duplicate).
        """
        check_fields(fields)
        now = utc_now()
        item = {"run_id": run_id, "status": STARTING, "created_at": now, "updated_at": now}
        item.update(fields)
        try:
            self.connection.put(
                item,
                ConditionExpression="attribute_not_exists(#run_id) OR #status = :starting",
                ExpressionAttributeNames={"#run_id": "run_id", "#status": "status"},
                ExpressionAttributeValues=self.connection.values({":starting": STARTING}),
            )
        except ClientError as err:
            if not conditional_check_failed(err):
                raise
            return self.get(run_id)
        return None

    def put(self, run_id: str, **fields: Unpack[RunRecord]) -> None:
        check_fields(fields)
        now = utc_now()
        self.connection.put({"run_id": run_id, "created_at": now, "updated_at": now, **fields})

    # -- rejections: one notice however many deliveries race ----------------------------

    def claim_rejection(
        self, run_id: str, token: str, lease_s: float, **fields: Unpack[RunRecord]
    ) -> bool:
        """Record the run as Rejected and take the right to send its one notice.

        Succeeds where the run is new or still Starting, or is Rejected without a notice
        and the last claim was let go or has lapsed (its holder died mid-way); fails
        (False) while another delivery holds a live claim, and once the notice went out
        (or where a rejection predates claims: no ``rejecting`` record, nothing to redo).
        The holder lets go with :meth:`release_rejection` when it fails, so its own retry
        need not wait out the lease.
        """
        check_fields(fields)
        now = _dt.datetime.now(_dt.UTC)
        until = (now + _dt.timedelta(seconds=lease_s)).isoformat(timespec="milliseconds")
        item = {
            "run_id": run_id,
            "status": REJECTED,
            "created_at": utc_now(),
            "updated_at": utc_now(),
            **fields,
            "rejecting": {"token": token, "until": until},
        }
        try:
            self.connection.put(
                item,
                ConditionExpression=(
                    "attribute_not_exists(#run_id) OR #status = :starting OR (#status = :rejected"
                    " AND attribute_not_exists(notice_message_id) AND rejecting.#until < :now)"
                ),
                ExpressionAttributeNames={
                    "#run_id": "run_id",
                    "#status": "status",
                    "#until": "until",
                },
                ExpressionAttributeValues=self.connection.values(
                    {
                        ":starting": STARTING,
                        ":rejected": REJECTED,
                        ":now": now.isoformat(timespec="milliseconds"),
                    }
                ),
            )
        except ClientError as err:
            if not conditional_check_failed(err):
                raise
            return False
        return True

    def release_rejection(self, run_id: str, token: str) -> None:
        """Let go of a rejection claim this delivery holds (it failed before the notice):
        the claim lapses at once, so the next delivery takes it over."""
        try:
            self.connection.update(
                run_id,
                UpdateExpression="SET rejecting.#until = :lapsed",
                ConditionExpression="rejecting.#token = :token",
                ExpressionAttributeNames={"#token": "token", "#until": "until"},
                values={":token": token, ":lapsed": "1970-01-01T00:00:00.000+00:00"},
            )
        except ClientError as err:
            if not conditional_check_failed(err):
                raise

    def rejection_notified(self, run_id: str, message_id: str) -> None:
        """The rejection's notice went out: the claim is done."""
        self.connection.update(
            run_id,
            UpdateExpression="SET notice_message_id = :id, notified_at = :now, updated_at = :now"
            " REMOVE rejecting",
            values={":id": message_id, ":now": utc_now()},
        )

    def count_start_refusal(self, run_id: str) -> int:
        """One more StartPipelineExecution that SageMaker refused for ``run_id``; how many so far."""
        response = self.connection.client.update_item(
            TableName=self.connection.table_name,
            Key=self.connection.key(run_id),
            UpdateExpression="ADD start_refusals :one SET updated_at = :now",
            ExpressionAttributeValues=self.connection.values({":one": 1, ":now": utc_now()}),
            ReturnValues="UPDATED_NEW",
        )
        return int(self.connection.item(response["Attributes"])["start_refusals"])

    def update(
        self, run_id: str, *, remove: tuple[str, ...] = (), **fields: Unpack[RunRecord]
    ) -> None:
        """Set top-level attributes (None values are skipped); ``remove`` others."""
        check_fields([*fields, *remove])
        fields = {k: v for k, v in fields.items() if v is not None}
        fields["updated_at"] = utc_now()
        names = {f"#f{i}": k for i, k in enumerate(fields)}
        names.update({f"#r{i}": k for i, k in enumerate(remove)})
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields)))
        if remove:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(remove)))
        self.connection.update(
            run_id,
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            values={f":v{i}": v for i, v in enumerate(fields.values())},
        )

    def record_step(self, run_id: str, step_name: str, **step: Unpack[StepRecord]) -> None:
        """Merge one step's progress into ``steps.<name>`` (creating the map if needed)."""
        check_fields(step, STEP_ATTRIBUTES, f"a step record ({step_name})")
        step = {k: v for k, v in step.items() if v is not None}
        try:
            self.connection.update(
                run_id,
                UpdateExpression="SET #steps.#name = :step, updated_at = :now",
                ConditionExpression="attribute_exists(#steps)",
                ExpressionAttributeNames={"#steps": "steps", "#name": step_name},
                values={":step": step, ":now": utc_now()},
            )
        except ClientError as err:
            if not conditional_check_failed(err):
                raise
            self.connection.update(
                run_id,
                UpdateExpression="SET #steps = :steps, updated_at = :now",
                ExpressionAttributeNames={"#steps": "steps"},
                values={":steps": {step_name: step}, ":now": utc_now()},
            )

    def recent(self, limit: int = 20) -> list[RunRecord]:
        """The most recently created runs, newest first (a scan: fine at foldline's scale)."""
        items = [i for i in self.connection.scan() if not is_reserved_key(i["run_id"])]
        items.sort(key=lambda i: i.get("created_at", ""), reverse=True)
        return items[:limit]
