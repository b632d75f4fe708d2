"""The start function under moto: real S3 events in, pipeline executions (or rejections) out."""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber

from foldline.spec import layout
from foldline.spec.parameters import PIPELINE_NAME
from foldline.steps import msa_cache
from tests.conftest import DATA
from tests.moto_stack import BUCKET

FASTA_6KWC = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()
SEQ_6KWC = FASTA_6KWC.decode().split("\n", 1)[1].replace("\n", "")


def run_parameters(stack) -> dict[str, str]:
    (execution,) = stack.executions()
    listed = stack.sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    return {p["Name"]: p["Value"] for p in listed}


def runs_item(stack, run_id: str) -> dict:
    import os

    table = stack.dynamodb.Table(os.environ["RUNS_TABLE"])
    return table.get_item(Key={"run_id": run_id})["Item"]


def test_a_valid_upload_starts_exactly_one_execution_with_the_right_parameters(stack, start):
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    assert len(events) == 1

    assert start(events) == {"batchItemFailures": []}

    (execution,) = stack.executions()
    params = run_parameters(stack)
    run_id = execution["PipelineExecutionDisplayName"]
    assert run_id.startswith("6kwc-")
    assert params == {
        "FastaInputS3URI": f"s3://{BUCKET}/runs/{run_id}/input/",
        "FastaFileName": "6kwc.fasta",
        "DbPreset": "full_dbs",
        "MaxTemplateDate": events[0]["time"][:10],
        "ModelPreset": "monomer",
        "NumMultimerPredictionsPerModel": "5",
        # sized by length (foldline.intake.sizing): 191 residues fit the cheapest GPU family
        "MSAInstanceType": "ml.m5.4xlarge",
        "InferenceInstanceType": "ml.g5.2xlarge",
        # the stack's MsaEngine (the start function's FOLDLINE_MSA_ENGINE), unresolved
        "MsaEngine": msa_cache.engine_choice(),
        "RunId": run_id,
        "MsaCacheS3URI": msa_cache.cache_uri(
            BUCKET,
            msa_cache.cache_key(
                [SEQ_6KWC],
                db_preset="full_dbs",
                max_template_date=events[0]["time"][:10],
                model_preset="monomer",
                engine=msa_cache.resolve_engine(),
            ).key,
        ),
    }
    copied = stack.s3.get_object(Bucket=BUCKET, Key=f"runs/{run_id}/input/6kwc.fasta")
    assert copied["Body"].read().decode() == f">6KWC_1\n{SEQ_6KWC}\n"
    item = runs_item(stack, run_id)
    assert item["status"] == "Executing"
    assert item["execution_arn"] == execution["PipelineExecutionArn"]
    assert item["key"] == "inputs/6kwc.fasta"
    assert stack.notices() == []


def test_the_same_event_again_starts_nothing(stack, start):
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    start(events)
    start(events)
    start(events + events)
    assert len(stack.executions()) == 1


def test_a_new_version_of_the_same_file_is_a_new_run(stack, start):
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC))
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC))
    runs = {e["PipelineExecutionDisplayName"] for e in stack.executions()}
    assert len(runs) == 2


def test_several_chains_choose_multimer(stack, start):
    body = b">A\n" + SEQ_6KWC[:120].encode() + b"\n>B\n" + SEQ_6KWC[60:].encode() + b"\n"
    start(stack.put("inputs/dimer.fa", body))
    assert run_parameters(stack)["ModelPreset"] == "multimer"


def test_tags_override_run_parameters(stack, start):
    tags = "ModelPreset=monomer_ptm&MaxTemplateDate=2021-11-01&DbPreset=reduced_dbs&owner=lab"
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags=tags))
    params = run_parameters(stack)
    assert params["ModelPreset"] == "monomer_ptm"
    assert params["MaxTemplateDate"] == "2021-11-01"
    assert params["DbPreset"] == "reduced_dbs"


def test_an_msa_engine_tag_picks_the_runs_engine_and_its_cache_key(stack, start):
    """MsaEngine on the upload wins over the stack's: the pipeline parameter the MSA job
    reads, and the MSA cache key the start function computes, are that engine's."""
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="MsaEngine=mmseqs2"))
    params = run_parameters(stack)
    assert params["MsaEngine"] == "mmseqs2"
    key = msa_cache.cache_key(
        [SEQ_6KWC],
        db_preset="full_dbs",
        max_template_date=params["MaxTemplateDate"],
        model_preset="monomer",
        engine="mmseqs2",
    ).key
    assert params["MsaCacheS3URI"] == msa_cache.cache_uri(BUCKET, key)
    assert msa_cache.resolve_engine() != "mmseqs2"  # so the tag, not the stack, chose it


def test_a_bad_msa_engine_tag_is_rejected_with_the_engines_allowed(stack, start):
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="MsaEngine=hhblits"))
    assert stack.executions() == []
    reason = json.loads(
        stack.s3.get_object(
            Bucket=BUCKET, Key=layout.rejected_key("inputs/6kwc.fasta") + ".reason.json"
        )["Body"].read()
    )
    assert "MsaEngine 'hhblits' is not allowed" in json.dumps(reason)
    assert "mmseqs2" in json.dumps(reason)


def test_tags_are_read_only_for_an_upload_that_has_some(stack, start):
    """HeadObject's TagCount decides: no GetObjectTagging call for an untagged upload."""
    calls = []
    start.app.start_context().s3.meta.events.register(
        "before-call.s3.GetObjectTagging", lambda **kwargs: calls.append(kwargs["params"])
    )
    start(stack.put("inputs/plain.fasta", FASTA_6KWC))
    assert calls == []
    start(stack.put("inputs/tagged.fasta", FASTA_6KWC, tags="DbPreset=reduced_dbs"))
    assert len(calls) == 1
    by_name = {e["PipelineExecutionDisplayName"].split("-")[0]: e for e in stack.executions()}
    assert set(by_name) == {"plain", "tagged"}
    tagged = stack.sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=by_name["tagged"]["PipelineExecutionArn"]
    )["PipelineParameters"]
    assert {p["Name"]: p["Value"] for p in tagged}["DbPreset"] == "reduced_dbs"


LONG = b">long\n" + (b"MKVLAAGGKKLLMMSSTTVVWWYYEEDDNNQQ" * 94)[:3000] + b"\n"


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        (
            "dna.fasta",
            b">gene\nATGGCGTACGATCGATCGATCGTAGCTAGCTAGCTAGCATCG\n",
            ["nucleotide", "DNA"],
        ),
        ("empty.fasta", b"", ["empty"]),
        ("long.fasta", LONG, ["3,000 residues", "2,500"]),
        ("stops.fasta", b">x\nMKVLAJGGKKLLMMSS*TVVWW\n", ["'J'", "'*'", "J at 6", "'*' at 17"]),
    ],
)
def test_bad_input_is_kept_under_rejected_with_a_reason_and_a_notice(
    stack, start, name, body, words
):
    key = f"inputs/{name}"
    start(stack.put(key, body))

    assert stack.executions() == []
    assert stack.keys("inputs/") == []
    kept = stack.s3.get_object(Bucket=BUCKET, Key=layout.rejected_key(key))["Body"].read()
    assert kept == body
    reason = json.loads(
        stack.s3.get_object(Bucket=BUCKET, Key=layout.reason_key(key))["Body"].read()
    )
    for word in words:
        assert word in reason["reason"]
    (notice,) = stack.notices()
    assert "rejected" in notice["Subject"]
    assert reason["reason"] in notice["Message"]
    assert notice["MessageAttributes"]["status"]["Value"] == "rejected"
    assert runs_item(stack, reason["run_id"])["status"] == "Rejected"


def test_a_replayed_rejection_notifies_once(stack, start):
    events = stack.put("inputs/dna.fasta", b">g\nACGTACGTACGTACGTACGTACGT\n")
    start(events)
    start(events)
    assert len(stack.notices()) == 1


def test_a_bad_tag_override_is_rejected(stack, start):
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="InferenceInstanceType=ml.t2.micro"))
    assert stack.executions() == []
    (notice,) = stack.notices()
    assert "InferenceInstanceType" in notice["Message"] and "ml.t2.micro" in notice["Message"]


def test_a_file_without_a_fasta_suffix_is_rejected_without_being_read(stack, start):
    start(stack.put("inputs/notes.txt", b"hello"))
    (notice,) = stack.notices()
    assert "FASTA suffix" in notice["Message"]
    assert stack.keys("rejected/") == ["rejected/notes.txt", "rejected/notes.txt.reason.json"]


def test_url_encoded_keys_in_events_are_resolved(stack, start):
    events = stack.put("inputs/my target+1.fasta", FASTA_6KWC)
    events[0]["detail"]["object"]["key"] = "inputs/my+target%2B1.fasta"
    start(events)
    (execution,) = stack.executions()
    assert execution["PipelineExecutionDisplayName"].startswith("my-target-1-")


def test_throttling_leaves_the_message_for_a_retry_then_the_run_starts(stack, start):
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    real = start.app.start_context()
    stubber = Stubber(real.sagemaker)
    stubber.add_client_error(
        "start_pipeline_execution", service_error_code="ThrottlingException", http_status_code=400
    )
    with stubber:
        result = start(events)
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    assert stack.executions() == []

    assert start(events) == {"batchItemFailures": []}  # the redelivery
    assert len(stack.executions()) == 1


def test_other_s3_event_types_are_ignored(stack, start):
    stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="a=b")
    tag_events = [
        {
            "version": "0",
            "source": "aws.s3",
            "detail-type": "Object Tags Added",
            "time": "2026-11-26T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": "inputs/6kwc.fasta"}},
        }
    ]
    assert start(tag_events) == {"batchItemFailures": []}
    assert stack.executions() == []


def test_pipeline_name_comes_from_the_environment(stack, start, monkeypatch):
    assert start.app.start_context().pipeline_name == PIPELINE_NAME


def _with_spend_limits(monkeypatch, start, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    start.app.start_context.cache_clear()


def test_a_pinned_instance_type_outside_the_stacks_families_is_rejected_unread(
    stack, start, monkeypatch
):
    reads = []
    start.app.start_context().s3.meta.events.register(
        "before-call.s3.GetObject", lambda **kwargs: reads.append(kwargs["params"])
    )
    # ml.p5.48xlarge is an allowed InferenceInstanceType, but not in the default families
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="InferenceInstanceType=ml.p5.48xlarge"))
    assert stack.executions() == []
    assert reads == []  # refused on the tag alone
    (notice,) = stack.notices()
    assert "ml.p5.48xlarge is not allowed by this stack" in notice["Message"]
    assert "PinnableInstanceFamilies" in notice["Message"]
    assert stack.keys("rejected/") == ["rejected/6kwc.fasta", "rejected/6kwc.fasta.reason.json"]

    # the same tag on a stack that admits the family: a run (then the ceiling decides)
    _with_spend_limits(
        monkeypatch,
        start,
        FOLDLINE_PINNABLE_INSTANCE_FAMILIES="ml.m5,ml.p5",
        FOLDLINE_MAX_RUN_COST_USD="0",
    )
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="InferenceInstanceType=ml.p5.48xlarge"))
    assert run_parameters(stack)["InferenceInstanceType"] == "ml.p5.48xlarge"


def test_a_run_over_the_cost_ceiling_is_rejected_with_its_estimate(stack, start, monkeypatch):
    two_chains = FASTA_6KWC + b">B\n" + SEQ_6KWC.encode() + b"\n"  # multimer, 390 residues
    _with_spend_limits(monkeypatch, start, FOLDLINE_PINNABLE_INSTANCE_FAMILIES="ml.m5,ml.p5")
    start(
        stack.put(
            "inputs/dimer.fasta",
            two_chains,
            tags="InferenceInstanceType=ml.p5.48xlarge&NumMultimerPredictionsPerModel=100",
        )
    )
    assert stack.executions() == []
    assert not stack.keys("msa-cache/")  # refused before anything was staged
    (notice,) = stack.notices()
    message = notice["Message"]
    assert "over this stack's ceiling of $100.00 per run (MaxRunCostUsd)" in message
    assert "ml.p5.48xlarge" in message and "100 predictions per model" in message
    estimate = float(message.split("estimated cost $", 1)[1].split(" ", 1)[0])
    assert estimate > 100

    # five predictions on the default GPU family stay under the default ceiling
    start(stack.put("inputs/dimer2.fasta", two_chains))
    assert len(stack.executions()) == 1


def test_a_type_without_a_price_cannot_pass_a_ceiling(stack, start, monkeypatch):
    _with_spend_limits(monkeypatch, start, FOLDLINE_PINNABLE_INSTANCE_FAMILIES="ml.m6i,ml.g5")
    start(stack.put("inputs/6kwc.fasta", FASTA_6KWC, tags="MSAInstanceType=ml.m6i.4xlarge"))
    assert stack.executions() == []
    (notice,) = stack.notices()
    assert "no price for ml.m6i.4xlarge" in notice["Message"]
