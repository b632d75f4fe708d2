"""pTM per chain and ipTM per chain pair: the arithmetic and its plumbing, without an image.

AlphaFold's own ``predicted_tm_score`` on a real AlphaFold-Multimer output is the reference
in tests/containers/test_alphafold_multimer_image.py. Here the aligned-error probabilities
are SYNTHETIC, put all in one bin per block of residue pairs, so that each figure has a
closed form by the pTM definition (Jumper et al. 2021, supplement 1.9.7):
E[1/(1 + (e/d0)^2)] is 1/(1 + (c/d0(N))^2) for the bin centre c, d0(N) = 1.24 (max(N, 19)
- 15)^(1/3) - 1.8. The structure is real: 3U8V's two chains (83 + 83 residues) and 2GTL's
three (tests/data). What is checked: the right residues, the right N, the max over the
aligned residue, both directions of a pair, AlphaFold's bin centres, and what the analysis
does with a pickle that does not fit the model.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from foldline.analysis import METRICS_SCHEMA, analyze
from foldline.analysis.chain_confidence import bin_centres, chain_pair_confidence
from foldline.analysis.structures import load_structure

from .conftest import GTL_ABE, write_manifest

DATA = Path(__file__).resolve().parents[1] / "data"
DIMER = DATA / "complexes" / "3u8v_reference.pdb"
#: AlphaFold's PAE head (model config): 64 bins, edges 0 to 31 Å in 63 steps; its result
#: pickles' max_predicted_aligned_error is the last bin centre, 31.75 Å
NUM_BINS, MAX_ERROR = 64, 31.75


def d0(n: int) -> float:
    return 1.24 * (max(n, 19) - 15) ** (1 / 3) - 1.8


def tm_term(centre: float, n: int) -> float:
    return 1 / (1 + (centre / d0(n)) ** 2)


def one_bin(n: int, bins: np.ndarray) -> np.ndarray:
    """(n, n, NUM_BINS) probabilities: pair (i, j) all in bin ``bins[i, j]``."""
    probs = np.zeros((n, n, NUM_BINS), np.float32)
    probs[np.arange(n)[:, None], np.arange(n)[None, :], bins] = 1.0
    return probs


def test_the_bin_centres_are_alphafolds():
    """AlphaFold's edges 0..31 Å (63), centres half a step in, the last one step beyond."""
    edges = np.linspace(0.0, 31.0, NUM_BINS - 1)
    step = edges[1] - edges[0]
    expected = np.append(edges + step / 2, edges[-1] + step / 2 + step)
    assert np.allclose(bin_centres(NUM_BINS, MAX_ERROR), expected)


def test_each_chain_and_pair_by_the_closed_form():
    lengths = [30, 20, 10]  # chains A, B, C
    asym = np.repeat([1, 2, 3], lengths)
    n = len(asym)
    centres = bin_centres(NUM_BINS, MAX_ERROR)
    bins = np.full((n, n), 63)  # everything else: the last bin (31.75 Å)
    same = asym[:, None] == asym[None, :]
    bins[same] = 2  # within chains: 1.25 Å
    a, b = asym == 1, asym == 2
    bins[np.ix_(a, b)] = 8  # A's frames see B at 4.25 Å
    bins[np.ix_(b, a)] = 20  # B's frames see A at 10.25 Å: the pair's best direction is A's
    # one residue of C sees A well, the rest of C does not: the max over aligned residues
    c_rows = np.flatnonzero(asym == 3)
    bins[c_rows[0], a] = 4
    found = chain_pair_confidence(one_bin(n, bins), centres, asym, ["A", "B", "C"])

    assert found.lengths == lengths
    for name, length in zip("ABC", lengths):
        assert found.ptm[name] == pytest.approx(tm_term(centres[2], length), abs=1e-4)
    assert found.iptm["A-B"] == pytest.approx(tm_term(centres[8], 50), abs=1e-4)
    # C-A: C's first residue averages over A (30 residues at bin 4), N = 40
    assert found.iptm["A-C"] == pytest.approx(tm_term(centres[4], 40), abs=1e-4)
    assert found.iptm["B-C"] == pytest.approx(tm_term(centres[63], 30), abs=1e-4)


def test_chains_need_not_be_contiguous_in_asym_id_order():
    """asym_id values as AlphaFold numbers them, here 2 before 1: names follow first
    appearance, as chains are written."""
    asym = np.repeat([2, 1], [25, 25])
    centres = bin_centres(NUM_BINS, MAX_ERROR)
    bins = np.where(asym[:, None] == asym[None, :], 0, 10)
    found = chain_pair_confidence(one_bin(50, bins), centres, asym, ["A", "B"])
    assert found.iptm == {"A-B": pytest.approx(tm_term(centres[10], 50), abs=1e-4)}


def _multimer_output(tmp_path: Path, model: Path, probs: np.ndarray, **extra) -> Path:
    """AlphaFold's output layout around a real multimer structure, with a SYNTHETIC result
    pickle holding ``probs`` as AlphaFold-Multimer's aligned-error probabilities."""
    folder = tmp_path / "alphafold"
    folder.mkdir()
    name = "model_1_multimer_v3_pred_0"
    shutil.copyfile(model, folder / "ranked_0.pdb")
    shutil.copyfile(model, folder / f"unrelaxed_{name}.pdb")
    centres = bin_centres(NUM_BINS, MAX_ERROR)
    result = {
        "aligned_confidence_probs": probs,
        "max_predicted_aligned_error": np.float64(MAX_ERROR),
        "predicted_aligned_error": probs @ centres.astype(np.float32),
        "ptm": np.float64(0.5),
        "iptm": np.float64(0.4),
        **extra,
    }
    with open(folder / f"result_{name}.pkl", "wb") as handle:
        pickle.dump(result, handle)
    (folder / "ranking_debug.json").write_text(
        json.dumps({"iptm+ptm": {name: 0.42}, "order": [name]})
    )
    write_manifest(folder, "RunAlphaFold", "alphafold", "2.3.2", 60)
    return folder


def test_the_analysis_reports_them_for_a_multimer_output(tmp_path):
    model = load_structure(GTL_ABE)
    lengths = [len(c) for c in model.chains]
    asym = np.repeat(np.arange(1, len(lengths) + 1), lengths)
    n = len(asym)
    bins = np.where(asym[:, None] == asym[None, :], 1, 30)
    folder = _multimer_output(tmp_path, GTL_ABE, one_bin(n, bins))
    with open(folder / "features.pkl", "wb") as handle:
        pickle.dump({"asym_id": asym.astype(np.float32)}, handle)
    (tmp_path / "openfold").mkdir()

    metrics = analyze(folder, tmp_path / "openfold", tmp_path / "report")
    jsonschema.validate(json.loads(json.dumps(metrics)), METRICS_SCHEMA)
    found = metrics["engines"]["alphafold"]["chain_pair_confidence"]
    names = model.chain_names
    assert [c["name"] for c in found["chains"]] == names and [
        c["length"] for c in found["chains"]
    ] == lengths
    assert "features.pkl asym_id" in found["source"]
    centres = bin_centres(NUM_BINS, MAX_ERROR)
    for name, length in zip(names, lengths):
        assert found["ptm"][name] == pytest.approx(tm_term(centres[1], length), abs=1e-4)
    first, second = names[0], names[1]
    assert found["iptm"][f"{first}-{second}"] == pytest.approx(
        tm_term(centres[30], lengths[0] + lengths[1]), abs=1e-4
    )
    page = (tmp_path / "report" / "report.html").read_text()
    assert "ipTM per chain pair" in page


def test_a_pickle_that_does_not_fit_the_model_gives_a_warning_not_numbers(tmp_path):
    model = load_structure(DIMER)
    n = model.n_residues
    probs = one_bin(n, np.zeros((n, n), int))
    folder = _multimer_output(tmp_path, DIMER, probs)
    # features.pkl whose chains are not the model's (60 + 106 residues, not 83 + 83)
    with open(folder / "features.pkl", "wb") as handle:
        pickle.dump({"asym_id": np.repeat([1.0, 2.0], [60, n - 60])}, handle)
    (tmp_path / "openfold").mkdir()
    metrics = analyze(folder, tmp_path / "openfold", tmp_path / "report")
    assert metrics["engines"]["alphafold"]["chain_pair_confidence"] is None
    assert any("asym_id" in w and "no per-chain pTM/ipTM" in w for w in metrics["warnings"])

    # probabilities whose expectation is not the pickle's PAE: other bins than AlphaFold's
    shutil.rmtree(tmp_path / "report")
    other = tmp_path / "other"
    other.mkdir()
    folder = _multimer_output(
        other, DIMER, probs, predicted_aligned_error=np.full((n, n), 5.0, np.float32)
    )
    metrics = analyze(folder, tmp_path / "openfold", tmp_path / "report")
    assert metrics["engines"]["alphafold"]["chain_pair_confidence"] is None
    assert any("do not give its predicted_aligned_error" in w for w in metrics["warnings"])

    # no features.pkl: the model's chains in file order
    (folder / "features.pkl").unlink(missing_ok=True)
    shutil.rmtree(tmp_path / "report")
    good = tmp_path / "good"
    good.mkdir()
    folder = _multimer_output(good, DIMER, probs)
    metrics = analyze(folder, tmp_path / "openfold", tmp_path / "report")
    found = metrics["engines"]["alphafold"]["chain_pair_confidence"]
    assert "the model's, in file order" in found["source"]
    assert set(found["iptm"]) == {"A-B"}


def test_a_real_alphafold_multimer_output_gives_alphafolds_own_figures(tmp_path):
    """tests/data/analysis/alphafold-multimer: a real AlphaFold-Multimer output (random
    parameters) and AlphaFold's predicted_tm_score per chain and pair on it, recorded with
    the command (the container test computes them again in the image)."""
    output = DATA / "analysis" / "alphafold-multimer"
    recorded = json.loads((output / "alphafold_figures.json").read_text())
    shutil.copytree(output, tmp_path / "alphafold")
    (tmp_path / "openfold").mkdir()
    metrics = analyze(tmp_path / "alphafold", tmp_path / "openfold", tmp_path / "report")
    found = metrics["engines"]["alphafold"]["chain_pair_confidence"]
    assert "features.pkl asym_id" in found["source"]
    assert found["ptm"] == pytest.approx(recorded["ptm"], abs=1e-4)
    assert found["iptm"] == pytest.approx(recorded["iptm"], abs=1e-4)
    # the engine's own whole-complex figures, as the pickle holds them
    assert metrics["engines"]["alphafold"]["iptm"] == pytest.approx(
        recorded["pickle"]["iptm"], abs=1e-4
    )
