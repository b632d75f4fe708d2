"""The MSA step with MsaCacheS3URI set (moto S3): miss stores, hit copies, mismatch searches."""

from __future__ import annotations

import shutil

import boto3
import pytest
from moto import mock_aws

from foldline.steps import msa, msa_cache
from tests.steps.conftest import real_sequence

BUCKET = "steps-cache"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def as_job_of_run(ws, run_id: str) -> None:
    """Make ``ws`` the training job of ``run_id``'s MSA step, as the pipeline would: the
    run id is only in the job's output path (runs/<run_id>/msa/), which the step reads
    from its own description."""
    job_name = f"pipelines-{run_id}-RunMSA"
    boto3.client("sagemaker", region_name="us-east-1").create_training_job(
        TrainingJobName=job_name,
        RoleArn="arn:aws:iam::123456789012:role/steps",
        AlgorithmSpecification={"TrainingImage": "msa:latest", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/runs/{run_id}/msa/"},
        ResourceConfig={"InstanceType": "ml.m5.4xlarge", "InstanceCount": 1, "VolumeSizeInGB": 100},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    ws.extra["TRAINING_JOB_NAME"] = job_name


def cached_ws(workspace, *, engine_for_key="alphafold", run_id="run-1"):
    ws = workspace()
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"  # the recorder stands in for AlphaFold
    key = msa_cache.cache_key(
        [real_sequence()],
        db_preset="full_dbs",
        max_template_date="2021-10-01",
        model_preset="monomer",
        engine=engine_for_key,
    ).key
    as_job_of_run(ws, run_id)
    ws.hps["MsaCacheS3URI"] = msa_cache.cache_uri(BUCKET, key)
    return ws, key


def test_a_miss_searches_then_stores_and_the_next_run_copies_without_searching(s3, workspace):
    ws, key = cached_ws(workspace)
    first = msa.run(ws.training_env())
    assert first.engine == "alphafold" and len(ws.records()) == 1
    assert first.outputs["msa_cache"] == {"key": key, "hit": False, "stored": True}
    made = {
        name: (ws.model_dir / name).read_bytes()
        for name in ws.model_files()
        if name.startswith("msas/")
    }
    assert msa_cache.lookup(s3, BUCKET, key).origin_run == "run-1"

    shutil.rmtree(ws.model_dir)
    ws.model_dir.mkdir()
    as_job_of_run(ws, "run-2")
    second = msa.run(ws.training_env())
    assert len(ws.records()) == 1  # the data pipeline did not run again
    assert second.engine == "cache" and second.engine_version == "alphafold"
    assert second.outputs["msa_cache"] == {"key": key, "hit": True, "reused_from": "run-1"}
    assert any("MSA reused from run run-1" in note for note in second.notes)
    assert {n: (ws.model_dir / n).read_bytes() for n in made} == made
    assert ws.manifest()["engine"] == "cache"
    # the copy names the search that made the MSAs, for the report and the notices
    assert first.msa_source["engine"] == "alphafold" and first.msa_source["reused_from"] is None
    assert second.msa_source == {**first.msa_source, "reused_from": "run-1"}


def test_a_location_for_another_engine_is_not_used(s3, workspace):
    ws, _key = cached_ws(workspace, engine_for_key="pyhmmer")  # the start function assumed pyhmmer
    manifest = msa.run(ws.training_env())
    assert manifest.engine == "alphafold" and len(ws.records()) == 1
    assert any("MSA cache not used" in note for note in manifest.notes)
    assert "msa_cache" not in manifest.outputs
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0  # nothing stored


def test_a_damaged_entry_means_search(s3, workspace):
    ws, key = cached_ws(workspace)
    msa.run(ws.training_env())
    entry = msa_cache.lookup(s3, BUCKET, key)
    s3.put_object(Bucket=BUCKET, Key=entry.files_prefix + "timings.json", Body=b"changed")
    shutil.rmtree(ws.model_dir)
    ws.model_dir.mkdir()
    manifest = msa.run(ws.training_env())
    assert manifest.engine == "alphafold" and len(ws.records()) == 2
    assert any("unusable" in note for note in manifest.notes)


def test_no_location_no_cache(s3, workspace):
    ws = workspace()
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"
    manifest = msa.run(ws.training_env())
    assert "msa_cache" not in manifest.outputs
    assert s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == 0
