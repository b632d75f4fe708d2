"""TM-score / RMSD / GDT with fixed correspondence, and TM-align, on real structures."""

from __future__ import annotations

import numpy as np
import pytest

from foldline.analysis.agreement import ca_lddt, tm_align
from foldline.analysis.structures import load_structure
from foldline.analysis.tmscore import score_fixed_correspondence, tm_d0

from .conftest import (
    ERR_CIF,
    ERR_PDB,
    EXPERIMENTAL,
    GTL_ABE,
    KWC_RELAXED,
    KWC_UNRELAXED,
    random_rigid_motion,
)


def _chain(path, name=None):
    model = load_structure(path)
    return model.chain(name) if name else model.chains[0]


def test_d0_follows_the_tm_score_formula():
    assert tm_d0(195) == pytest.approx(1.24 * 180 ** (1 / 3) - 1.8)
    assert tm_d0(10) == 0.5  # short chains: the floor
    assert tm_d0(17) == 0.5  # 1.24 * 2^(1/3) - 1.8 < 0.5


def test_model_against_itself_scores_one_and_zero_rmsd():
    ca = _chain(KWC_RELAXED).ca
    s = score_fixed_correspondence(ca, ca)
    assert s.tm_score == pytest.approx(1.0, abs=1e-9)
    assert s.rmsd == pytest.approx(0.0, abs=1e-6)
    assert s.gdt_ts == 1.0 and s.gdt_ha == 1.0
    assert s.normalising_length == 191
    assert ca_lddt(ca, ca) == pytest.approx(1.0)


def test_relaxed_against_unrelaxed_6kwc_is_near_identical():
    relaxed, unrelaxed = _chain(KWC_RELAXED), _chain(KWC_UNRELAXED)
    assert relaxed.sequence == unrelaxed.sequence
    s = score_fixed_correspondence(unrelaxed.ca, relaxed.ca)
    assert s.tm_score > 0.95
    assert s.rmsd < 1.0
    assert s.rmsd > 0.0  # relaxation did move the CAs a little


def test_a_rotated_and_translated_copy_scores_as_the_model_itself():
    relaxed, unrelaxed = _chain(KWC_RELAXED), _chain(KWC_UNRELAXED)
    rotation, shift = random_rigid_motion(7)
    moved = unrelaxed.ca @ rotation + shift
    plain = score_fixed_correspondence(unrelaxed.ca, relaxed.ca)
    twisted = score_fixed_correspondence(moved, relaxed.ca)
    assert twisted.tm_score == pytest.approx(plain.tm_score, abs=1e-9)
    assert twisted.rmsd == pytest.approx(plain.rmsd, abs=1e-9)
    assert twisted.gdt_ts == plain.gdt_ts
    self_moved = score_fixed_correspondence(relaxed.ca @ rotation + shift, relaxed.ca)
    assert self_moved.tm_score == pytest.approx(1.0, abs=1e-9)
    assert self_moved.rmsd == pytest.approx(0.0, abs=1e-6)
    # the returned superposition undoes the motion
    back = self_moved.superposition.apply(relaxed.ca @ rotation + shift)
    assert np.abs(back - relaxed.ca).max() < 1e-6


def _same_sequence_pairs():
    relaxed, unrelaxed = _chain(KWC_RELAXED), _chain(KWC_UNRELAXED)
    gtl = load_structure(GTL_ABE)
    noisy = relaxed.ca + np.random.default_rng(3).normal(scale=1.5, size=relaxed.ca.shape)
    return {
        "6KWC unrelaxed vs relaxed": (unrelaxed.ca, relaxed.ca, relaxed.sequence),
        "ERR550519 mmCIF vs PDB": (
            _chain(ERR_CIF).ca,
            _chain(ERR_PDB).ca,
            _chain(ERR_PDB).sequence,
        ),
        "2GTL chain E vs chain A (two copies in one crystal)": (
            gtl.chain("E").ca,
            gtl.chain("A").ca,
            gtl.chain("A").sequence,
        ),
        "6KWC relaxed vs itself with 1.5 Å noise": (noisy, relaxed.ca, relaxed.sequence),
    }


@pytest.mark.parametrize("name", list(_same_sequence_pairs()))
def test_fixed_correspondence_agrees_with_tm_align(name):
    mobile, reference, sequence = _same_sequence_pairs()[name]
    ours = score_fixed_correspondence(mobile, reference)
    theirs = tm_align(reference, sequence, mobile, sequence)  # normalised by the reference
    assert abs(ours.tm_score - theirs.tm_score) <= 0.02, (ours.tm_score, theirs.tm_score)
    # TMscore's search maximises over superpositions: TM-align's own superposition,
    # scored with the identity correspondence, must not beat it
    moved_reference = theirs.superposition.apply(reference)
    d = np.linalg.norm(moved_reference - mobile, axis=1)
    identity_score = float((1 / (1 + (d / ours.d0) ** 2)).sum() / len(reference))
    assert ours.tm_score >= identity_score - 1e-6


def test_noise_lowers_every_score():
    relaxed = _chain(KWC_RELAXED)
    noisy = relaxed.ca + np.random.default_rng(3).normal(scale=1.5, size=relaxed.ca.shape)
    s = score_fixed_correspondence(noisy, relaxed.ca)
    assert 0.5 < s.tm_score < 0.95
    assert 2.0 < s.rmsd < 3.5  # 1.5 Å per axis: about 2.6 Å in 3D
    assert s.gdt_ts < 1.0
    assert ca_lddt(relaxed.ca, noisy) < 0.9


def _gdt_hand_case():
    """16 CA-like points in three rigid blocks strung along x (radius <= 2 Å in y, z).

    Block A: residues 0-7, x in [0, 10], exact in the model.
    Block B: residues 8-11, x in [15, 20], shifted +3 Å along x in the model.
    Block C: residues 12-15, x in [25, 35], shifted +40 Å along x in the model.

    A superposition keeps model-internal distances, so two residues can both lie within
    c of their references only if their distance differs by <= 2c between model and
    reference. Every A-B distance changes by more than 2 Å (asserted below), every A-C
    and B-C distance by more than 16 Å. Hence: at 0.5 and 1 Å at most one block fits,
    the largest is A (8). At 2, 4 and 8 Å, A and B fit together (translate by 1.5 Å:
    every A and B residue within 1.5 Å), never with C: 12.
    GDT_TS = (8 + 12 + 12 + 12) / (4 * 16) = 0.6875
    GDT_HA = (8 + 8 + 12 + 12) / (4 * 16) = 0.625
    """
    t = np.linspace(0, 1, 8)
    a = np.stack([10 * t, 2 * np.cos(7 * t), 2 * np.sin(7 * t)], 1)
    t4 = np.linspace(0, 1, 4)
    b = np.stack([15 + 5 * t4, 2 * np.cos(5 * t4 + 1), 2 * np.sin(5 * t4 + 1)], 1)
    c = np.stack([25 + 10 * t4, 2 * np.cos(5 * t4 + 2), 2 * np.sin(5 * t4 + 2)], 1)
    reference = np.concatenate([a, b, c])
    model = np.concatenate([a, b + [3, 0, 0], c + [40, 0, 0]])
    return reference, model


def test_gdt_on_a_hand_checked_case():
    reference, model = _gdt_hand_case()

    def change(i, j):
        return abs(
            np.linalg.norm(model[i] - model[j]) - np.linalg.norm(reference[i] - reference[j])
        )

    # the premises of the hand calculation in _gdt_hand_case's docstring
    assert min(change(i, j) for i in range(8) for j in range(8, 12)) > 2.0
    assert min(change(i, j) for i in range(12) for j in range(12, 16)) > 16.0

    s = score_fixed_correspondence(model, reference)
    assert s.gdt_shares == {"0.5": 0.5, "1": 0.5, "2": 0.75, "4": 0.75, "8": 0.75}
    assert s.gdt_ts == pytest.approx(0.6875)
    assert s.gdt_ha == pytest.approx(0.625)


def test_6kwc_against_unrelated_experimental_structures_scores_low():
    """TM-align against every protein chain of each entry, normalised by 6KWC's length."""
    model = _chain(KWC_RELAXED)
    assert EXPERIMENTAL, "tests/data/analysis/structures is empty"
    for path in EXPERIMENTAL:
        for chain in load_structure(path).chains:
            result = tm_align(model.ca, model.sequence, chain.ca, chain.sequence)
            assert result.normalising_length == 191
            assert 0.0 < result.tm_score < 0.25, (path.name, chain.name, result.tm_score)
