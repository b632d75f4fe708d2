"""``foldline local run`` end to end on the bundled example (and a file to reject).

The command runs in-process through typer's CliRunner; what the SageMaker API said about
the execution is read from the record the runtime leaves in ``<workdir>/executions/``,
the runs table and bucket from the state it saves in ``<workdir>/state/``.
"""

from __future__ import annotations

import datetime as dt
import json
import tarfile
from pathlib import Path

import gemmi
import pytest
from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.intake.fasta import decide_file
from foldline.local.outbox import read_notice
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP, PARAMETERS

from .conftest import EXAMPLE


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def _state(work: Path, logical_id: str) -> list[dict]:
    """Saved DynamoDB items, plain values."""
    items = json.loads((work / "state" / "dynamodb" / f"{logical_id}.json").read_text())
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def _archive(work: Path, step: str) -> tarfile.TarFile:
    (job,) = (work / "jobs").glob(f"pipelines-*-{step}-*")
    return tarfile.open(job / "model.tar.gz")


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e") / "work"
    dna = work.parent / "dna.fasta"
    dna.write_text(">not-a-protein\nATGGCGTACGTTAGCATCGATCGATCGGCTAGCTAGCATCG\n")
    result = CliRunner().invoke(
        app, ["local", "run", str(EXAMPLE), str(dna), "--workdir", str(work)]
    )
    return work, result


def test_exit_status_and_output(finished):
    work, result = finished
    assert result.exit_code == 1, result.output  # the DNA file was rejected
    assert "xylanase.fasta: Succeeded" in result.output
    assert "dna.fasta: Rejected" in result.output
    assert str(work / "reports") in result.output


def test_one_execution_with_the_right_parameters(finished):
    work, _ = finished
    (record,) = [json.loads(p.read_text()) for p in (work / "executions").glob("*.json")]
    assert record["execution"]["PipelineExecutionStatus"] == "Succeeded"
    params = {p["Name"]: p["Value"] for p in record["parameters"]}
    assert set(params) == {p.name for p in PARAMETERS}
    (run,) = [i for i in _state(work, "RunsTable") if i.get("status") == "Succeeded"]
    assert record["execution"]["PipelineExecutionDisplayName"] == run["run_id"]
    assert params["ModelPreset"] == "monomer"
    assert params["FastaFileName"].endswith(".fasta")
    assert params["FastaInputS3URI"].endswith(f"/runs/{run['run_id']}/input/")


def test_steps_ran_in_dependency_order(finished):
    work, _ = finished
    (record,) = [json.loads(p.read_text()) for p in (work / "executions").glob("*.json")]
    steps = {s["StepName"]: s for s in record["steps"]}
    assert set(steps) == {MSA_STEP.name, ALPHAFOLD_STEP.name, OPENFOLD_STEP.name}
    assert all(s["StepStatus"] == "Succeeded" for s in steps.values())
    msa_end = _time(steps[MSA_STEP.name]["EndTime"])
    for step in (ALPHAFOLD_STEP, OPENFOLD_STEP):
        assert _time(steps[step.name]["StartTime"]) >= msa_end
        assert steps[step.name]["Metadata"]["TrainingJob"]["Arn"]


def test_msas_come_from_a_real_search(finished, tmp_path):
    work, _ = finished
    with _archive(work, MSA_STEP.name) as tar:
        names = tar.getnames()
        assert "msas/uniref90_hits.sto" in names
        assert "msas/pdb_hits.sto" in names or "msas/pdb_hits.hhr" in names
        stockholm = tar.extractfile("msas/uniref90_hits.sto").read().decode()
    query = decide_file(str(EXAMPLE)).chains[0]
    rows = [
        line.split() for line in stockholm.splitlines() if line and not line.startswith(("#", "//"))
    ]
    names_in_order = list(dict.fromkeys(r[0] for r in rows))
    assert len(names_in_order) > 1, "the search found no homologue"
    first = "".join(r[1] for r in rows if r[0] == names_in_order[0]).replace("-", "")
    assert first.upper() == query.sequence  # the query comes first


def test_both_models_exist_and_parse(finished, tmp_path):
    work, _ = finished
    for step, member in ((ALPHAFOLD_STEP, "ranked_0.pdb"), (OPENFOLD_STEP, "predictions/")):
        with _archive(work, step.name) as tar:
            pdbs = [n for n in tar.getnames() if n.startswith(member) and n.endswith(".pdb")]
            assert pdbs, f"{step.name} left no model"
            tar.extract(pdbs[0], tmp_path / step.name, filter="data")
        structure = gemmi.read_structure(str(tmp_path / step.name / pdbs[0]))
        assert structure[0].count_atom_sites() > 100


def test_report_and_metrics(finished):
    work, _ = finished
    (report,) = (work / "reports").iterdir()
    assert (report / "report.html").is_file()
    metrics = json.loads((report / "metrics.json").read_text())
    complex_ = metrics["comparison"]["complex"]
    for name in ("tm_score", "rmsd", "ca_lddt"):
        assert isinstance(complex_[name], (int, float)), name
    assert 0 < complex_["tm_score"] <= 1 and complex_["rmsd"] >= 0
    # the MSA step's real alignments reached the report: depth for every residue
    (chain,) = metrics["msa"]["chains"]
    assert (
        chain["length"] == metrics["engines"]["alphafold"]["n_residues"]
        and min(chain["depth"]) >= 1
    )
    assert {"per_residue", "msa_coverage"} <= set(metrics["files"]["plots"])


def test_notices_and_runs_table(finished):
    work, _ = finished
    items = {i["status"]: i for i in _state(work, "RunsTable") if "status" in i}  # runs, not slots
    assert set(items) == {"Succeeded", "Rejected"}
    notices = [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]
    succeeded = [n for n in notices if n.status == "succeeded"]
    rejected = [n for n in notices if n.status == "rejected"]
    assert len(succeeded) == 1 and len(rejected) == 1 and len(notices) == 2
    assert succeeded[0].run_id == items["Succeeded"]["run_id"]
    assert items["Succeeded"]["run_id"] in succeeded[0].body
    # local: the report where `local run` put it (it exists), no presigned link to the
    # server that stopped with the run
    run_id = items["Succeeded"]["run_id"]
    page = work.resolve() / "reports" / run_id / "report.html"
    assert f"\n{page}\n" in succeeded[0].body and page.is_file()
    assert (
        "X-Amz-Signature" not in succeeded[0].body and "http://127.0.0.1" not in succeeded[0].body
    )
    assert rejected[0].run_id == items["Rejected"]["run_id"]
    assert "nucleotide" in rejected[0].subject
