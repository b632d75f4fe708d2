"""RunAlphaFold in its image under the real toolkit: a short peptide folded on the CPU with
random parameters in the real shapes, then foldline's analysis on its real outputs.

No AlphaFold weights can be downloaded here: the parameters are random
(in_image/make_random_params.py, DeepMind's npz format), so the structure is meaningless,
but every part runs as in the cloud: the MSA step's archive, AlphaFold's data pipeline with
the precomputed MSAs and a real template search, two of monomer_ptm's models
(model_1_ptm with templates, model_3_ptm without; FOLDLINE_ALPHAFOLD_MODELS, to keep the
CPU time short), ranking, Amber relaxation of the best model, and run_alphafold.py's
output layout, which the analysis reads.
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from foldline.analysis.analyze import analyze
from foldline.steps.alphafold import PRESET_MODELS
from tests.containers.conftest import EXAMPLES, IN_IMAGE, TrainingJob, fasta_of, run_in_image

MODELS = ("model_1_ptm", "model_3_ptm")
#: the xylanase's first 30 residues: homologues in every example database, 6KWC a template
PEPTIDE = "".join((EXAMPLES / "xylanase.fasta").read_text().splitlines()[1:])[:30]
HYPERPARAMETERS = {
    "FastaFileName": "peptide.fasta",
    "DbPreset": "reduced_dbs",
    "ModelPreset": "monomer_ptm",
    "MaxTemplateDate": "2025-01-01",
}


def test_preset_models_are_the_packages(images):
    done = run_in_image(
        images["alphafold"],
        "/opt/alphafold-env/bin/python",
        "-c",
        "import json; from alphafold.model import config; print(json.dumps(config.MODEL_PRESETS))",
    )
    assert done.returncode == 0, done.stderr
    assert {k: tuple(v) for k, v in json.loads(done.stdout).items()} == PRESET_MODELS


def test_alphafold_images_engine_imports_the_model_and_relax(images):
    done = run_in_image(
        images["alphafold"],
        "/opt/alphafold-env/bin/python",
        "/t/engine_imports.py",
        mounts={IN_IMAGE: "/t:ro"},
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert all(
        found[m]
        for m in (
            "alphafold.model.model",
            "alphafold.relax.relax",
            "jax",
            "haiku",
            "openmm",
            "pdbfixer",
        )
    )
    assert not found["find_spec_sagemaker_training"]  # foldline's environment stays apart


def test_openmm_gives_each_cysteine_one_disulfide(images):
    """DeepMind's OpenMM patch (createDisulfideBonds): the pinned OpenMM has it upstream."""
    done = run_in_image(
        images["alphafold"],
        "/opt/alphafold-env/bin/python",
        "/t/check_disulfides.py",
        mounts={IN_IMAGE: "/t:ro"},
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert max(found["per_sg"].values()) == 1, found  # unpatched: an SG with two disulfides
    assert found["bonds"] == [[1, 0]], found  # the closest pair, once


@pytest.fixture(scope="module")
def random_params(tmp_path_factory, images):
    root = tmp_path_factory.mktemp("param")
    done = run_in_image(
        images["alphafold"],
        "/opt/alphafold-env/bin/python",
        "/t/make_random_params.py",
        "/out",
        *MODELS,
        mounts={IN_IMAGE: "/t:ro", root: "/out"},
    )
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture(scope="module")
def msa_archive(tmp_path_factory, images, databases):
    """RunMSA on the peptide, in its image: the archive SageMaker hands to RunAlphaFold."""
    root = tmp_path_factory.mktemp("peptide-msa")
    job = TrainingJob(
        root / "job", {**HYPERPARAMETERS, "FastaFileName": "query.fasta", "MsaCacheS3URI": ""}
    )
    (job.channel("fasta") / "query.fasta").write_text(fasta_of("peptide", PEPTIDE))
    job.read_only_channel("databases", databases)
    done = job.run(images["msa"])
    assert done.returncode == 0, (job.root / "job.log").read_text()[-6000:]
    return job.model_tar_gz(root / "s3")


@pytest.fixture(scope="module")
def alphafold_job(tmp_path_factory, images, databases, random_params, msa_archive):
    job = TrainingJob(
        tmp_path_factory.mktemp("alphafold") / "job",
        {**HYPERPARAMETERS, "NumMultimerPredictionsPerModel": "5"},
    )
    (job.channel("fasta") / "peptide.fasta").write_text(fasta_of("peptide", PEPTIDE))
    (job.channel("msa") / "model.tar.gz").write_bytes(msa_archive.read_bytes())
    job.read_only_channel("databases", databases)
    job.read_only_channel("param", random_params)
    job.environment["FOLDLINE_ALPHAFOLD_MODELS"] = ",".join(MODELS)
    done = job.run(images["alphafold"], timeout=2400)
    assert done.returncode == 0, (job.root / "job.log").read_text()[-8000:]
    return job


# One test reads the job's outputs, so that pytest-xdist never runs the job twice (module
# fixtures are per worker, and its default scheduling spreads a module's tests).
def test_run_alphafold_in_its_image_and_analyse_its_outputs(tmp_path, alphafold_job):
    outputs_are_run_alphafolds(alphafold_job)
    manifest_names_the_random_weights(alphafold_job)
    analysis_reads_the_outputs(tmp_path, alphafold_job)


def outputs_are_run_alphafolds(job):
    assert job.failure() is None
    files = sorted(p.name for p in job.model.iterdir())
    best = json.loads((job.model / "ranking_debug.json").read_text())["order"][0]
    assert {
        "features.pkl",
        "ranking_debug.json",
        "timings.json",
        "relax_metrics.json",
        "ranked_0.pdb",
        "ranked_1.pdb",
        f"relaxed_{best}.pdb",
        "foldline-step.json",
        *(f"result_{m}.pkl" for m in MODELS),
        *(f"unrelaxed_{m}.pdb" for m in MODELS),
    } == set(files), files
    ranking = json.loads((job.model / "ranking_debug.json").read_text())
    assert set(ranking["plddts"]) == set(MODELS) and sorted(ranking["order"]) == sorted(MODELS)
    assert ranking["plddts"][ranking["order"][0]] >= ranking["plddts"][ranking["order"][1]]
    length = len(PEPTIDE)
    for model in MODELS:
        with open(job.model / f"result_{model}.pkl", "rb") as handle:
            result = pickle.load(handle)
        assert result["plddt"].shape == (length,) and result["plddt"].dtype == np.float32
        assert 0 <= result["plddt"].min() and result["plddt"].max() <= 100
        assert result["predicted_aligned_error"].shape == (length, length)
        assert 0 <= float(result["ptm"]) <= 1
        assert result["ranking_confidence"] == pytest.approx(float(np.mean(result["plddt"])))
        assert result["num_recycles"] == 3
        assert np.isfinite(result["structure_module"]["final_atom_positions"]).all()
    relaxed = (job.model / "ranked_0.pdb").read_text()
    assert relaxed == (job.model / f"relaxed_{best}.pdb").read_text()
    assert " H " in relaxed or " H\n" in relaxed  # relaxation adds hydrogens
    metrics = json.loads((job.model / "relax_metrics.json").read_text())
    assert set(metrics) == {best} and "remaining_violations_count" in metrics[best]
    timings = json.loads((job.model / "timings.json").read_text())
    assert {"features", f"relax_{best}", *(f"predict_and_compile_{m}" for m in MODELS)} <= set(
        timings
    )
    with open(job.model / "features.pkl", "rb") as handle:
        features = pickle.load(handle)
    assert features["msa"].shape[1] == length and features["msa"].shape[0] > 10


def manifest_names_the_random_weights(job):
    manifest = job.manifest()
    assert manifest["status"] == "succeeded" and manifest["engine"] == "alphafold"
    assert manifest["weights"]["kind"] == "random"
    assert manifest["weights"]["files"] == [f"params_{m}.npz" for m in MODELS]
    assert manifest["weights"]["source"] == "/opt/ml/input/data/param/params"
    command = manifest["command"]
    assert command[:2] == ["/opt/alphafold-env/bin/python", "/opt/foldline/run_alphafold.py"]
    assert "--nouse_gpu_relax" in command and f"--model_names={','.join(MODELS)}" in command
    assert any("ran 2 of the preset's 5 models" in note for note in manifest["notes"])


def analysis_reads_the_outputs(tmp_path, job):
    openfold = tmp_path / "openfold-absent"
    openfold.mkdir()
    metrics = analyze(job.model, openfold, tmp_path / "report")
    section = metrics["engines"]["alphafold"]
    assert section["engine"] == "alphafold"
    assert section["weights"]["kind"] == "random"
    assert section["model_file"] == "ranked_0.pdb" and section["n_residues"] == len(PEPTIDE)
    assert section["pae"]["source"].startswith("result_model_")
    assert (tmp_path / "report" / "metrics.json").is_file()
    assert "random test weights" in (tmp_path / "report" / "report.html").read_text()
