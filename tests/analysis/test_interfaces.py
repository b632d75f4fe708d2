"""DockQ per chain-pair interface against DockQ's own figures, on real complexes.

DockQ's example complexes and its published figures for them (tests/data/analysis/dockq,
with the commands), and the 3U8V case of tests/data/complexes whose DockQ figure was
recorded with the command (reference_scores.json). The whole analysis runs: chain mapping
by foldline's comparison, then DockQ on that mapping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foldline.analysis.analyze import analyze
from foldline.analysis.interfaces import capri_class, score_interfaces
from foldline.analysis.structures import load_structure

DATA = Path(__file__).resolve().parents[1] / "data"
DOCKQ = DATA / "analysis" / "dockq"
COMPLEXES = DATA / "complexes"
PUBLISHED = json.loads((DOCKQ / "figures.json").read_text())["cases"]
RECORDED = json.loads((COMPLEXES / "reference_scores.json").read_text())["dockq"]


def _check(found: dict, expected: dict) -> None:
    """DockQ prints three decimals: the same figure rounds to the same print."""
    for key in ("dockq", "irmsd", "lrmsd", "fnat", "fnonnat", "f1"):
        if key in expected:
            assert found[key] == pytest.approx(expected[key], abs=5.1e-4), key
    if "clashes" in expected:
        assert found["clashes"] == expected["clashes"]
    assert found["capri_class"] == capri_class(expected["dockq"])


@pytest.mark.parametrize("case", PUBLISHED, ids=[c["native"].split(".")[0] for c in PUBLISHED])
def test_interfaces_are_dockqs_published_figures(tmp_path, case):
    """The native plays the reference (AlphaFold slot), the model the other; foldline's own
    chain mapping (1A2K: the model's A and B swapped) finds the mapping DockQ reports."""
    metrics = analyze(DOCKQ / case["native"], DOCKQ / case["model"], tmp_path)
    interfaces = metrics["comparison"]["interfaces"]
    found = {tuple(i["alphafold"]): i for i in interfaces["items"]}
    assert set(found) == {tuple(e["native"]) for e in case["interfaces"]}
    for expected in case["interfaces"]:
        item = found[tuple(expected["native"])]
        assert item["openfold"] == expected["model"]
        _check(item, expected)
    assert interfaces["notes"] == [] and "DockQ" in interfaces["method"]
    page = (tmp_path / "report.html").read_text()
    assert (
        "Interfaces (DockQ)" in page
        and f"{found[tuple(case['interfaces'][0]['native'])]['dockq']:.3f}" in page
    )


def test_a_moved_chain_one_residue_short_scores_dockqs_recorded_figure(tmp_path):
    """3U8V with chain B one residue short and moved 12 Å (sequences differ)."""
    (recorded,) = [r for r in RECORDED if r["model"] == "3u8v_B_short_moved12.pdb"]
    metrics = analyze(COMPLEXES / recorded["reference"], COMPLEXES / recorded["model"], tmp_path)
    (item,) = metrics["comparison"]["interfaces"]["items"]
    assert item["alphafold"] == recorded["interface_reference"]
    assert item["openfold"] == recorded["interface_model"]
    _check(item, recorded)
    assert item["capri_class"] == "acceptable"


def test_chains_read_from_mmcif_and_renamed_chains_are_scored_by_foldlines_names(tmp_path):
    """An mmCIF reference against a PDB copy whose chains are relabelled: DockQ gets the
    chains the comparison mapped, under the names foldline read."""
    import gemmi

    structure = gemmi.read_structure(str(DATA / "analysis" / "structures" / "3u8v.cif"))
    structure.remove_ligands_and_waters()
    for chain, name in zip(structure[0], "QP"):
        chain.name = name
    relabelled = tmp_path / "3u8v_QP.pdb"
    structure.write_pdb(str(relabelled))
    reference = load_structure(DATA / "analysis" / "structures" / "3u8v.cif")
    mobile = load_structure(relabelled)
    (score,) = score_interfaces(
        reference.path, reference.chain_names, mobile.path, mobile.chain_names, {"A": "Q", "B": "P"}
    )
    assert score.mobile_chains == ("Q", "P") and score.dockq == pytest.approx(1.0, abs=1e-6)
    swapped = score_interfaces(
        reference.path, reference.chain_names, mobile.path, mobile.chain_names, {"A": "P", "B": "Q"}
    )
    # the homodimer's chains swapped: a near-symmetric interface, but not the same atoms
    assert swapped[0].mobile_chains == ("P", "Q") and swapped[0].irmsd > 0.1


def test_one_chain_has_no_interfaces(tmp_path):
    structure = DATA / "analysis" / "structures" / "3zee.cif"
    metrics = analyze(structure, structure, tmp_path)
    assert metrics["comparison"]["interfaces"] is None


def test_capri_classes_cut_at_dockqs_published_bounds():
    assert [capri_class(v) for v in (0.0, 0.229, 0.23, 0.489, 0.49, 0.799, 0.80, 1.0)] == [
        "incorrect",
        "incorrect",
        "acceptable",
        "acceptable",
        "medium",
        "medium",
        "high",
        "high",
    ]
