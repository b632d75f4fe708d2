"""Fixtures: the real `sam build`, its outputs, and a local cloud made from template.yaml."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.lambda_build import harness


@pytest.fixture(scope="session")
def docker():
    # a real absence only: CI installs and starts Docker (tests/lambda_build/setup.sh)
    if not harness.docker_answers():
        pytest.skip("no Docker daemon answers: the build and the runtime containers need one")


@pytest.fixture(scope="session")
def build(docker) -> harness.Build:
    return harness.sam_build()


@pytest.fixture(scope="session")
def runtime_image(docker) -> str:
    return harness.runtime_image()


@pytest.fixture(scope="session")
def analysis_task(build, tmp_path_factory) -> Path:
    """The analysis image's /var/task, copied out (what its zip would have held)."""
    target = tmp_path_factory.mktemp("analysis") / "task"
    image = build.image("AnalysisFunction")
    container = subprocess.run(
        ["docker", "create", image], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        subprocess.run(
            ["docker", "cp", f"{container}:/var/task", str(target)], check=True, capture_output=True
        )
    finally:
        subprocess.run(["docker", "rm", container], capture_output=True, check=False)
    return target


@pytest.fixture(scope="module")
def cloud(docker):
    """moto's server with the stack's resources from template.yaml, and a queue that
    receives every notice the topic publishes."""
    from foldline.local.cloud import LocalCloud

    local = LocalCloud(template_path=harness.ROOT / "template.yaml")
    local.start()
    try:
        local.create_resources()
        sqs, sns = local.client("sqs"), local.client("sns")
        url = sqs.create_queue(QueueName="lambda-build-notices")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        topic = local.stack.function("NotifyFunction").environment["TOPIC_ARN"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        local.notices_url = url
        yield local
    finally:
        local.stop()
