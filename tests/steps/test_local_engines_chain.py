"""The three steps on the local CPU engines, on the bundled example (no recorder).

MSA step with pyhmmer over ``examples/databases`` -> its model.tar.gz as the next steps'
``msa`` channel -> AlphaFold and OpenFold slots filled by the template-cpu stand-in,
each in its engine's layout and labelled with the engine that really made it.
"""

from __future__ import annotations

import json
import tarfile

import pytest

from foldline.steps import alphafold, msa, openfold
from tests.steps.conftest import REPO, Workspace

EXAMPLES = REPO / "examples"


@pytest.fixture
def chain_of_steps(tmp_path):
    ws = Workspace(
        tmp_path / "msa", db_preset="reduced_dbs", fasta_name="xylanase.fasta", max_template_date=""
    )
    (ws.data / "fasta" / "xylanase.fasta").write_text((EXAMPLES / "xylanase.fasta").read_text())
    ws.extra["FOLDLINE_MSA_ENGINE"] = "pyhmmer"

    def with_examples(env):
        return {**env, "SM_CHANNEL_DATABASES": str(EXAMPLES / "databases")}

    manifest = msa.run(type(ws.training_env()).from_env(with_examples(ws.env())))
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in ws.model_dir.iterdir():
            tar.add(path, arcname=path.name)
    return ws, manifest, archive, with_examples


def fold(tmp_path, name, archive, with_examples, module):
    ws = Workspace(
        tmp_path / name, db_preset="reduced_dbs", fasta_name="xylanase.fasta", max_template_date=""
    )
    (ws.data / "fasta" / "xylanase.fasta").write_text((EXAMPLES / "xylanase.fasta").read_text())
    (ws.data / "msa").mkdir()
    (ws.data / "msa" / "model.tar.gz").write_bytes(archive.read_bytes())
    ws.extra.update(
        FOLDLINE_FOLD_ENGINE="auto",
        FOLDLINE_AF_RUNNER=str(tmp_path / "none" / "run_alphafold.py"),
        OPENFOLD_DIR=str(tmp_path / "none"),
    )
    env = type(ws.training_env()).from_env(with_examples(ws.env()))
    return ws, module.run(env)


def test_local_chain_labels_every_model_template_cpu(tmp_path, chain_of_steps):
    _ws, manifest, archive, with_examples = chain_of_steps
    assert manifest.engine == "pyhmmer" and manifest.status == "succeeded"
    assert "msas/pdb_hits.sto" in manifest.outputs["msa_files"]

    af, af_manifest = fold(tmp_path, "af", archive, with_examples, alphafold)
    assert af_manifest.engine == "template-cpu"
    assert any("no real AlphaFold here" in note for note in af_manifest.notes)
    ranking = json.loads((af.model_dir / "ranking_debug.json").read_text())
    assert ranking["engine"] == "template-cpu" and ranking["order"]
    assert ranking["order"][0] == "template-cpu_1"
    ranked = af.model_dir / "ranked_0.pdb"
    assert "template-cpu" in ranked.read_text()[:2000]
    assert af_manifest.outputs["best_model"] == "ranked_0.pdb"

    of, of_manifest = fold(tmp_path, "of", archive, with_examples, openfold)
    assert of_manifest.engine == "template-cpu"
    (model,) = (of.model_dir / "predictions").glob("*.pdb")
    assert model.name.endswith("_template-cpu_unrelaxed.pdb")
    assert "template-cpu" in model.read_text()[:2000]
