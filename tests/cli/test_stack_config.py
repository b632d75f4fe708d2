"""How the command finds its stack: precedence of the local-mode sources, the stack's limits."""

from __future__ import annotations

import json

from foldline.cli.stack_config import LOCAL_ACCESS_KEY, StackConfig, resolve
from foldline.local.stack import write_local_state
from foldline.spec import layout

from .conftest import MAX_RESIDUES, invoke

INSIDE = {"AWS_ENDPOINT_URL": "http://127.0.0.1:4001", "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY}


def test_inside_the_local_runtime_is_local_without_a_flag(tmp_path):
    config = resolve(env=INSIDE, workdir=tmp_path)
    assert config.local and config.endpoint_url == "http://127.0.0.1:4001"
    assert config.outputs["StartQueueUrl"].startswith("http://127.0.0.1:4001/")

    from foldline.cli.stack_config import inside_local_cloud

    # an endpoint with someone else's keys (a proxy, LocalStack) is not the local runtime
    assert not inside_local_cloud({**INSIDE, "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE"})


def test_local_endpoint_precedence(tmp_path):
    write_local_state(tmp_path, "http://127.0.0.1:4002", "us-east-1")
    assert (
        resolve(env={**INSIDE, "FOLDLINE_LOCAL": "1"}, workdir=tmp_path).endpoint_url
        == "http://127.0.0.1:4002"
    )
    assert (
        resolve(
            env={"FOLDLINE_LOCAL": "1", "FOLDLINE_ENDPOINT_URL": "http://127.0.0.1:4003"},
            workdir=tmp_path,
        ).endpoint_url
        == "http://127.0.0.1:4003"
    )
    assert (
        resolve(
            local=True, endpoint_url="http://127.0.0.1:4004", env={}, workdir=tmp_path
        ).endpoint_url
        == "http://127.0.0.1:4004"
    )


def test_an_endpoint_alone_is_the_local_cloud_without_a_region_or_credentials(
    tmp_path, monkeypatch
):
    for name in (
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_PROFILE",
        "FOLDLINE_LOCAL",
        "FOLDLINE_ENDPOINT_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    config = resolve(endpoint_url="http://127.0.0.1:4005", env={}, workdir=tmp_path)
    assert config.local and config.endpoint_url == "http://127.0.0.1:4005"
    assert config.session.get_credentials().access_key == LOCAL_ACCESS_KEY
    result = invoke(
        "stack", "--endpoint-url", "http://127.0.0.1:4005", "--workdir", str(tmp_path), "--json"
    )
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.output)
    assert shown["local"] is True and shown["endpoint_url"] == "http://127.0.0.1:4005"


def test_the_deployed_limits_come_from_the_stacks_parameters(moto_stack):
    config = resolve()
    assert isinstance(config, StackConfig) and not config.local
    limits = config.intake_limits(env={})
    assert limits.max_total_residues == MAX_RESIDUES
    assert limits.max_chains == 20  # not a parameter of the test stack: the default


def test_a_report_of_another_schema_major_is_refused_in_one_line(
    moto_stack, seeded, reports, tmp_path
):
    run_id = reports[0].run_id
    metrics = dict(reports[0].metrics, schema_version="3.0")
    moto_stack.s3.put_object(
        Bucket=moto_stack.bucket,
        Key=layout.report_prefix(run_id) + "metrics.json",
        Body=json.dumps(metrics).encode(),
    )
    result = invoke("compare", run_id, "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"error: run {run_id}: metrics.json schema 3.0; this foldline reads 1.x, 2.x\n"
    )
