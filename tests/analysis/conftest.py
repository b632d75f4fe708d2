"""Real structures for the analysis tests (tests/data/analysis, see its NOTICE.md)."""

from __future__ import annotations

import json
import lzma
import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data" / "analysis"
KWC = DATA / "openfold-6kwc"
KWC_RELAXED = KWC / "6KWC_1_model_1_ptm_relaxed.pdb"
KWC_UNRELAXED = KWC / "6KWC_1_model_1_ptm_unrelaxed.pdb"
COLABFOLD = DATA / "colabfold"
ERR_PDB = COLABFOLD / "ERR550519_2213899_unrelaxed_model_1.pdb"
ERR_CIF = COLABFOLD / "ERR550519_2213899_unrelaxed_model_1.cif"
PICKLE_6A5J = COLABFOLD / "6A5J_model_pred.pkl.xz"
A3M_6A5J = COLABFOLD / "6A5J.a3m"
EXPERIMENTAL = sorted((DATA / "structures").glob("*.cif"))
GTL_ABE = DATA / "2gtl" / "2gtl_chains_ABE.pdb"
MGNIFY_6KWC = KWC / "mgnify_hits.sto.xz"
BFD_6KWC = DATA.parent / "steps" / "openfold-6kwc" / "alignments" / "6KWC_1" / "bfd_uniref_hits.a3m"


def random_rigid_motion(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random proper rotation (QR of a Gaussian matrix) and a translation of ~100 Å."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return q, rng.uniform(-100, 100, size=3)


def pdb_ca_bfactors(path: Path) -> list[float]:
    """CA B-factors read straight from the PDB columns (61-66), independently of gemmi."""
    values = []
    for line in path.read_text().splitlines():
        if line.startswith(("ATOM  ", "HETATM")) and line[12:16].strip() == "CA":
            values.append(float(line[60:66]))
        if line.startswith("ENDMDL"):
            break
    return values


def write_manifest(folder: Path, step: str, engine: str, version: str, seconds: int) -> None:
    """A ``foldline-step.json`` with the fields foldline.steps.manifest writes."""
    start = "2026-01-01T00:00:00+00:00"
    end = f"2026-01-01T00:{seconds // 60:02d}:{seconds % 60:02d}+00:00"
    (folder / "foldline-step.json").write_text(
        json.dumps(
            {
                "step": step,
                "engine": engine,
                "engine_version": version,
                "parameters": {},
                "started_at": start,
                "ended_at": end,
                "exit_status": 0,
                "status": "succeeded",
                "outputs": {},
                "notes": [],
            }
        )
    )


@pytest.fixture
def alphafold_dir(tmp_path: Path) -> Path:
    """AlphaFold's output layout around real 6KWC models.

    ranked_0 is the relaxed prediction ``model_1_ptm_pred_0`` (relaxed_ and unrelaxed_
    files both present). The models are OpenFold's, so the manifest says "openfold":
    the analysis must report the engine the manifest names, whatever the slot.
    result_model_1_ptm_pred_0.pkl holds the model's own B-factors as pLDDT and a
    SYNTHETIC PAE (|i - j| ramp) of the right shape: it exercises the reading and the
    plot, not any number (the real-pickle checks use 6A5J).
    """
    folder = tmp_path / "alphafold"
    folder.mkdir()
    shutil.copyfile(KWC_RELAXED, folder / "ranked_0.pdb")
    shutil.copyfile(KWC_RELAXED, folder / "relaxed_model_1_ptm_pred_0.pdb")
    shutil.copyfile(KWC_UNRELAXED, folder / "unrelaxed_model_1_ptm_pred_0.pdb")
    plddt = np.asarray(pdb_ca_bfactors(KWC_UNRELAXED))
    n = len(plddt)
    idx = np.arange(n)
    pae = np.abs(idx[:, None] - idx[None, :]) / n * 20 + 1.0
    import pickle

    with open(folder / "result_model_1_ptm_pred_0.pkl", "wb") as handle:
        pickle.dump(
            {
                "plddt": plddt,
                "predicted_aligned_error": pae.astype(np.float32),
                "ptm": np.float64(0.87),
                "max_predicted_aligned_error": np.float64(31.75),
            },
            handle,
        )
    (folder / "ranking_debug.json").write_text(
        json.dumps(
            {"plddts": {"model_1_ptm_pred_0": float(plddt.mean())}, "order": ["model_1_ptm_pred_0"]}
        )
    )
    (folder / "timings.json").write_text(
        json.dumps({"features": 1.5, "predict_and_compile_model_1_ptm_pred_0": 42.0})
    )
    write_manifest(folder, "RunAlphaFold", "openfold", "test-fixture", 95)
    return folder


@pytest.fixture
def openfold_dir(tmp_path: Path) -> Path:
    """OpenFold's layout: predictions/6KWC_1_model_1_ptm_{relaxed,unrelaxed}.pdb (real files)."""
    folder = tmp_path / "openfold"
    (folder / "predictions").mkdir(parents=True)
    shutil.copyfile(KWC_RELAXED, folder / "predictions" / KWC_RELAXED.name)
    shutil.copyfile(KWC_UNRELAXED, folder / "predictions" / KWC_UNRELAXED.name)
    (folder / "timings.json").write_text(json.dumps({"inference": 30.0}))
    write_manifest(folder, "RunOpenFold", "openfold", "2.2.0", 70)
    return folder


@pytest.fixture(scope="session")
def sequence_6a5j() -> str:
    lines = [line.strip() for line in A3M_6A5J.read_text().splitlines()]
    return lines[1]


@pytest.fixture(scope="session")
def raw_6a5j() -> bytes:
    return lzma.decompress(PICKLE_6A5J.read_bytes())


@pytest.fixture
def msa_dir(tmp_path: Path) -> Path:
    """The MSA step's folder for 6KWC_1: ``msas/`` with the real MGnify Stockholm and
    BFD A3M (monomer layout), its manifest and timings."""
    folder = tmp_path / "msa"
    (folder / "msas").mkdir(parents=True)
    (folder / "msas" / "mgnify_hits.sto").write_bytes(lzma.decompress(MGNIFY_6KWC.read_bytes()))
    shutil.copyfile(BFD_6KWC, folder / "msas" / "bfd_uniref_hits.a3m")
    (folder / "timings.json").write_text(json.dumps({"jackhmmer_mgnify": 12.0}))
    write_manifest(folder, "RunMSA", "alphafold", "2.3.2", 40)
    return folder
