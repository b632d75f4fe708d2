"""The start function and the genetic databases: a run is admitted only for a DbPreset whose
setup finished (its ready record, written last by the setup job), through the real start path.

The ``stack`` fixture records both presets ready (as after `foldline setup databases`);
these tests take the records away, or put them back, the way the setup job writes them.
"""

from __future__ import annotations

import json

import pytest

from foldline.databases import presets as genetic_databases
from foldline.spec import layout
from foldline.spec.parameters import DB_PRESETS
from tests.conftest import DATA, load_handler, sqs_batch
from tests.moto_stack import BUCKET, RUNS_TABLE

FASTA_6KWC = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()


@pytest.fixture
def start(stack, lambda_context):
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()  # one context (and readiness cache) per test, as per container

    def invoke(events: list[dict]) -> dict:
        return app.lambda_handler(sqs_batch(events), lambda_context)

    return invoke


def only_ready(stack, *presets: str) -> None:
    for preset in DB_PRESETS:
        if preset not in presets:
            stack.s3.delete_object(Bucket=BUCKET, Key=layout.databases_ready_key(preset))


def run_parameters(stack, execution: dict) -> dict[str, str]:
    listed = stack.sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    return {p["Name"]: p["Value"] for p in listed}


def reason_of(stack, name: str) -> dict:
    body = stack.s3.get_object(Bucket=BUCKET, Key=layout.reason_key(f"inputs/{name}"))["Body"]
    return json.loads(body.read())


def test_no_databases_refuses_the_upload_and_names_the_command(stack, start):
    only_ready(stack)
    assert start(stack.put("inputs/6kwc.fasta", FASTA_6KWC)) == {"batchItemFailures": []}

    assert stack.executions() == []
    reason = reason_of(stack, "6kwc.fasta")
    assert reason["code"] == "databases_not_ready"
    assert "DbPreset=full_dbs" in reason["reason"]
    assert "`foldline setup databases --preset full_dbs`" in reason["reason"]
    assert f"s3://{BUCKET}/{layout.DATABASES}" in reason["reason"]
    assert layout.rejected_key("inputs/6kwc.fasta") in stack.keys("rejected/")
    (notice,) = stack.notices()
    assert "foldline setup databases --preset full_dbs" in notice["Message"]


def test_a_run_starts_once_the_setup_has_written_its_ready_record(stack, start):
    """No stale "not ready" answer: the record written between two uploads counts at once."""
    only_ready(stack)
    start(stack.put("inputs/first.fasta", FASTA_6KWC))
    assert stack.executions() == []
    genetic_databases.write_ready(stack.s3, BUCKET, "full_dbs", source="setup job test")
    start(stack.put("inputs/second.fasta", FASTA_6KWC))
    (execution,) = stack.executions()
    assert execution["PipelineExecutionDisplayName"].startswith("second-")
    assert run_parameters(stack, execution)["DbPreset"] == "full_dbs"


def test_an_untagged_upload_runs_with_the_preset_the_stack_has(stack, start):
    only_ready(stack, "reduced_dbs")
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC))
    (execution,) = stack.executions()
    assert run_parameters(stack, execution)["DbPreset"] == "reduced_dbs"
    table = stack.dynamodb.Table(RUNS_TABLE)
    item = table.get_item(Key={"run_id": execution["PipelineExecutionDisplayName"]})["Item"]
    assert item["parameters"]["DbPreset"] == "reduced_dbs"
    assert "full_dbs are not set up" in item["db_preset_note"]
    from foldline.intake.plan import run_notes

    assert item["db_preset_note"] in run_notes(item)  # the report and the notices say so


def test_a_pinned_preset_the_stack_lacks_is_refused_with_the_other_as_a_way_out(stack, start):
    only_ready(stack, "reduced_dbs")
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="DbPreset=full_dbs"))
    assert stack.executions() == []
    reason = reason_of(stack, "6kwc.fasta")["reason"]
    assert "asked for by the upload's tag" in reason
    assert (
        "DbPreset=reduced_dbs" in reason and "foldline setup databases --preset full_dbs" in reason
    )


def test_bad_fasta_is_refused_for_what_it_is_not_for_the_databases(stack, start):
    only_ready(stack)
    start(stack.put("inputs/dna.fasta", b">gene\nATGGCGTACGATCGATCGATCGTAGCTAGCTAGCTAGCATCG\n"))
    assert reason_of(stack, "dna.fasta")["code"] != "databases_not_ready"


def test_a_found_preset_is_not_looked_up_again_within_the_ttl(stack):
    calls = []
    stack.s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **kw: calls.append(kw))
    clock = iter([0.0, 1.0, 2.0, 700.0]).__next__
    readiness = genetic_databases.Readiness(stack.s3, ttl_s=600, clock=clock)
    assert readiness.choose(BUCKET, None) == ("full_dbs", None)
    assert readiness.choose(BUCKET, None) == ("full_dbs", None)
    assert readiness.choose(BUCKET, "reduced_dbs") == ("reduced_dbs", None)
    assert len(calls) == 1  # one listing answered all three
    assert readiness.choose(BUCKET, None) == ("full_dbs", None)  # ttl passed: looked up again
    assert len(calls) == 2
