"""An upload's ``MsaEngine`` tag picks the run's MSA engine over the stack's: through the
local runtime's start function, pipeline parameter and MSA job, to the report, metrics.json
and the notice, which name the engine that made the MSAs and the databases it searched."""

from __future__ import annotations

import json

import pytest

from foldline.local.outbox import read_notice

from .conftest import ROOT, local_run_with_mmseqs_cache

XYLANASE = ROOT / "examples" / "xylanase.fasta"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    # the stack's MsaEngine stays its default (auto: pyhmmer here); the tag says mmseqs2
    root = tmp_path_factory.mktemp("msa-engine-tag")
    result = local_run_with_mmseqs_cache(root, str(XYLANASE), "--param", "MsaEngine=mmseqs2")
    return root / "work", result


def test_the_tag_runs_its_engine_and_every_output_names_it(finished):
    work, result = finished
    assert result.exit_code == 0, result.output
    (msa_job,) = (work / "jobs").glob("*RunMSA*")
    manifest = json.loads((msa_job / "model" / "foldline-step.json").read_text())
    assert manifest["engine"] == "mmseqs2" and manifest["msa_source"]["engine"] == "mmseqs2"
    (report,) = (work / "reports").iterdir()
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["msa_engine"]["engine"] == "mmseqs2"
    # what the FASTA engines search for full_dbs (the small BFD stands in for BFD + UniRef30)
    assert metrics["msa_engine"]["databases"] == ["uniref90", "mgnify", "small_bfd", "pdb_seqres"]
    said = "MSAs made by mmseqs2"
    assert said in (report / "report.html").read_text()
    (notice,) = [read_notice(p) for p in (work / "outbox").glob("*.eml")]
    assert any(line.startswith("MSAs: mmseqs2") for line in notice.body.splitlines())
