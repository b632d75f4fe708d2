"""The commands against the local cloud of ``foldline local``: found automatically inside it,
or through the state file from another shell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foldline.intake.run_identity import run_id_for
from foldline.intake.start import overrides_from_tags
from foldline.local.runtime import DEFAULT_DATABASES, LocalRuntime
from foldline.local.stack import write_local_state

from .conftest import invoke

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "xylanase.fasta"
EVENTS = ROOT / "events"


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    """A local cloud whose queues nobody consumes: what the commands did stays visible."""
    for name in ("FOLDLINE_LOCAL", "FOLDLINE_ENDPOINT_URL", "FOLDLINE_WORKDIR", "FOLDLINE_STACK"):
        monkeypatch.delenv(name, raising=False)
    started = LocalRuntime(tmp_path / "work", databases=DEFAULT_DATABASES, dispatch=False).start()
    yield started
    started.stop()


def test_inside_the_local_runtime_the_commands_use_it(runtime):
    result = invoke("stack", "--json")
    assert result.exit_code == 0, result.stderr
    config = json.loads(result.output)
    assert config["local"] is True
    assert config["endpoint_url"] == runtime.cloud.endpoint_url
    assert config["outputs"]["BucketName"] == runtime.bucket
    assert config["outputs"]["RunsTableName"] == runtime.runs_table().table_name
    assert config["source"].startswith(
        f"local cloud at {runtime.cloud.endpoint_url} (endpoint from AWS_ENDPOINT_URL"
    )

    submitted = invoke("submit", str(EXAMPLE), "--db-preset", "reduced_dbs", "-q")
    assert submitted.exit_code == 0, submitted.stderr
    s3 = runtime.cloud.client("s3")
    tags = s3.get_object_tagging(Bucket=runtime.bucket, Key="inputs/xylanase.fasta")["TagSet"]
    assert overrides_from_tags(tags) == {"DbPreset": "reduced_dbs"}
    version = s3.head_object(Bucket=runtime.bucket, Key="inputs/xylanase.fasta")["VersionId"]
    assert submitted.output == run_id_for(runtime.bucket, "inputs/xylanase.fasta", version) + "\n"


def test_from_another_shell_through_the_state_file(runtime, tmp_path, monkeypatch):
    endpoint = runtime.cloud.endpoint_url
    workdir = tmp_path / "elsewhere"
    write_local_state(workdir, endpoint, "us-east-1")
    runtime.runs_table().put(
        "xylanase-0123456789abcdef0123456789abcdef",
        status="Executing",
        target="xylanase",
        current_step="RunMSA",
    )
    # another shell: none of the local runtime's environment (undone before the runtime
    # stops, so that it restores the environment it found)
    with monkeypatch.context() as shell:
        shell.delenv("AWS_ENDPOINT_URL")
        shell.setenv("AWS_ACCESS_KEY_ID", "testing")
        shell.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        result = invoke("status", "--local", "--workdir", str(workdir), "--json")
    assert result.exit_code == 0, result.stderr
    assert [i["run_id"] for i in json.loads(result.output)] == [
        "xylanase-0123456789abcdef0123456789abcdef"
    ]


def test_local_redrive_reaches_the_function_through_its_route_queue(runtime):
    cloud = runtime.cloud
    analysis = cloud.stack.function("AnalysisFunction")
    record = json.loads((EVENTS / "analysis-on-failure.json").read_text())
    record["requestContext"]["functionArn"] = f"{analysis.arn}:$LATEST"
    sqs = cloud.client("sqs")
    failures = sqs.get_queue_url(QueueName=cloud.stack.physical_name("FunctionFailuresQueue"))[
        "QueueUrl"
    ]
    sqs.send_message(QueueUrl=failures, MessageBody=json.dumps(record))

    result = invoke("redrive", "--queue", "functions")
    assert result.exit_code == 0, result.output + result.stderr
    assert result.output == f"functions: 1 message, re-drove 1 (1 to {analysis.name})\n"
    route = next(r for r in cloud.routes if r.function.logical_id == "AnalysisFunction")
    delivered = sqs.receive_message(QueueUrl=route.queue_url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"]) for m in delivered] == [record["requestPayload"]]
