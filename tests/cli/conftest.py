"""A foldline stack in moto, made from template.yaml (tests/stack.py), for the command.

Its resources are template.yaml's, under CloudFormation-like names; a CloudFormation stack
in moto carries its parameters and outputs, so ``foldline`` finds them through
``describe_stacks`` exactly as it finds a deployed stack. Three runs with real reports
(made by the analysis on real predictions) can be seeded for status/results/compare.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.intake.run_identity import run_id_for
from foldline.runs.table import EXECUTING, SUCCEEDED, RunsTable
from foldline.spec import layout
from tests.conftest import DATA
from tests.stack import build_stack, publish_as_cloudformation, template_stack

STACK = "foldline-test"
ID_BUCKET = "foldline-test-bucket"  # seeded run ids are derived from it: the same in every test
MAX_RESIDUES = 400  # the stack's FoldlineMaxResidues: the command must use it, not the default
MAX_RUN_COST_USD = 5  # the stack's MaxRunCostUsd (the default is 100)
OUTPUTS_DIR = DATA / "pipeline-outputs"
COLABFOLD = DATA / "analysis" / "colabfold"
EXAMPLE_FASTA = DATA / "openfold-6kwc" / "6kwc.fasta"
#: wide enough that tables do not wrap (help text: HELP_ENV, the width README shows)
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}
HELP_ENV = {"COLUMNS": "100", "TERMINAL_WIDTH": "100", "NO_COLOR": "1"}

#: CloudFormation's generated names end in a random suffix; README's examples show it as "..."
NAME_SUFFIX = "-1A2B3C4D5E6F"
#: the stack's parameters the tests set (the rest: template.yaml's defaults, local stand-ins)
PARAMETERS = {"FoldlineMaxResidues": MAX_RESIDUES, "MaxRunCostUsd": MAX_RUN_COST_USD}


@dataclass
class MotoStack:
    outputs: dict[str, str]
    s3: Any
    sqs: Any
    sagemaker: Any
    runs: RunsTable

    @property
    def bucket(self) -> str:
        return self.outputs["BucketName"]

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(o["Key"] for o in listed.get("Contents", []))


def invoke(*args: str, env: dict | None = None, **kwargs):
    """``foldline ARGS`` through the real typer app, stdout and stderr apart."""
    return CliRunner().invoke(app, list(args), env={**ENV, **(env or {})}, **kwargs)


@pytest.fixture
def stack_name() -> str:
    return STACK


@pytest.fixture
def extra_parameters() -> dict:
    """Stack parameters a test module sets beyond PARAMETERS."""
    return {}


@pytest.fixture
def withheld_outputs() -> tuple[str, ...]:
    """Outputs the stack lacks (parametrize it: a stack from an earlier template)."""
    return ()


@pytest.fixture
def moto_stack(monkeypatch, stack_name, extra_parameters, withheld_outputs) -> MotoStack:
    if stack_name == "foldline":  # the default: no --stack, no FOLDLINE_STACK
        monkeypatch.delenv("FOLDLINE_STACK", raising=False)
    else:
        monkeypatch.setenv("FOLDLINE_STACK", stack_name)
    for name in ("FOLDLINE_LOCAL", "FOLDLINE_ENDPOINT_URL", "FOLDLINE_WORKDIR", "FOLDLINE_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws(config={"lambda": {"use_docker": False}}):
        stack = template_stack(
            stack_name, name_suffix=NAME_SUFFIX, **PARAMETERS, **extra_parameters
        )
        build_stack(stack, databases_ready=False)  # as deployed: `foldline setup` not run yet
        described = publish_as_cloudformation(stack, withhold=withheld_outputs)
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}
        yield MotoStack(
            outputs,
            boto3.client("s3"),
            boto3.client("sqs"),
            boto3.client("sagemaker"),
            RunsTable(outputs["RunsTableName"], dynamodb=boto3.resource("dynamodb")),
        )


# -- runs with real reports -----------------------------------------------------------------


@dataclass(frozen=True)
class Report:
    """A report folder the analysis wrote, and the run it belongs to."""

    run_id: str
    target: str
    folder: Path
    metrics: dict


def _unpack(archive: bytes, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


@pytest.fixture(scope="session")
def reports(tmp_path_factory) -> list[Report]:
    """Three analyses of real predictions, oldest first: engine step outputs with manifests
    (6KWC), two single model files (6KWC unrelaxed vs relaxed), and two different proteins
    (TM-align)."""
    from foldline.analysis.analyze import analyze
    from tests import pipeline_runs

    root = tmp_path_factory.mktemp("reports")
    cases = [
        (
            "6kwc",
            "inputs/6kwc.fasta",
            _unpack(pipeline_runs.alphafold_archive(), root / "af"),
            _unpack(pipeline_runs.openfold_archive(), root / "of"),
            _unpack(pipeline_runs.msa_archive(), root / "msa"),
        ),
        (
            "6kwc",
            "inputs/6kwc.fasta",
            OUTPUTS_DIR / "6KWC_1_model_1_ptm_unrelaxed.pdb",
            OUTPUTS_DIR / "6KWC_1_model_1_ptm_relaxed.pdb",
            None,
        ),
        (
            "ERR550519",
            "inputs/ERR550519.fasta",
            COLABFOLD / "ERR550519_2213899_unrelaxed_model_1.pdb",
            OUTPUTS_DIR / "6KWC_1_model_1_ptm_relaxed.pdb",
            None,
        ),
    ]
    made = []
    for i, (target, key, alphafold, openfold, msa) in enumerate(cases):
        run_id = run_id_for(ID_BUCKET, key, f"version-{i}")
        folder = root / run_id
        metrics = analyze(
            alphafold, openfold, folder, msa=msa, context={"run_id": run_id, "target": target}
        )
        made.append(Report(run_id, target, folder, metrics))
    return made


def seed_report(stack: MotoStack, report: Report, *, created_at: str) -> dict:
    """Upload the report folder and write the run's item as the analysis leaves it."""
    prefix = layout.report_prefix(report.run_id)
    for path in sorted(report.folder.rglob("*")):
        if path.is_file():
            stack.s3.put_object(
                Bucket=stack.bucket,
                Key=prefix + path.relative_to(report.folder).as_posix(),
                Body=path.read_bytes(),
            )
    whole = report.metrics["comparison"]["complex"] or report.metrics["comparison"]["tm_align"]
    item = {
        "status": SUCCEEDED,
        "target": report.target,
        "bucket": stack.bucket,
        "key": f"inputs/{report.target}.fasta",
        "version": "v1",
        "chains": 1,
        "residues": 191,
        "created_at": created_at,
        "started_at": created_at,
        "ended_at": created_at.replace("T10:", "T11:"),
        "execution_arn": f"arn:aws:sagemaker:us-east-1:123456789012:pipeline/proteinfoldworkflow/execution/{report.run_id[-12:]}",
        "report_uri": layout.s3_uri(stack.bucket, prefix),
        "analysis_status": "Succeeded",
        "tm_score": whole["tm_score"],
        "rmsd": whole["rmsd"],
        "parameters": {"ModelPreset": "monomer", "DbPreset": "full_dbs"},
        "steps": {
            name: {"status": "Succeeded", "started_at": created_at, "ended_at": created_at}
            for name in ("RunMSA", "RunAlphaFold", "RunOpenFold")
        },
    }
    stack.runs.put(report.run_id, **item)
    # put() stamps created_at now; the seeded order must be the one given
    stack.runs.update(report.run_id, created_at=created_at)
    return stack.runs.get(report.run_id)


@pytest.fixture
def seeded(moto_stack, reports) -> list[dict]:
    """The three reported runs (a day apart, oldest first) and one still executing."""
    items = [
        seed_report(moto_stack, r, created_at=f"2026-11-2{i}T10:00:00+00:00")
        for i, r in enumerate(reports, 1)
    ]
    running = run_id_for(ID_BUCKET, "inputs/T1030.fasta", "v9")
    moto_stack.runs.put(
        running,
        status=EXECUTING,
        target="T1030",
        current_step="RunAlphaFold",
        started_at="2026-11-26T09:00:00+00:00",
        steps={
            "RunMSA": {
                "status": "Succeeded",
                "started_at": "2026-11-26T09:00:00+00:00",
                "ended_at": "2026-11-26T09:20:00+00:00",
            },
            "RunAlphaFold": {"status": "Executing", "started_at": "2026-11-26T09:20:00+00:00"},
        },
    )
    moto_stack.runs.update(running, created_at="2026-11-26T09:00:00+00:00")
    return [*items, moto_stack.runs.get(running)]
