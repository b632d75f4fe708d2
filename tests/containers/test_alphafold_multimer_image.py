"""RunAlphaFold with AlphaFold-Multimer in its image, then foldline's per-chain pTM and per
chain-pair ipTM checked against AlphaFold's own ``predicted_tm_score`` on the real outputs.

As ``test_alphafold_image.py`` (random parameters in the real shapes, CPU, the real
toolkit, RunMSA's archive from its image), for ``ModelPreset=multimer``: three short
chains from the bundled data (a heteromer, so RunMSA's UniProt search and AlphaFold's MSA
pairing run too), one model (``model_1_multimer_v3``, one prediction), relaxed. The
structure means nothing (random weights); the confidence arithmetic on its outputs is
AlphaFold's, and foldline's must give the same numbers.
"""

from __future__ import annotations

import json

import pytest

from foldline.analysis.analyze import analyze
from tests.containers.conftest import EXAMPLES, IN_IMAGE, TrainingJob, run_in_image

MODEL = "model_1_multimer_v3"
PREDICTION = f"{MODEL}_pred_0"
LENGTH = 24
#: three chains' first residues: the demo xylanase, 6KWC and Par-3's N-terminal domain
CHAINS = {
    "xylanase": (EXAMPLES / "xylanase.fasta").read_text().splitlines()[1][:LENGTH],
    "gh11_6kwc": (EXAMPLES / "databases" / "pdb_seqres" / "pdb_seqres.txt").read_text().splitlines()[1][:LENGTH],
    "par3_ntd": (EXAMPLES / "multimer.fasta").read_text().splitlines()[1][:LENGTH],
}  # fmt: skip
FASTA = "".join(f">{name}\n{sequence}\n" for name, sequence in CHAINS.items())
HYPERPARAMETERS = {"FastaFileName": "trimer.fasta", "DbPreset": "reduced_dbs",
                   "ModelPreset": "multimer", "MaxTemplateDate": "2025-01-01",
                   "NumMultimerPredictionsPerModel": "1"}  # fmt: skip


@pytest.fixture(scope="module")
def multimer_job(tmp_path_factory, images, databases):
    root = tmp_path_factory.mktemp("multimer")
    params = root / "param"
    done = run_in_image(images["alphafold"], "/opt/alphafold-env/bin/python",
                        "/t/make_random_params.py", "/out", MODEL,
                        mounts={IN_IMAGE: "/t:ro", params: "/out"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]

    msa = TrainingJob(root / "msa-job", {**HYPERPARAMETERS, "FastaFileName": "query.fasta",
                                         "MsaCacheS3URI": ""})  # fmt: skip
    (msa.channel("fasta") / "query.fasta").write_text(FASTA)
    msa.read_only_channel("databases", databases)
    done = msa.run(images["msa"])
    assert done.returncode == 0, (msa.root / "job.log").read_text()[-6000:]

    job = TrainingJob(root / "alphafold-job", HYPERPARAMETERS)
    (job.channel("fasta") / "trimer.fasta").write_text(FASTA)
    (job.channel("msa") / "model.tar.gz").write_bytes(msa.model_tar_gz(root / "s3").read_bytes())
    job.read_only_channel("databases", databases)
    job.read_only_channel("param", params)
    job.environment["FOLDLINE_ALPHAFOLD_MODELS"] = MODEL
    # the multimer model's XLA compile on a shared CPU took over 40 minutes once
    done = job.run(images["alphafold"], timeout=3600)
    assert done.returncode == 0, (job.root / "job.log").read_text()[-8000:]
    return job


def test_chain_pair_confidence_is_alphafolds_predicted_tm_score_per_chain_and_pair(
        tmp_path, images, multimer_job):  # fmt: skip
    model = multimer_job.model
    assert json.loads((model / "ranking_debug.json").read_text())["order"] == [PREDICTION]
    done = run_in_image(images["alphafold"], "/opt/alphafold-env/bin/python",
                        "/t/chain_pair_ptm.py", f"/m/result_{PREDICTION}.pkl", "/m/features.pkl",
                        mounts={IN_IMAGE: "/t:ro", model: "/m:ro"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    alphafold = json.loads(done.stdout)
    # the bins as AlphaFold's config makes them: 0 to 31 Å in 63 edges, last centre 31.75 Å
    assert alphafold["breaks"] == [0.0, 31.0, 63]
    assert alphafold["pickle"]["max_predicted_aligned_error"] == pytest.approx(31.75)
    # the recomputation is the model's own on the whole complex (its float16 outputs aside)
    assert alphafold["complex"]["ptm"] == pytest.approx(alphafold["pickle"]["ptm"], abs=2e-3)
    assert alphafold["complex"]["iptm"] == pytest.approx(alphafold["pickle"]["iptm"], abs=2e-3)

    openfold = tmp_path / "openfold-absent"
    openfold.mkdir()
    metrics = analyze(model, openfold, tmp_path / "report")
    section = metrics["engines"]["alphafold"]
    assert [c["length"] for c in section["chains"]] == [LENGTH] * 3
    found = section["chain_pair_confidence"]
    assert found["source"].startswith(f"result_{PREDICTION}.pkl") and "features.pkl asym_id" in found["source"]
    assert set(found["ptm"]) == {"A", "B", "C"} and set(found["iptm"]) == {"A-B", "A-C", "B-C"}
    for chain, value in alphafold["ptm"].items():
        assert found["ptm"][chain] == pytest.approx(value, abs=1e-4), chain
    for pair, value in alphafold["iptm"].items():
        assert found["iptm"][pair] == pytest.approx(value, abs=1e-4), pair
    page = (tmp_path / "report" / "report.html").read_text()
    assert "ipTM per chain pair" in page and f"{found['iptm']['A-B']:.3f}" in page
