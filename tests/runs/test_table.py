"""The runs table over DynamoDB's low-level client stores and returns what boto3's Table
resource did: the same item on the table, the same Python values back.

The start function gives RunsTable no resource (a low-level client is cheaper to make at
a cold start); the CLI and the local runtime give it a boto3 resource. Both must write
byte-for-byte the same attributes, so each test runs over both and reads the table back
through a plain boto3 Table resource, the way the code before this change wrote it.
"""

from __future__ import annotations

from decimal import Decimal

import boto3
import pytest
from moto import mock_aws

from foldline.runs import table as runs
from foldline.runs.record import UnknownAttribute
from foldline.runs.table import RunsTable, TableConnection, from_wire, to_wire
from tests.stack import build_stack, template_stack

STACK = template_stack()
TABLE = STACK.physical_name("RunsTable")
RUN = "xylanase-0123456789abcdef0123456789abcdef"

#: what foldline puts in runs: strings, ints, floats, bools, nested maps, lists, None
FIELDS = {
    "bucket": "b",
    "key": "inputs/x.fasta",
    "chains": 2,
    "residues": 1234,
    "big": 2**62,
    "negative": -7,
    "cost_usd": 12.345678,
    "ratio": 0.1,
    "whole_float": 3.0,
    "ok": True,
    "nothing": None,
    "empty": {},
    "parameters": {"ModelPreset": "monomer", "NumMultimerPredictionsPerModel": "5"},
    "sizing": {
        "gpu": {"memory_gib": 22.5, "count": 1, "unused": None},
        "hours": [0.25, 1, None, {"x": 1.5}],
        "notes": [],
    },
}

#: FIELDS as they come back: None left out of maps (kept as None in lists), numbers as
#: int where whole (3.0 -> 3, as DynamoDB does not keep the difference), else float
EXPECTED = {
    "bucket": "b",
    "key": "inputs/x.fasta",
    "chains": 2,
    "residues": 1234,
    "big": 2**62,
    "negative": -7,
    "cost_usd": 12.345678,
    "ratio": 0.1,
    "whole_float": 3,
    "ok": True,
    "empty": {},
    "parameters": {"ModelPreset": "monomer", "NumMultimerPredictionsPerModel": "5"},
    "sizing": {
        "gpu": {"memory_gib": 22.5, "count": 1},
        "hours": [0.25, 1, None, {"x": 1.5}],
        "notes": [],
    },
}


@pytest.fixture
def resource():
    with mock_aws():
        build_stack(STACK)  # the runs table as template.yaml defines it
        yield boto3.resource("dynamodb")


@pytest.fixture(params=["low-level client", "boto3 resource"])
def table(request, resource) -> RunsTable:
    if request.param == "low-level client":
        made = RunsTable(TABLE)  # as the Lambda functions make it
        assert not made.connection.hooked
    else:
        made = RunsTable(TABLE, resource)  # as the CLI and the local runtime make it
        assert made.connection.hooked
    return made


def stored(resource, run_id: str = RUN) -> dict:
    """The item as boto3's Table resource reads it (Decimals, sets: DynamoDB's own types)."""
    return resource.Table(TABLE).get_item(Key={"run_id": run_id}, ConsistentRead=True)["Item"]


def put_any(table: RunsTable, run_id: str, **fields) -> None:
    """Through the table's connection, which converts any attribute: the value types are
    the subject here, and RunsTable itself writes only the run record's attributes."""
    table.connection.put({"run_id": run_id, "created_at": "t", "updated_at": "t", **fields})


def test_put_and_get_round_trip_numbers_maps_lists_and_none(table, resource):
    put_any(table, RUN, status="Executing", **FIELDS)
    got = table.get(RUN)
    assert {k: got[k] for k in EXPECTED} == EXPECTED
    assert "nothing" not in got
    assert isinstance(got["whole_float"], int) and isinstance(got["cost_usd"], float)
    raw = stored(resource)
    assert raw["cost_usd"] == Decimal("12.345678") and raw["big"] == Decimal(2**62)
    assert raw["sizing"]["hours"][2] is None and "unused" not in raw["sizing"]["gpu"]


def test_both_clients_store_the_same_item(resource):
    put_any(RunsTable(TABLE), RUN, **FIELDS)
    put_any(RunsTable(TABLE, resource), "other-run", **FIELDS)
    a, b = stored(resource), stored(resource, "other-run")
    for item in (a, b):
        del item["run_id"], item["created_at"], item["updated_at"]
    assert a == b


def test_the_table_refuses_an_attribute_the_run_record_does_not_declare(table):
    with pytest.raises(UnknownAttribute, match="cost_usd"):
        table.put(RUN, bucket="b", cost_usd=1.0)
    with pytest.raises(UnknownAttribute, match="tm_scor"):
        table.update(RUN, tm_scor=0.9)
    with pytest.raises(UnknownAttribute, match="step record"):
        table.record_step(RUN, "RunMSA", stauts="Executing")
    assert table.get(RUN) is None  # nothing was written


def test_get_of_an_unknown_run_is_none(table):
    assert table.get("no-such-run") is None


def test_claim_once_then_duplicates_see_the_item(table):
    assert table.claim(RUN, key="inputs/x.fasta", residues=12, sizing={"cost_usd": 0.5}) is None
    assert table.get(RUN)["status"] == runs.STARTING
    # still Starting (a start that died mid-way): the next delivery takes over
    assert table.claim(RUN, key="inputs/x.fasta", residues=12) is None
    table.update(RUN, status=runs.EXECUTING, execution_arn="arn:x")
    duplicate = table.claim(RUN, key="inputs/x.fasta")
    assert duplicate["status"] == runs.EXECUTING and duplicate["execution_arn"] == "arn:x"
    assert duplicate["residues"] == 12


def test_update_sets_fields_skips_none_and_stamps(table, resource):
    table.put(RUN, status=runs.STARTING, reason="keep")
    table.update(RUN, status=runs.FAILED, reason=None, tm_score=1.25, sizing={"steps": ["a", "b"]})
    got = table.get(RUN)
    assert got["status"] == runs.FAILED and got["reason"] == "keep"
    assert got["tm_score"] == 1.25 and got["sizing"] == {"steps": ["a", "b"]}
    assert stored(resource)["updated_at"] >= stored(resource)["created_at"]


def test_record_step_creates_the_map_then_merges(table):
    table.put(RUN, status=runs.EXECUTING)
    table.record_step(RUN, "RunMSA", status="Executing", started_at="t0", ended_at=None)
    table.record_step(RUN, "RunAlphaFold", status="Starting", cache_hit=False)
    table.record_step(RUN, "RunMSA", status="Succeeded", training_job="msa-1")
    steps = table.get(RUN)["steps"]
    assert steps == {
        "RunMSA": {"status": "Succeeded", "training_job": "msa-1"},
        "RunAlphaFold": {"status": "Starting", "cache_hit": False},
    }


def test_recent_is_newest_first_and_skips_reserved_items(table, resource):
    for i, created in enumerate(["2026-01-02", "2026-01-03", "2026-01-01"]):
        item = {
            "run_id": f"run-{i}",
            "created_at": created,
            "status": "Succeeded",
            "n": Decimal("1.5"),
        }
        resource.Table(TABLE).put_item(Item=item)
    resource.Table(TABLE).put_item(Item={"run_id": "#concurrency-gate", "slots": {}})
    recent = table.recent()
    assert [r["run_id"] for r in recent] == ["run-1", "run-0", "run-2"]
    assert recent[0]["n"] == 1.5
    assert [r["run_id"] for r in table.recent(limit=1)] == ["run-1"]


def test_a_failed_condition_other_than_the_claim_still_raises(table):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):  # no such table: not a lost race, so not swallowed
        RunsTable("no-such-table", table.dynamodb).claim(RUN)


def test_the_table_resource_stays_available(table, resource):
    table.put(RUN, status=runs.EXECUTING)
    assert table.table.get_item(Key={"run_id": RUN})["Item"]["status"] == runs.EXECUTING
    assert TableConnection.of(table.table).get(RUN)["status"] == runs.EXECUTING


def test_wire_conversion_is_boto3s():
    values = {"a": 1.5, "b": {"c": None, "d": [None, 2]}, "e": None, "f": "x"}
    wire = to_wire(values)
    assert wire == {
        "a": {"N": "1.5"},
        "b": {"M": {"d": {"L": [{"NULL": True}, {"N": "2"}]}}},
        "f": {"S": "x"},
    }
    assert from_wire(wire) == {"a": 1.5, "b": {"d": [None, 2]}, "f": "x"}
