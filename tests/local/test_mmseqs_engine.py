"""``foldline local run --msa-engine mmseqs2``: the stack parameter MsaEngine reaches the
start function and the MSA step, which searches the bundled databases with MMseqs2
(ColabFold's protocol) and hands AlphaFold's layout to both inference steps."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from foldline.cli.app import app

from .conftest import ROOT, local_run_with_mmseqs_cache

XYLANASE = ROOT / "examples" / "xylanase.fasta"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("mmseqs-local")
    return root, local_run_with_mmseqs_cache(root, str(XYLANASE), "--msa-engine", "mmseqs2")


def test_the_run_succeeds_with_mmseqs2_msas(finished):
    root, result = finished
    assert result.exit_code == 0, result.output
    (msa_job,) = (root / "work" / "jobs").glob("*RunMSA*")
    manifest = json.loads((msa_job / "model" / "foldline-step.json").read_text())
    assert manifest["status"] == "succeeded" and manifest["engine"] == "mmseqs2"
    assert "msas/uniref90_hits.sto" in manifest["outputs"]["msa_files"]
    notes = json.loads((msa_job / "model" / "msa_search.json").read_text())
    (hits,) = notes["hits"].values()  # one chain (named as the staged query names it)
    assert notes["engine"] == "mmseqs2" and hits["pdb_hits.sto"] >= 1
    assert hits["uniref90_hits.sto"] > 100
    # the MMseqs2 databases were made from the bundled FASTA files, in the cache asked for
    assert list((root / "mmseqs-cache").glob("*/db.dbtype"))
    # both inference steps ran on these MSAs and the report was made
    assert list((root / "work" / "reports").glob("*/report.html"))


def test_an_unknown_engine_is_refused_before_anything_runs(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "local",
            "run",
            str(XYLANASE),
            "--workdir",
            str(tmp_path / "work"),
            "--msa-engine",
            "hhblits",
        ],
    )
    assert result.exit_code == 2
    words = " ".join(result.output.replace("│", " ").split())  # rich wraps the message in a box
    assert "'hhblits': use one of alphafold, pyhmmer, mmseqs2, auto" in words
    assert not (tmp_path / "work" / "jobs").exists()
