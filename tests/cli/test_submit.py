"""``foldline submit`` against a moto stack: objects, tags, run ids, refusals, --wait."""

from __future__ import annotations

import io
import json
import re
import shlex
import tarfile
from pathlib import Path

import pytest

from foldline.cli import follow, views
from foldline.intake.fasta import IntakeLimits, decide
from foldline.intake.run_identity import run_id_for
from foldline.intake.start import overrides_from_tags
from foldline.runs.table import EXECUTING, FAILED, SUCCEEDED
from foldline.spec import layout

# --wait: each poll's sleep moves the run one state on, as the pipeline's functions would
from .conftest import EXAMPLE_FASTA, MAX_RESIDUES, OUTPUTS_DIR, STACK, invoke, seed_report


@pytest.fixture
def fasta(tmp_path: Path) -> Path:
    path = tmp_path / "6kwc.fasta"
    path.write_bytes(EXAMPLE_FASTA.read_bytes())
    return path


def _version(stack, key: str) -> str:
    versions = stack.s3.list_object_versions(Bucket=stack.bucket, Prefix=key)["Versions"]
    assert len(versions) == 1
    return versions[0]["VersionId"]


def start_function(stack, key: str):
    """Run the real start path on the uploaded object; return its outcome and the execution."""
    import boto3

    from foldline.databases.presets import write_ready
    from foldline.intake.start import StartContext, Upload, start_run
    from foldline.spec.parameters import DB_PRESETS

    for preset in DB_PRESETS:  # as `foldline setup databases` leaves the stack
        write_ready(stack.s3, stack.bucket, preset, source="test stack")
    sagemaker = boto3.client("sagemaker")  # the stack's pipeline: template.yaml's definition
    ctx = StartContext(
        s3=stack.s3,
        sagemaker=sagemaker,
        sns=boto3.client("sns"),
        runs=stack.runs,
        topic_arn=stack.outputs["TopicArn"],
        pipeline_name=stack.outputs["PipelineName"],
    )
    outcome = start_run(ctx, Upload(stack.bucket, key))
    parameters = sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=outcome.execution_arn
    )["PipelineParameters"]
    return outcome, {p["Name"]: p["Value"] for p in parameters}


def test_submit_uploads_under_inputs_and_prints_the_start_functions_run_id(moto_stack, fasta):
    result = invoke("submit", str(fasta))
    assert result.exit_code == 0, result.output + result.stderr
    key = "inputs/6kwc.fasta"
    assert moto_stack.keys() == [key]
    body = moto_stack.s3.get_object(Bucket=moto_stack.bucket, Key=key)["Body"].read()
    assert body == fasta.read_bytes()
    assert moto_stack.s3.get_object_tagging(Bucket=moto_stack.bucket, Key=key)["TagSet"] == []
    outcome, _ = start_function(moto_stack, key)
    assert outcome.action == "started"
    assert result.output.splitlines()[0] == (
        f"6kwc.fasta: run {outcome.run_id} (s3://{moto_stack.bucket}/{key})"
    )


def test_unversioned_bucket_the_etag_names_the_run_and_a_repeat_is_flagged(moto_stack, fasta):
    moto_stack.s3.put_bucket_versioning(
        Bucket=moto_stack.bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    first = invoke("submit", str(fasta), "-q")
    outcome, _ = start_function(moto_stack, "inputs/6kwc.fasta")
    assert first.output == outcome.run_id + "\n"
    again = invoke("submit", str(fasta))
    assert again.exit_code == 0
    assert outcome.run_id in again.output
    assert (
        "this exact upload was seen before; the run is Executing and will not start again"
        in again.output
    )


def test_overrides_ride_as_tags_the_start_function_reads(moto_stack, fasta):
    result = invoke(
        "submit",
        str(fasta),
        "--preset",
        "monomer_ptm",
        "--db-preset",
        "reduced_dbs",
        "--max-template-date",
        "2021-11-01",
        "--num-multimer-predictions",
        "2",
        "--msa-engine",
        "pyhmmer",
        "--msa-instance-type",
        "ml.c5.4xlarge",
        "--inference-instance-type",
        "ml.g5.2xlarge",
        "--quiet",
    )
    assert result.exit_code == 0, result.output + result.stderr
    tags = moto_stack.s3.get_object_tagging(Bucket=moto_stack.bucket, Key="inputs/6kwc.fasta")[
        "TagSet"
    ]
    assert overrides_from_tags(tags) == {
        "ModelPreset": "monomer_ptm",
        "DbPreset": "reduced_dbs",
        "MaxTemplateDate": "2021-11-01",
        "NumMultimerPredictionsPerModel": 2,
        "MsaEngine": "pyhmmer",
        "MSAInstanceType": "ml.c5.4xlarge",
        "InferenceInstanceType": "ml.g5.2xlarge",
    }
    # the start function starts the run with them; --quiet printed its run id alone
    outcome, parameters = start_function(moto_stack, "inputs/6kwc.fasta")
    assert result.output == outcome.run_id + "\n"
    assert {
        k: parameters[k]
        for k in (
            "ModelPreset",
            "DbPreset",
            "MaxTemplateDate",
            "NumMultimerPredictionsPerModel",
            "MsaEngine",
        )
    } == {
        "ModelPreset": "monomer_ptm",
        "DbPreset": "reduced_dbs",
        "MaxTemplateDate": "2021-11-01",
        "NumMultimerPredictionsPerModel": "2",
        "MsaEngine": "pyhmmer",
    }


def test_several_files_give_several_runs(moto_stack, fasta, tmp_path):
    other = tmp_path / "second.fa"
    other.write_text(">B\n" + "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n")
    result = invoke("submit", str(fasta), str(other), "-q")
    assert result.exit_code == 0, result.stderr
    assert moto_stack.keys() == ["inputs/6kwc.fasta", "inputs/second.fa"]
    assert len(set(result.output.split())) == 2


def test_a_file_that_is_not_fasta_is_refused_before_upload(moto_stack, fasta):
    pdb = OUTPUTS_DIR / "6KWC_1_model_1_ptm_relaxed.pdb"
    renamed = fasta.parent / "model.fasta"
    renamed.write_bytes(pdb.read_bytes())
    result = invoke("submit", str(fasta), str(renamed))
    assert result.exit_code == 5
    expected = decide(renamed.read_bytes()).reason  # the start function's own words
    assert result.stderr == f"error: {renamed}: {expected} (nothing uploaded)\n"
    assert "Traceback" not in result.output + result.stderr
    assert moto_stack.keys() == []


def test_the_stacks_limits_apply_not_the_defaults(moto_stack, tmp_path):
    chain = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ" * 7  # 231 residues a chain
    two = tmp_path / "pair.fasta"
    two.write_text(f">A\n{chain}\n>B\n{chain}\n")
    assert decide(two.read_bytes(), IntakeLimits()).accepted  # fine by the default limits
    result = invoke("submit", str(two))
    assert result.exit_code == 5
    assert f"462 residues in total; the limit is {MAX_RESIDUES}" in result.stderr
    assert moto_stack.keys() == []


def test_a_pinned_preset_is_checked_as_the_start_function_checks_it(moto_stack, tmp_path):
    two = tmp_path / "dimer.fasta"
    two.write_text(">A\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n>B\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ\n")
    result = invoke("submit", str(two), "--preset", "monomer")
    assert result.exit_code == 5
    assert "ModelPreset monomer folds one chain; this file has 2" in result.stderr
    assert moto_stack.keys() == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--db-preset", "all_dbs", "DbPreset 'all_dbs' is not allowed"),
        ("--max-template-date", "yesterday", "MaxTemplateDate must be a date as YYYY-MM-DD"),
        (
            "--num-multimer-predictions",
            "0",
            "NumMultimerPredictionsPerModel must be between 1 and 100",
        ),
    ],
)
def test_a_bad_parameter_value_is_a_usage_error(moto_stack, fasta, option, value, message):
    result = invoke("submit", str(fasta), option, value)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert moto_stack.keys() == []


def test_a_missing_file_is_a_usage_error(moto_stack, tmp_path):
    result = invoke("submit", str(tmp_path / "nope.fasta"))
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'nope.fasta'}: no such file (nothing uploaded)\n"


# -- --wait ------------------------------------------------------------------------------------


def _started(stack, run_id):
    stack.runs.put(
        run_id,
        status=EXECUTING,
        target="6kwc",
        current_step="RunMSA",
        started_at="2026-11-26T10:00:00+00:00",
        steps={"RunMSA": {"status": "Executing", "started_at": "2026-11-26T10:00:00+00:00"}},
    )


def _inference(stack, run_id):
    stack.runs.record_step(
        run_id,
        "RunMSA",
        status="Succeeded",
        started_at="2026-11-26T10:00:00+00:00",
        ended_at="2026-11-26T10:12:00+00:00",
    )
    stack.runs.record_step(
        run_id, "RunAlphaFold", status="Executing", started_at="2026-11-26T10:12:00+00:00"
    )
    stack.runs.update(run_id, current_step="RunAlphaFold")


def _analysing(stack, run_id):
    """The pipeline succeeded (the progress function's record); the analysis is running."""
    for step in ("RunAlphaFold", "RunOpenFold"):
        stack.runs.record_step(
            run_id,
            step,
            status="Succeeded",
            started_at="2026-11-26T10:12:00+00:00",
            ended_at="2026-11-26T10:40:00+00:00",
        )
    stack.runs.update(run_id, status=SUCCEEDED, ended_at="2026-11-26T10:40:00+00:00")


def test_wait_follows_the_run_to_its_report(moto_stack, fasta, reports, monkeypatch):
    report = reports[0]

    def succeeded(stack, run_id):
        seeded = seed_report(
            stack,
            report.__class__(run_id, "6kwc", report.folder, report.metrics),
            created_at="2026-11-26T10:00:00+00:00",
        )
        assert seeded["status"] == SUCCEEDED

    calls: list = []

    def sleep(seconds):  # the run id is known once the file is uploaded
        calls.append(seconds)
        states = [_started, _inference, _analysing, succeeded]
        states[len(calls) - 1](moto_stack, _submitted_run_id(moto_stack))

    monkeypatch.setattr(follow, "_sleep", sleep)
    result = invoke("submit", str(fasta), "--wait", "--interval", "0.5")
    assert result.exit_code == 0, result.output + result.stderr
    assert calls == [0.5] * 4  # it waited for the report, not only the pipeline
    run_id = _submitted_run_id(moto_stack)
    out = result.output
    assert f"{run_id}: Succeeded" in out
    assert report.metrics["headline"] in out  # the analysis' own headline line
    assert f"report: s3://{moto_stack.bucket}/{layout.report_prefix(run_id)}report.html" in out
    # piped: a line each time the run changed, never the same state twice, in the format
    # `foldline local run` writes (foldline.cli.progress)
    changes = [
        line.split(" ", 1)[1]
        for line in out.splitlines()
        if line[:2].isdigit() and f" {run_id}: " in line
    ]
    assert changes == [
        f"6kwc.fasta {run_id}: uploaded (RunMSA ·, RunAlphaFold ·, RunOpenFold ·)",
        f"6kwc.fasta {run_id}: Executing (RunMSA …, RunAlphaFold ·, RunOpenFold ·)",
        f"6kwc.fasta {run_id}: Executing (RunMSA ✓, RunAlphaFold …, RunOpenFold ·)",
        f"6kwc.fasta {run_id}: Analysing (RunMSA ✓, RunAlphaFold ✓, RunOpenFold ✓)",
        f"6kwc.fasta {run_id}: Succeeded (RunMSA ✓, RunAlphaFold ✓, RunOpenFold ✓)",
    ]
    # the command it prints reaches this stack as printed (FOLDLINE_STACK aside)
    (line,) = [line for line in out.splitlines() if "fetch it:" in line]
    printed = shlex.split(line.split("fetch it:", 1)[1])
    assert printed == ["foldline", "results", run_id, "--open", "--stack", STACK]


def _submitted_run_id(stack) -> str:
    key = "inputs/6kwc.fasta"
    return run_id_for(stack.bucket, key, _version(stack, key))


def test_wait_reports_a_failed_step_and_exits_non_zero(moto_stack, fasta, monkeypatch):
    def failed(stack, run_id):
        stack.runs.record_step(
            run_id,
            "RunMSA",
            status="Failed",
            failure_reason="AlgorithmError: jackhmmer ran out of memory",
        )
        stack.runs.update(
            run_id,
            status=FAILED,
            failed_step="RunMSA",
            failure_reason="AlgorithmError: jackhmmer ran out of memory",
            ended_at="2026-11-26T10:05:00+00:00",
        )

    steps = [_started, failed]
    monkeypatch.setattr(
        follow, "_sleep", lambda s: steps.pop(0)(moto_stack, _submitted_run_id(moto_stack))
    )
    result = invoke("submit", str(fasta), "--wait", "--interval", "0.1")
    assert result.exit_code == 1
    assert "failed in RunMSA: AlgorithmError: jackhmmer ran out of memory" in result.output


def test_wait_gives_up_after_the_timeout_with_one_line(moto_stack, fasta, monkeypatch):
    clock = iter(range(0, 10_000, 100))
    monkeypatch.setattr(follow.time, "monotonic", lambda: float(next(clock)))
    monkeypatch.setattr(follow, "_sleep", lambda s: None)
    result = invoke("submit", str(fasta), "--wait", "--timeout", "250")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: gave up waiting after 250 s; still running: 6kwc-")


def test_every_user_settable_parameter_has_a_submit_option():
    """A parameter added to foldline.spec.parameters as user-settable must reach `submit` too."""
    import typer

    from foldline.cli.app import app
    from foldline.spec.parameters import USER_SETTABLE

    submit = typer.main.get_command(app).commands["submit"]
    helps = " ".join(p.help or "" for p in submit.params)
    assert [
        name for name in USER_SETTABLE if f"{name}:" not in helps and f"{name} " not in helps
    ] == []


def test_the_stacks_spend_limits_are_checked_before_upload(moto_stack, fasta):
    from .conftest import MAX_RUN_COST_USD

    pinned = invoke("submit", str(fasta), "--inference-instance-type", "ml.p5.48xlarge")
    assert pinned.exit_code == 5
    assert "ml.p5.48xlarge is not allowed by this stack" in pinned.stderr
    assert pinned.stderr.endswith("(nothing uploaded)\n")
    # ml.g5.48xlarge is a pinnable family, but the run costs more than this stack allows
    # (the default ceiling of $100 would let it through)
    costly = invoke("submit", str(fasta), "--inference-instance-type", "ml.g5.48xlarge")
    assert costly.exit_code == 5
    assert f"over this stack's ceiling of ${MAX_RUN_COST_USD:.2f} per run" in costly.stderr
    assert moto_stack.keys() == []


def test_screen_tags_the_drop_and_knows_the_run_ids_the_start_function_gives(moto_stack, tmp_path):
    import boto3

    from foldline.cli.submit import screen_run_ids
    from foldline.databases.presets import write_ready
    from foldline.intake.start import StartContext, Upload, start_run
    from foldline.runs.campaigns import Campaigns
    from foldline.spec.parameters import DB_PRESETS

    drop = tmp_path / "drop.fasta"
    chain = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ"
    drop.write_text(f">a\n{chain}\n>b\n{chain[::-1]}\n>dna\nATGGCGTACGTTAGCATCGATCGATCGG\n")
    result = invoke("submit", str(drop), "--screen")
    assert result.exit_code == 0, result.stderr
    assert "campaign drop-" in result.output and "3 records" in result.output
    assert "Mode=screen" in result.output
    tags = moto_stack.s3.get_object_tagging(Bucket=moto_stack.bucket, Key="inputs/drop.fasta")
    assert {"Key": "Mode", "Value": "screen"} in tags["TagSet"]
    for preset in DB_PRESETS:
        write_ready(moto_stack.s3, moto_stack.bucket, preset, source="test stack")
    ctx = StartContext(
        s3=moto_stack.s3,
        sagemaker=boto3.client("sagemaker"),
        sns=boto3.client("sns"),
        runs=moto_stack.runs,
        topic_arn=moto_stack.outputs["TopicArn"],
        pipeline_name=moto_stack.outputs["PipelineName"],
    )
    outcome = start_run(ctx, Upload(moto_stack.bucket, "inputs/drop.fasta"))
    assert outcome.action == "screened"
    campaign = Campaigns(moto_stack.runs).get(outcome.run_id)
    assert screen_run_ids(drop, outcome.run_id) == [m["run_id"] for m in campaign["members"]]


def test_screen_refuses_a_drop_with_no_record_that_would_run(moto_stack, tmp_path):
    drop = tmp_path / "bad.fasta"
    drop.write_text(">dna\nATGGCGTACGTTAGCATCGATCGATCGG\n>short\nMKV\n")
    result = invoke("submit", str(drop), "--screen")
    assert result.exit_code == 5
    assert "no record of the screening drop would run" in result.stderr
    assert moto_stack.keys() == []


# -- the progress display: parallel steps, a skipped step, 80 columns, piped ---------------------

#: a terminal 80 columns wide (rich's TTY_COMPATIBLE: as if stdout were one), no colour
TERMINAL_80 = {"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}


def _both_engines_running(stack, run_id):
    _started(stack, run_id)
    _inference(stack, run_id)
    stack.runs.record_step(
        run_id, "RunOpenFold", status="Executing", started_at="2026-11-26T10:12:00+00:00"
    )


def _openfold_skipped(stack, run_id):
    """OpenFold on a multimer: its job exits 0 and its manifest says it ran nothing."""
    manifest = json.dumps({"step": "RunOpenFold", "engine": "openfold", "status": "skipped"})
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("foldline-step.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest.encode()))
    key = layout.step_output_prefix(run_id, "openfold") + "job-1/output/model.tar.gz"
    stack.s3.put_object(Bucket=stack.bucket, Key=key, Body=archive.getvalue())
    stack.runs.record_step(
        run_id,
        "RunOpenFold",
        status="Succeeded",
        started_at="2026-11-26T10:12:00+00:00",
        ended_at="2026-11-26T10:12:30+00:00",
    )


def _follow_a_multimer(stack, reports, monkeypatch, env=None):
    report = reports[0]

    def succeeded(stack, run_id):
        seed_report(
            stack,
            report.__class__(run_id, "6kwc", report.folder, report.metrics),
            created_at="2026-11-26T10:00:00+00:00",
        )

    moves = [_started, _both_engines_running, _openfold_skipped, succeeded]
    monkeypatch.setattr(follow, "_sleep", lambda s: moves.pop(0)(stack, _submitted_run_id(stack)))
    return moves


def test_wait_piped_shows_parallel_steps_and_a_skipped_engine(
    moto_stack, fasta, reports, monkeypatch
):
    _follow_a_multimer(moto_stack, reports, monkeypatch)
    result = invoke("submit", str(fasta), "--wait", "--interval", "0.1")
    assert result.exit_code == 0, result.output + result.stderr
    run_id = _submitted_run_id(moto_stack)
    changes = [line.split(" ", 1)[1] for line in result.output.splitlines() if line[:2].isdigit()]
    assert changes == [
        f"6kwc.fasta {run_id}: uploaded (RunMSA ·, RunAlphaFold ·, RunOpenFold ·)",
        f"6kwc.fasta {run_id}: Executing (RunMSA …, RunAlphaFold ·, RunOpenFold ·)",
        f"6kwc.fasta {run_id}: Executing (RunMSA ✓, RunAlphaFold …, RunOpenFold …)",
        f"6kwc.fasta {run_id}: Executing (RunMSA ✓, RunAlphaFold …, RunOpenFold skipped)",
        f"6kwc.fasta {run_id}: Succeeded (RunMSA ✓, RunAlphaFold ✓, RunOpenFold skipped)",
    ]
    assert "RunOpenFold ✓" not in result.output


def test_wait_at_80_columns_leaves_a_board_that_fits_and_says_skipped(
    moto_stack, fasta, reports, monkeypatch
):
    _follow_a_multimer(moto_stack, reports, monkeypatch)
    result = invoke("submit", str(fasta), "--wait", "--interval", "0.1", env=TERMINAL_80)
    assert result.exit_code == 0, result.output + result.stderr
    run_id = _submitted_run_id(moto_stack)
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.output)  # cursor moves of the live board
    start = output.rindex("Run ")  # the last board, left when the live one went
    board = output[start:].split(f"{run_id}: Succeeded")[0].rstrip().splitlines()
    assert max(len(line) for line in board) <= 80
    header = board[0].split()
    assert header == ["Run", "Status", "MSA", "AlphaFold", "OpenFold", "Elapsed"]
    (row,) = [line for line in board if line.startswith("6kwc.fasta")]
    cells = {name: row[board[0].index(name) :][:9].strip() for name in header[1:5]}
    assert cells == {
        "Status": "Succeeded",
        "MSA": "✓ 0s",
        "AlphaFold": "✓ 0s",
        "OpenFold": "skipped",
    }
    # under the file's name, the run id's unique beginning (whole in the lines below)
    assert board[3].strip() == views.short_ids([run_id])[run_id]
    assert f"{run_id}: Succeeded" in output
