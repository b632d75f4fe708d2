"""Every error a person can act on: one line on stderr, its exit status, no traceback."""

from __future__ import annotations

import pytest

from foldline.cli.stack_config import StackNotFound

from .conftest import HELP_ENV, invoke

COMMANDS = ("submit", "status", "results", "compare", "redrive", "stack")


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "FOLDLINE_LOCAL",
    ):
        monkeypatch.delenv(name, raising=False)


def _one_line(result) -> str:
    assert "Traceback" not in result.output + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "args", [("stack",), ("status",), ("results", "x"), ("compare",), ("redrive",)]
)
def test_no_credentials(no_credentials, args):
    result = invoke(*args)
    assert result.exit_code == 3
    assert _one_line(result).startswith("error: no AWS credentials found: run `aws configure`")


def test_an_unknown_profile_is_a_credentials_error(no_credentials):
    result = invoke("stack", "--profile", "nobody")
    assert result.exit_code == 3
    assert _one_line(result) == "error: AWS profile 'nobody' not found in your AWS config"


def test_stack_not_found(moto_stack):
    result = invoke("status", "--stack", "not-deployed")
    assert result.exit_code == 4
    assert _one_line(result) == (
        "error: CloudFormation stack 'not-deployed' not found in us-east-1 "
        "(pass --stack/--region, or set FOLDLINE_STACK)"
    )


def test_stack_from_the_environment_variable(moto_stack, monkeypatch):
    monkeypatch.setenv("FOLDLINE_STACK", "other")
    result = invoke("stack")
    assert result.exit_code == 4 and "'other' not found" in result.stderr


def test_a_stack_without_foldlines_outputs(moto_stack):
    import boto3

    boto3.client("cloudformation").create_stack(
        StackName="unrelated", TemplateBody='{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}'
    )
    result = invoke("stack", "--stack", "unrelated")
    assert result.exit_code == 4
    assert _one_line(result) == (
        "error: stack 'unrelated' (CREATE_COMPLETE) has no output BucketName, RunsTableName, "
        "TopicArn, PipelineName: is it a foldline stack, and finished deploying?"
    )


def test_unknown_run_id(moto_stack):
    for command in ("status", "results"):
        result = invoke(command, "no-such-run")
        assert result.exit_code == 6
        assert _one_line(result) == (
            f"error: no run 'no-such-run' in the runs table {moto_stack.runs.table_name}"
        )
    result = invoke("compare", "no-such-run")
    assert result.exit_code == 6


def test_local_mode_without_a_local_cloud(tmp_path, monkeypatch):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    result = invoke("status", "--local", "--workdir", str(tmp_path))
    assert result.exit_code == 4
    assert _one_line(result) == (
        f"error: no local cloud found for work folder {tmp_path}: "
        "start `foldline local serve` or pass --endpoint-url"
    )


def test_debug_shows_the_traceback(moto_stack):
    result = invoke("status", "--stack", "not-deployed", "--debug")
    assert result.exit_code != 0
    assert isinstance(result.exception, StackNotFound)  # raised, not turned into one line
    assert not result.stderr.startswith("error:")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command):
    result = invoke(command, "--help", env=HELP_ENV)
    assert result.exit_code == 0
    assert f"Usage: foldline {command}" in result.output
    assert "--stack" in result.output and "--local" in result.output
