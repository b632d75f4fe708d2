"""The MSA step names its run from its own DescribeTrainingJob, and gives up at once (one
attempt, short timeouts) where the job's subnets cannot reach the SageMaker API."""

from __future__ import annotations

import socket
from pathlib import Path

import boto3
from moto import mock_aws

from foldline.steps.contract import TrainingEnv
from foldline.steps.msa import SAGEMAKER_API_CONFIG, origin_run


def _env(tmp_path: Path, **env: str) -> TrainingEnv:
    return TrainingEnv(
        channels={},
        hyperparameters={},
        model_dir=tmp_path,
        output_data_dir=tmp_path,
        num_cpus=1,
        num_gpus=0,
        failure_file=tmp_path / "failure",
        env=env,
    )


@mock_aws
def test_the_run_comes_from_the_jobs_output_path(tmp_path):
    boto3.client("sagemaker").create_training_job(
        TrainingJobName="pipelines-abc-RunMSA-x",
        RoleArn="arn:aws:iam::123456789012:role/r",
        AlgorithmSpecification={"TrainingImage": "img", "TrainingInputMode": "File"},
        OutputDataConfig={"S3OutputPath": "s3://b/runs/6kwc-0123/msa/"},
        ResourceConfig={"InstanceType": "ml.m5.4xlarge", "InstanceCount": 1, "VolumeSizeInGB": 100},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
    )
    assert origin_run(_env(tmp_path, TRAINING_JOB_NAME="pipelines-abc-RunMSA-x")) == "6kwc-0123"


def test_an_unreachable_api_is_tried_once_and_the_job_name_stands_in(tmp_path, monkeypatch):
    with socket.socket() as probe:  # a port nothing listens on: connections are refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    sends = []
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register(
        "before-send.sagemaker.DescribeTrainingJob", lambda **kw: sends.append(kw["request"].url)
    )

    assert (
        origin_run(_env(tmp_path, TRAINING_JOB_NAME="pipelines-abc-RunMSA-x"))
        == "pipelines-abc-RunMSA-x"
    )
    assert len(sends) == 1  # a default client would retry the refused connection 4 more times
    assert SAGEMAKER_API_CONFIG["connect_timeout"] <= 5  # a blackholed route fails as quickly
