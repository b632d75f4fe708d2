"""``foldline local run`` on a protein with no template in the bundled databases.

E. coli adenylate kinase (4AKE's sequence, tests/data/adk) has no homologue among the
bundled databases: the MSA step writes query-only MSAs and no template hit (as HMMER and
AlphaFold do), and the run succeeds with a model whose report and notice say that no
template was found and that the model is a placeholder, not a prediction.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.local.outbox import read_notice

from .conftest import ROOT

ADK = ROOT / "tests" / "data" / "adk" / "adk.fasta"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    work = tmp_path_factory.mktemp("adk") / "work"
    result = CliRunner().invoke(app, ["local", "run", str(ADK), "--workdir", str(work)])
    return work, result


def test_the_run_succeeds_with_a_model(finished):
    work, result = finished
    assert result.exit_code == 0, result.output
    assert "adk.fasta: Succeeded" in result.output
    (metrics_path,) = (work / "reports").glob("*/metrics.json")
    metrics = json.loads(metrics_path.read_text())
    for slot in ("alphafold", "openfold"):
        engine = metrics["engines"][slot]
        assert engine["engine"] == "template-cpu" and engine["n_residues"] == 214
        assert engine["stand_in"]["no_template"] is True
        assert engine["plddt"]["kind"] == "none"  # a placeholder's zeros are not pLDDT
    assert (metrics_path.parent / metrics["files"]["models"]["alphafold"]).is_file()


def test_report_and_notice_say_no_template_was_found(finished):
    work, _ = finished
    (metrics_path,) = (work / "reports").glob("*/metrics.json")
    metrics = json.loads(metrics_path.read_text())
    assert metrics["headline"].startswith(
        "CPU stand-in, not an engine comparison: no template found"
    )
    assert metrics["comparison"]["engine_agreement"] is False
    report = (metrics_path.parent / "report.html").read_text()
    assert "no template found" in report and "not a prediction" in report
    (notice_path,) = (work / "outbox").glob("*succeeded*")
    notice = read_notice(notice_path)
    assert "no template found" in notice.subject
    assert "no template found (placeholder model, not a prediction)" in notice.body


def test_the_msa_step_searched_and_found_nothing(finished):
    work, _ = finished
    (job,) = (work / "jobs").glob("pipelines-*-RunMSA-*")
    import tarfile

    with tarfile.open(job / "model.tar.gz") as tar:
        members = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        notes = json.loads(tar.extractfile(members["msa_search.json"]).read())
        assert tar.extractfile(members["msas/pdb_hits.sto"]).read() == b""
    (per_chain,) = notes["hits"].values()
    assert per_chain and all(count == 0 for count in per_chain.values())
