"""Every score against an independent program, on real structures.

TMscore (Debian's ``tm-align`` package; .ci/run installs it) runs here; US-align (not
packaged in Debian or on PyPI) and DockQ figures are recorded, with the commands that
produced them, in tests/data/complexes/reference_scores.json. The complexes are real
structures and copies changed in one stated way (tests/data/complexes/build_cases.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import gemmi
import pytest

from foldline.analysis.agreement import compare_models
from foldline.analysis.analyze import analyze
from foldline.analysis.structures import load_structure

DATA = Path(__file__).resolve().parents[1] / "data"
COMPLEXES = DATA / "complexes"
ADK_OPEN, ADK_CLOSED = DATA / "adk" / "adk_open.pdb", DATA / "adk" / "adk_closed.pdb"
RECORDED = json.loads((COMPLEXES / "reference_scores.json").read_text())


def tmscore(model: Path, native: Path, *flags: str) -> dict[str, float]:
    """Debian's TMscore: TM-score, GDT-TS/HA, RMSD and L (normalised by ``native``)."""
    text = subprocess.run(
        ["TMscore", *flags, str(model), str(native)], check=True, capture_output=True, text=True
    ).stdout

    def number(pattern: str) -> float:
        return float(re.search(pattern, text).group(1))

    return {
        "tm_score": number(r"TM-score\s+=\s+([\d.]+)"),
        "gdt_ts": number(r"GDT-TS-score=\s+([\d.]+)"),
        "gdt_ha": number(r"GDT-HA-score=\s+([\d.]+)"),
        "rmsd": number(r"RMSD of\s+the common residues=\s+([\d.]+)"),
        "length": int(number(r"Structure2:.*Length=\s+(\d+)")),
    }


def _scores(reference: Path, model: Path):
    comparison = compare_models(load_structure(reference), load_structure(model))
    return comparison, comparison.complex.as_dict()


def _agree(ours: dict, theirs: dict) -> None:
    assert ours["normalising_length"] == theirs["length"]
    assert ours["tm_score"] == pytest.approx(theirs["tm_score"], abs=1e-4)
    assert ours["gdt_ts"] == pytest.approx(theirs["gdt_ts"], abs=1e-4)
    assert ours["gdt_ha"] == pytest.approx(theirs["gdt_ha"], abs=1e-4)
    assert ours["rmsd"] == pytest.approx(theirs["rmsd"], abs=1e-3)


def test_missing_residues_count_in_l_as_tmscore_normalises_by_the_reference():
    """Item 4: five residues missing from the model: 79/84, not 1.000 (L=79)."""
    comparison, ours = _scores(
        COMPLEXES / "3zee_reference.pdb", COMPLEXES / "3zee_missing_40-44.pdb"
    )
    _agree(ours, tmscore(COMPLEXES / "3zee_missing_40-44.pdb", COMPLEXES / "3zee_reference.pdb"))
    assert ours["tm_score"] == pytest.approx(0.9405, abs=1e-4)
    assert ours["reference_residues_unaligned"] == 5
    assert ours["ca_lddt"] < 0.96  # the missing residues' distances are not preserved
    assert any("5 reference residue(s) without a partner" in n for n in comparison.notes)


def test_adenylate_kinase_open_vs_closed_keeps_all_214_residues():
    """Item 5: CHARMM's HSD read as histidine (US-align itself drops them: L=211)."""
    open_, closed = load_structure(ADK_OPEN), load_structure(ADK_CLOSED)
    assert open_.n_residues == closed.n_residues == 214
    assert open_.warnings == ("adk_open.pdb: 3 residues HSD read as HIS",)
    assert open_.chains[0].sequence.count("H") == 3
    _, ours = _scores(ADK_OPEN, ADK_CLOSED)
    _agree(ours, tmscore(ADK_CLOSED, ADK_OPEN))


def test_a_dimer_whose_chain_b_differs_keeps_chain_b():
    """Item 2: chain B one residue short and moved 12 Å: scored, not dropped."""
    comparison, ours = _scores(
        COMPLEXES / "3u8v_reference.pdb", COMPLEXES / "3u8v_B_short_moved12.pdb"
    )
    assert [(p.reference.name, p.mobile.name) for p in comparison.matching.pairs] == [
        ("A", "A"),
        ("B", "B"),
    ]
    assert ours["normalising_length"] == 166
    # TMscore -c pairs the chains' residues by number, as the sequence alignment does here
    _agree(
        ours,
        tmscore(COMPLEXES / "3u8v_B_short_moved12.pdb", COMPLEXES / "3u8v_reference.pdb", "-c"),
    )
    recorded = RECORDED["usalign_tmscore7"][0]
    assert ours["tm_score"] == pytest.approx(recorded["tm_score_by_reference"], abs=1e-4)
    assert any("chain B ↔ B: sequences differ" in n for n in comparison.notes)
    # MM-align re-aligns residues by structure too and finds a little more: within 0.01
    assert ours["tm_score"] == pytest.approx(
        RECORDED["usalign_mm1"][0]["tm_score_by_reference"], abs=0.01
    )


@pytest.mark.slow
def test_an_eight_copy_homomer_with_permuted_labels_and_short_chains():
    """Item 3: 7OK9's chains A-H relabelled and each one residue short (US-align: 0.998)."""
    comparison, ours = _scores(
        COMPLEXES / "7ok9_ABCDEFGH_reference.pdb", COMPLEXES / "7ok9_permuted_short.pdb"
    )
    recorded = RECORDED["usalign_tmscore7"][1]
    mapping = {p.reference.name: p.mobile.name for p in comparison.matching.pairs}
    assert mapping == dict(zip(recorded["mapping_reference"], recorded["mapping_model"]))
    assert ours["normalising_length"] == recorded["reference_length"]
    assert ours["n_aligned"] == recorded["aligned"]
    assert ours["tm_score"] == pytest.approx(recorded["tm_score_by_reference"], abs=1e-4)
    assert ours["rmsd"] == pytest.approx(0.0, abs=1e-3)


def test_chains_that_one_model_lacks_are_said_and_scored_zero(tmp_path):
    """Item 2: a chain missing from the model counts in L and is named in the notes."""
    st = gemmi.read_structure(str(COMPLEXES / "3u8v_reference.pdb"))
    st[0].remove_chain("B")
    st.write_pdb(str(tmp_path / "only_a.pdb"))
    comparison, ours = _scores(COMPLEXES / "3u8v_reference.pdb", tmp_path / "only_a.pdb")
    assert comparison.matching.unmatched_reference == ("B",)
    assert ours["normalising_length"] == 166 and ours["tm_score"] == pytest.approx(
        83 / 166, abs=1e-3
    )
    assert any("B have no partner" in n for n in comparison.notes)


def test_experimental_and_all_zero_b_factors_are_not_called_plddt(tmp_path):
    """Item 5: an EM structure (3ZEE) and a file with every B-factor 0 have no pLDDT."""
    em = load_structure(DATA / "analysis" / "structures" / "3zee.cif")
    assert em.plddt_scale == "none" and "ELECTRON MICROSCOPY" in em.plddt_note
    st = gemmi.read_structure(str(COMPLEXES / "3zee_reference.pdb"))
    for residue in st[0][0]:
        for atom in residue:
            atom.b_iso = 0.0
    st.write_pdb(str(tmp_path / "zero.pdb"))
    zero = load_structure(tmp_path / "zero.pdb")
    assert zero.plddt_scale == "none" and "every B-factor is 0.00" in zero.plddt_note
    metrics = analyze(tmp_path / "zero.pdb", COMPLEXES / "3zee_reference.pdb", tmp_path / "report")
    engine = metrics["engines"]["alphafold"]
    assert engine["plddt"]["kind"] == "none" and engine["plddt"]["mean"] is None
    assert not any("rescaled" in w for w in metrics["warnings"])
    assert "no pLDDT" in metrics["headline"]


def test_gdt_and_lddt_are_named_for_what_they_are(tmp_path):
    """Items 6 and 7: GDT is the TMscore program's (equal to it above); lDDT is CA-only."""
    metrics = analyze(
        COMPLEXES / "3zee_reference.pdb", COMPLEXES / "3zee_missing_40-44.pdb", tmp_path
    )
    comparison = metrics["comparison"]
    assert "TMscore program's GDT" in comparison["gdt_method"] and "LGA" in comparison["gdt_method"]
    assert comparison["lddt_method"].startswith("CA-lDDT") and "lddt" not in comparison["complex"]
    report = (tmp_path / "report.html").read_text()
    assert "GDT_TS (TMscore)" in report and "CA-lDDT" in report
    assert ">lDDT<" not in report
