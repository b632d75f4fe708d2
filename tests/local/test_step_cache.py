"""The local executor's SageMaker step cache: what counts for a hit, expiry, persistence."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from foldline.local.step_cache import CachedStep, StepCache, cache_key, expire_after

PIPELINE = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/proteinfoldworkflow"
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
ON = {"Enabled": True, "ExpireAfter": "P90D"}

ARGUMENTS = {
    "AlgorithmSpecification": {"TrainingImage": "msa:2.3.2", "TrainingInputMode": "File"},
    "HyperParameters": {"DbPreset": "reduced_dbs", "MsaCacheS3URI": "s3://b/msa-cache/k1/"},
    "InputDataConfig": [
        {
            "ChannelName": "fasta",
            "DataSource": {"S3DataSource": {"S3Uri": "s3://b/msa-cache/k1/input/"}},
        }
    ],
    "Environment": {"FOLDLINE_MSA_ENGINE": "auto"},
    "ResourceConfig": {"InstanceType": "ml.m5.4xlarge", "InstanceCount": 1},
    "OutputDataConfig": {"S3OutputPath": "s3://b/runs/run-1/msa/"},
}


def finished(execution: str, ended: dt.datetime = NOW) -> CachedStep:
    return CachedStep(
        execution_arn=execution,
        job_name=f"job-{execution}",
        job_arguments=ARGUMENTS,
        properties={
            "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/runs/{execution}/msa/model.tar.gz"}
        },
        ended_at=ended.isoformat(),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P90D", dt.timedelta(days=90)),
        ("p30d", dt.timedelta(days=30)),
        ("T12H", dt.timedelta(hours=12)),
        ("P4DT12H", dt.timedelta(days=4, hours=12)),
        ("PT16M", dt.timedelta(minutes=16)),
        ("P1W", dt.timedelta(weeks=1)),
        (None, None),
    ],
)
def test_expire_after_reads_iso_8601_durations(text, expected):
    assert expire_after(text) == expected


@pytest.mark.parametrize("text", ["90 days", "P", "PXD", "D90"])
def test_expire_after_refuses_what_is_not_a_duration(text):
    with pytest.raises(ValueError, match="ISO 8601"):
        expire_after(text)


def test_instance_type_and_output_path_are_not_part_of_the_key():
    other = copy.deepcopy(ARGUMENTS)
    other["ResourceConfig"]["InstanceType"] = "ml.c5.9xlarge"
    other["OutputDataConfig"]["S3OutputPath"] = "s3://b/runs/run-2/msa/"
    assert cache_key(PIPELINE, "RunMSA", other) == cache_key(PIPELINE, "RunMSA", ARGUMENTS)


@pytest.mark.parametrize(
    ("section", "field", "value"),
    [
        ("HyperParameters", "DbPreset", "full_dbs"),
        ("AlgorithmSpecification", "TrainingImage", "msa:2.3.3"),
        ("Environment", "FOLDLINE_MSA_ENGINE", "pyhmmer"),
    ],
)
def test_any_compared_attribute_changes_the_key(section, field, value):
    other = copy.deepcopy(ARGUMENTS)
    other[section][field] = value
    assert cache_key(PIPELINE, "RunMSA", other) != cache_key(PIPELINE, "RunMSA", ARGUMENTS)


def test_another_input_location_or_step_misses():
    cache = StepCache()
    cache.record(PIPELINE, "RunMSA", ARGUMENTS, finished("exec-1"))
    moved = copy.deepcopy(ARGUMENTS)
    moved["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
        "s3://b/msa-cache/k2/input/"
    )
    assert cache.lookup(PIPELINE, "RunMSA", moved, ON, NOW) is None
    assert cache.lookup(PIPELINE, "RunAlphaFold", ARGUMENTS, ON, NOW) is None
    assert cache.lookup(PIPELINE, "RunMSA", ARGUMENTS, ON, NOW).execution_arn == "exec-1"


def test_caching_off_or_expired_misses_and_the_newest_success_wins():
    cache = StepCache()
    cache.record(PIPELINE, "RunMSA", ARGUMENTS, finished("exec-1", NOW - dt.timedelta(days=100)))
    assert cache.lookup(PIPELINE, "RunMSA", ARGUMENTS, ON, NOW) is None  # older than P90D
    assert cache.lookup(PIPELINE, "RunMSA", ARGUMENTS, {"Enabled": True}, NOW) is not None
    assert cache.lookup(PIPELINE, "RunMSA", ARGUMENTS, {"Enabled": False}, NOW) is None
    cache.record(PIPELINE, "RunMSA", ARGUMENTS, finished("exec-2", NOW - dt.timedelta(days=1)))
    assert cache.lookup(PIPELINE, "RunMSA", ARGUMENTS, ON, NOW).execution_arn == "exec-2"


def test_the_index_survives_a_restart_and_a_damaged_one_only_costs_hits(tmp_path):
    path = tmp_path / "state" / "step-cache.json"
    StepCache(path).record(PIPELINE, "RunMSA", ARGUMENTS, finished("exec-1"))
    reopened = StepCache(path).lookup(PIPELINE, "RunMSA", ARGUMENTS, ON, NOW)
    assert reopened == finished("exec-1")
    path.write_text("{not json")
    assert StepCache(path).lookup(PIPELINE, "RunMSA", ARGUMENTS, ON, NOW) is None
