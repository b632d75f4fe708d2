"""Reading models, result pickles and engine output folders."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil

import numpy as np
import pytest

from foldline.analysis.confidence import plddt_summary
from foldline.analysis.engine_outputs import pick_like_with_like, read_engine_output
from foldline.analysis.pickles import UnsafePickleError, confidence_from_result, load_numpy_pickle
from foldline.analysis.structures import load_structure

from .conftest import ERR_CIF, ERR_PDB, KWC_RELAXED, KWC_UNRELAXED, PICKLE_6A5J, pdb_ca_bfactors


def test_pdb_and_mmcif_of_one_model_read_the_same():
    pdb, cif = load_structure(ERR_PDB), load_structure(ERR_CIF)
    assert pdb.chain_names == cif.chain_names == ["A"]
    assert pdb.chains[0].sequence == cif.chains[0].sequence
    assert len(pdb.chains[0]) == 130
    np.testing.assert_allclose(pdb.chains[0].ca, cif.chains[0].ca, atol=1e-3)
    np.testing.assert_allclose(pdb.plddt, cif.plddt, atol=1e-2)


@pytest.mark.parametrize("path", [KWC_RELAXED, KWC_UNRELAXED, ERR_PDB])
def test_mean_plddt_equals_the_ca_b_factor_column(path):
    independent = pdb_ca_bfactors(path)
    model = load_structure(path)
    assert model.n_residues == len(independent)
    assert plddt_summary(model.plddt)["mean"] == pytest.approx(
        sum(independent) / len(independent), abs=0.005
    )


def test_zero_to_one_b_factors_are_rescaled(tmp_path):
    lines = []
    for line in KWC_UNRELAXED.read_text().splitlines():
        if line.startswith("ATOM  "):
            line = f"{line[:60]}{float(line[60:66]) / 100:6.2f}{line[66:]}"
        lines.append(line)
    scaled = tmp_path / "scaled.pdb"
    scaled.write_text("\n".join(lines) + "\n")
    model = load_structure(scaled)
    assert model.plddt_scale == "0-1"
    np.testing.assert_allclose(
        model.plddt, np.round(np.asarray(pdb_ca_bfactors(KWC_UNRELAXED)) / 100, 2) * 100
    )


def test_gzipped_models_load(tmp_path):
    target = tmp_path / "model.pdb.gz"
    target.write_bytes(gzip.compress(ERR_PDB.read_bytes()))
    assert load_structure(target).chains[0].sequence == load_structure(ERR_PDB).chains[0].sequence


def test_plddt_bands_partition_the_residues():
    summary = plddt_summary(np.array([95.0, 90.0, 70.0, 69.9, 50.0, 49.9, 10.0, 91.0]))
    assert summary["bands"] == {"very_high": 0.25, "confident": 0.25, "low": 0.25, "very_low": 0.25}
    assert summary["mean"] == pytest.approx(525.8 / 8, abs=0.01)


def test_real_alphafold_pickle_has_the_sequence_length_on_each_axis(sequence_6a5j):
    raw = load_numpy_pickle(PICKLE_6A5J)  # xz-compressed
    conf = confidence_from_result(raw)
    n = len(sequence_6a5j)
    assert n == 13
    assert conf["plddt"].shape == (n,)
    assert conf["pae"].shape == (n, n)
    assert 0 < conf["plddt"].min() and conf["plddt"].max() <= 100
    assert conf["pae"].min() >= 0
    assert conf["ptm"] is not None and 0 <= conf["ptm"] <= 1
    assert conf["plddt"].mean() == pytest.approx(float(raw["mean_plddt"]))


def test_uncompressed_pickles_load_too(tmp_path, raw_6a5j):
    plain = tmp_path / "result_model_1.pkl"
    plain.write_bytes(raw_6a5j)
    assert load_numpy_pickle(plain)["predicted_aligned_error"].shape == (13, 13)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    bad = tmp_path / "result_model_1.pkl"
    bad.write_bytes(pickle.dumps({"plddt": Payload()}))
    with pytest.raises(UnsafePickleError):
        load_numpy_pickle(bad)
    assert not (tmp_path / "ran").exists()


def _mean(model_file):
    return float(load_structure(model_file.path).plddt.mean())


def test_alphafold_layout_is_read(alphafold_dir):
    output = read_engine_output(alphafold_dir, "alphafold")
    assert output.layout == "alphafold"
    top = output.models[0]
    assert (top.path.name, top.name, top.relaxed, top.rank) == (
        "ranked_0.pdb",
        "model_1_ptm_pred_0",
        True,
        0,
    )
    assert top.result_pickle.name == "result_model_1_ptm_pred_0.pkl"
    assert output.manifest["engine"] == "openfold"
    assert output.step_runtime()["seconds"] == 95.0
    assert output.multimer is False


def test_both_relaxed_are_compared_when_both_exist(alphafold_dir, openfold_dir):
    pairing = pick_like_with_like(
        read_engine_output(alphafold_dir, "alphafold"),
        read_engine_output(openfold_dir, "openfold"),
        _mean,
    )
    assert pairing.relaxation == "relaxed"
    assert pairing.alphafold.path.name == "ranked_0.pdb"
    assert pairing.openfold.path.name == "6KWC_1_model_1_ptm_relaxed.pdb"


def test_unrelaxed_for_both_when_openfold_did_not_relax(alphafold_dir, openfold_dir):
    (openfold_dir / "predictions" / KWC_RELAXED.name).unlink()
    pairing = pick_like_with_like(
        read_engine_output(alphafold_dir, "alphafold"),
        read_engine_output(openfold_dir, "openfold"),
        _mean,
    )
    assert pairing.relaxation == "unrelaxed"
    assert pairing.alphafold.path.name == "unrelaxed_model_1_ptm_pred_0.pdb"
    assert pairing.openfold.path.name == KWC_UNRELAXED.name
    assert "unrelaxed" in pairing.explanation and "ranked_0" in pairing.explanation


def test_unrelaxed_for_both_when_alphafold_did_not_relax(alphafold_dir, openfold_dir):
    (alphafold_dir / "relaxed_model_1_ptm_pred_0.pdb").unlink()
    shutil.copyfile(KWC_UNRELAXED, alphafold_dir / "ranked_0.pdb")
    pairing = pick_like_with_like(
        read_engine_output(alphafold_dir, "alphafold"),
        read_engine_output(openfold_dir, "openfold"),
        _mean,
    )
    assert pairing.relaxation == "unrelaxed"
    assert pairing.alphafold.path.name == "ranked_0.pdb"
    assert pairing.openfold.path.name == KWC_UNRELAXED.name


def test_openfold_best_model_is_picked_by_plddt(openfold_dir, tmp_path):
    # a second preset: the same model with pLDDT 30 lower, so model_1_ptm must win
    worse = openfold_dir / "predictions" / "6KWC_1_model_2_ptm_unrelaxed.pdb"
    lines = []
    for line in KWC_UNRELAXED.read_text().splitlines():
        if line.startswith("ATOM  "):
            line = f"{line[:60]}{max(float(line[60:66]) - 30, 0):6.2f}{line[66:]}"
        lines.append(line)
    worse.write_text("\n".join(lines) + "\n")
    (openfold_dir / "predictions" / KWC_RELAXED.name).unlink()
    af = read_engine_output(KWC_UNRELAXED, "alphafold")
    pairing = pick_like_with_like(af, read_engine_output(openfold_dir, "openfold"), _mean)
    assert pairing.openfold.name == "model_1_ptm"


def test_a_folder_without_models_is_an_error(tmp_path):
    (tmp_path / "timings.json").write_text(json.dumps({}))
    with pytest.raises(FileNotFoundError, match="no model"):
        read_engine_output(tmp_path, "openfold")
