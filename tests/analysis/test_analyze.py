"""Chain matching for multimers, and the whole analysis: metrics.json, plots, report, models."""

from __future__ import annotations

import json
import re

import gemmi
import jsonschema
import numpy as np
import pytest

from foldline.analysis import METRICS_SCHEMA, analyze, compare_models, headline, load_structure
from foldline.analysis.structures import StructureModel

from .conftest import ERR_PDB, GTL_ABE, KWC_RELAXED, KWC_UNRELAXED, random_rigid_motion


def _renamed_and_moved(path, renames: dict[str, str], order: list[str], out, seed: int):
    """The same coordinates with chains renamed, reordered and rigidly moved."""
    structure = gemmi.read_structure(str(path))
    rotation, shift = random_rigid_motion(seed)
    transform = gemmi.Transform(gemmi.Mat33(rotation.T.tolist()), gemmi.Vec3(*shift))
    model = structure[0]
    model.transform_pos_and_adp(transform)
    for chain in model:
        chain.name = renames[chain.name] + "_"
    for chain in model:
        chain.name = chain.name.rstrip("_")
    fresh = gemmi.Structure()
    fresh.cell = structure.cell
    new_model = gemmi.Model(1)
    for name in order:
        new_model.add_chain(model[name])
    fresh.add_model(new_model)
    fresh.setup_entities()
    fresh.write_pdb(str(out))
    return out


def test_multimer_chains_are_matched_by_sequence_not_by_name(tmp_path):
    # 2GTL chains A and E share a sequence, B differs. The mobile model is the same
    # complex with A->C, B->D, E->A, written in another order and moved: matching by name
    # would pair reference A with the other copy; matching by sequence must not.
    mobile_path = _renamed_and_moved(
        GTL_ABE, {"A": "C", "B": "D", "E": "A"}, ["D", "A", "C"], tmp_path / "mobile.pdb", 11
    )
    reference, mobile = load_structure(GTL_ABE), load_structure(mobile_path)
    assert (
        reference.chain("A").sequence
        == reference.chain("E").sequence
        != reference.chain("B").sequence
    )
    comparison = compare_models(reference, mobile)
    pairs = [(p.reference.name, p.mobile.name) for p in comparison.matching.pairs]
    assert pairs == [("A", "C"), ("B", "D"), ("E", "A")]
    assert comparison.complex.scores.tm_score == pytest.approx(1.0, abs=1e-6)
    assert comparison.complex.scores.rmsd == pytest.approx(0.0, abs=1e-3)
    assert comparison.complex.scores.normalising_length == 147 + 145 + 147
    assert [p.scores.tm_score for p in comparison.per_chain] == pytest.approx([1, 1, 1], abs=1e-6)
    assert comparison.complex.ca_lddt == pytest.approx(1.0)


def test_models_sharing_no_sequence_are_aligned_by_structure_and_normalised_by_the_reference():
    import tmtools

    reference, mobile = load_structure(KWC_RELAXED), load_structure(ERR_PDB)
    comparison = compare_models(reference, mobile)
    (pair,) = comparison.per_chain
    assert pair.correspondence == "structure alignment (TM-align)"
    assert comparison.complex.scores.normalising_length == 191  # the reference, always
    # TM-align's own score of the same pair, normalised by the reference (chain 2 here);
    # the TMscore search over TM-align's residue pairs finds the same superposition or better
    aligned = tmtools.tm_align(
        mobile.chains[0].ca,
        reference.chains[0].ca,
        mobile.chains[0].sequence,
        reference.chains[0].sequence,
    )
    assert comparison.complex.scores.tm_score == pytest.approx(aligned.tm_norm_chain2, abs=0.01)
    # every metric is kept: GDT and CA-lDDT too
    assert 0 < comparison.complex.scores.gdt_ts < 0.5 and 0 <= comparison.complex.ca_lddt < 0.5


def _validate(metrics):
    jsonschema.validate(metrics, METRICS_SCHEMA)


def test_analyze_writes_metrics_plots_report_and_models(alphafold_dir, openfold_dir, tmp_path):
    out = tmp_path / "report"
    context = {
        "run_id": "run-123",
        "target": "6KWC_1",
        "parameters": {"ModelPreset": "monomer_ptm"},
    }
    metrics = analyze(alphafold_dir, openfold_dir, out, context=context)

    on_disk = json.loads((out / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    _validate(on_disk)
    assert metrics["schema_version"] == "2.2"
    assert metrics["comparison_skipped"] is None and metrics["absent_engines"] == {}

    comparison = metrics["comparison"]
    assert comparison["method"] == "correspondence"
    assert comparison["relaxation"] == "relaxed"
    assert comparison["models_compared"]["alphafold"].endswith("ranked_0.pdb")
    assert comparison["models_compared"]["openfold"].endswith("6KWC_1_model_1_ptm_relaxed.pdb")
    # the same relaxed file on both sides: a perfect score
    assert comparison["complex"]["tm_score"] == pytest.approx(1.0, abs=1e-4)
    assert comparison["complex"]["normalising_length"] == 191
    assert "L = 191" in comparison["tm_score_normalisation"]

    af, of = metrics["engines"]["alphafold"], metrics["engines"]["openfold"]
    # the manifests name the engines; the AlphaFold slot's fixture is OpenFold-made
    assert (af["engine"], af["engine_source"]) == ("openfold", "foldline-step.json")
    assert (of["engine"], of["engine_version"]) == ("openfold", "2.2.0")
    assert af["ptm"] == pytest.approx(0.87)
    assert af["pae"]["shape"] == [191, 191]
    assert of["pae"] is None
    assert len(af["plddt"]["per_residue"]) == 191
    assert sum(af["plddt"]["bands"].values()) == pytest.approx(1.0, abs=1e-3)

    assert metrics["runtimes"]["steps"]["RunAlphaFold"]["seconds"] == 95.0
    assert metrics["runtimes"]["steps"]["RunOpenFold"]["seconds"] == 70.0
    assert metrics["runtimes"]["engine_timings"]["openfold"] == {"inference": 30.0}

    files = metrics["files"]
    for name in [files["report"], *files["plots"].values(), *files["models"].values()]:
        assert (out / name).is_file(), name
    assert set(files["plots"]) == {
        "plddt",
        "per_residue",
        "pae_alphafold",
    }  # no MSA given: no MSA plot
    assert metrics["msa"] is None
    # identical models: every residue lies on its partner after superposition
    deviation = comparison["per_residue_deviation"]
    assert len(deviation["values"]) == 191 and max(deviation["values"]) < 0.01
    for name in files["plots"].values():
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert metrics["headline"] == headline(metrics)
    assert metrics["headline"].startswith("TM-score 1.000 (L=191), CA RMSD 0.00 Å")
    assert metrics["context"] == context


def test_the_superposed_model_lies_on_the_reference(alphafold_dir, tmp_path):
    # OpenFold's unrelaxed model, moved far away, against AlphaFold's unrelaxed twin
    rotation, shift = random_rigid_motion(5)
    moved = tmp_path / "moved_unrelaxed.pdb"
    structure = gemmi.read_structure(str(KWC_UNRELAXED))
    structure[0].transform_pos_and_adp(
        gemmi.Transform(gemmi.Mat33(rotation.T.tolist()), gemmi.Vec3(*shift))
    )
    structure.write_pdb(str(moved))
    (alphafold_dir / "relaxed_model_1_ptm_pred_0.pdb").unlink()
    import shutil

    shutil.copyfile(KWC_UNRELAXED, alphafold_dir / "ranked_0.pdb")
    metrics = analyze(alphafold_dir, moved, tmp_path / "out")
    assert metrics["comparison"]["complex"]["rmsd"] == pytest.approx(0.0, abs=1e-3)
    written = load_structure(tmp_path / "out" / metrics["files"]["models"]["openfold"])
    reference = load_structure(tmp_path / "out" / metrics["files"]["models"]["alphafold"])
    assert np.abs(written.chains[0].ca - reference.chains[0].ca).max() < 0.01
    # the file holds every atom, not only CAs
    assert "CB" in (tmp_path / "out" / metrics["files"]["models"]["openfold"]).read_text()


def test_report_is_self_contained(alphafold_dir, openfold_dir, msa_dir, tmp_path):
    out = tmp_path / "report"
    metrics = analyze(alphafold_dir, openfold_dir, out, context={"target": "6KWC_1"}, msa=msa_dir)
    page = (out / "report.html").read_text()
    # nothing fetched from anywhere: images inline, links to anchors or to the files beside it
    sources = re.findall(r'\bsrc="([^"]+)"', page)
    assert len(sources) == 3 and all(
        s.startswith("data:image/png;base64,") for s in sources
    )  # per residue, PAE, MSA
    links = re.findall(r'\bhref="([^"]+)"', page)
    files = [link for link in links if not link.startswith("#")]
    assert all((out / name).is_file() for name in files)
    assert set(files) == {
        *metrics["files"]["plots"].values(),
        *metrics["files"]["models"].values(),
        "metrics.json",
    }
    assert "<script src" not in page and "@import" not in page and "https://cdn" not in page
    # the viewer library inlined whole, and the two models it draws (backbone atoms only)
    from foldline.analysis.viewer import LIBRARY, library_script

    assert library_script()[:2000] in page and f"{LIBRARY.name} {LIBRARY.version}" in page
    payload = json.loads(re.search(r'id="fl-viewer-data">(.*?)</script>', page, re.DOTALL).group(1))
    assert [m["slot"] for m in payload["models"]] == ["alphafold", "openfold"]
    for model in payload["models"]:
        atoms = [
            line[12:16].strip() for line in model["text"].splitlines() if line.startswith("ATOM")
        ]
        assert atoms.count("CA") == 191 and set(atoms) == {"N", "CA", "C", "O"}
    assert "6KWC_1" in page and "TM-score" in page
    # the MSA step's manifest predates msa_source: its own engine made the MSAs
    assert metrics["msa_engine"] == {
        "engine": "alphafold",
        "engine_version": "2.3.2",
        "db_preset": None,
        "databases": None,
        "reused_from": None,
    }
    assert "MSAs made by alphafold 2.3.2." in page


def test_the_msa_engine_is_the_one_the_msa_step_recorded(
    alphafold_dir, openfold_dir, msa_dir, tmp_path
):
    """A cache hit's manifest says ``cache``; its ``msa_source`` names the search that made
    the MSAs: metrics.json, the report and the notice name that engine and its databases."""
    from foldline.outcomes.notices import succeeded_notice
    from foldline.outcomes.succeeded import summary_from_metrics

    manifest = json.loads((msa_dir / "foldline-step.json").read_text())
    manifest.update(engine="cache", engine_version="mmseqs2")
    manifest["msa_source"] = {
        "engine": "mmseqs2",
        "engine_version": "14-7e284",
        "db_preset": "reduced_dbs",
        "databases": ["uniref90", "mgnify", "small_bfd", "pdb70"],
        "reused_from": "6kwc-0123",
    }
    (msa_dir / "foldline-step.json").write_text(json.dumps(manifest))
    out = tmp_path / "report"
    metrics = analyze(alphafold_dir, openfold_dir, out, context={"target": "6KWC_1"}, msa=msa_dir)
    _validate(json.loads((out / "metrics.json").read_text()))
    assert metrics["msa_engine"] == manifest["msa_source"]
    said = (
        "mmseqs2 14-7e284 over reduced_dbs (uniref90, mgnify, small_bfd, pdb70), "
        "reused from run 6kwc-0123"
    )
    assert f"MSAs made by {said}." in (out / "report.html").read_text()
    notice = succeeded_notice(
        target="6KWC_1",
        run_id="6kwc-1",
        summary=summary_from_metrics(metrics, {}),
        report_url="https://example/report.html",
        report_uri="s3://b/runs/6kwc-1/report/",
        link_expires_at="2026-12-13",
        model_uris={},
    )
    assert f"MSAs: {said}" in notice.body.splitlines()


def test_single_model_files_without_manifests_are_reported_as_unknown_engines(tmp_path):
    metrics = analyze(KWC_RELAXED, KWC_UNRELAXED, tmp_path / "out")
    for slot in ("alphafold", "openfold"):
        assert metrics["engines"][slot]["engine"] == "unknown"
        assert metrics["engines"][slot]["layout"] == "file"
    assert metrics["comparison"]["complex"]["tm_score"] > 0.95
    assert "unknown (AlphaFold slot)" in metrics["headline"]


def test_template_cpu_stand_in_is_never_called_alphafold(alphafold_dir, openfold_dir, tmp_path):
    manifest = json.loads((alphafold_dir / "foldline-step.json").read_text())
    manifest["engine"] = "template-cpu"
    (alphafold_dir / "foldline-step.json").write_text(json.dumps(manifest))
    metrics = analyze(alphafold_dir, openfold_dir, tmp_path / "out")
    assert metrics["engines"]["alphafold"]["engine"] == "template-cpu"
    assert "template-cpu (AlphaFold slot)" in metrics["headline"]
    page = (tmp_path / "out" / "report.html").read_text()
    assert "template-cpu (AlphaFold slot)" in page
    # the page's words (title, headings, pairing, tables; not the inline data) never
    # name the stand-in's slot plain "AlphaFold" (the step's name, RunAlphaFold, aside)
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page, flags=re.DOTALL)
    assert re.findall(r"(?<!Run)AlphaFold(?! slot)", text) == []
    assert "template-cpu (AlphaFold slot) vs OpenFold</title>" in page
    assert "AlphaFold slot" in metrics["comparison"]["pairing"]


def test_structure_model_helpers():
    model: StructureModel = load_structure(GTL_ABE)
    assert model.chain_names == ["A", "B", "E"]
    with pytest.raises(KeyError, match="no chain"):
        model.chain("Z")


_ATOM37_BACKBONE = {"N": 0, "CA": 1, "C": 2, "CB": 3, "O": 4}
_THREE = {"I": "ILE", "K": "LYS", "L": "LEU", "S": "SER"}


def _alphafold_dir_from_real_pickle(folder, sequence, raw_pickle: bytes):
    """AlphaFold's layout for 6A5J from its real raw outputs: ranked_0.pdb written from the
    pickle's final_atom_positions (backbone + CB) with its pLDDT as B-factors, and the
    pickle itself as result_model_1_pred_0.pkl."""
    import pickle as _pickle

    raw = _pickle.loads(raw_pickle)
    positions = raw["structure_module"]["final_atom_positions"]
    mask = raw["structure_module"]["final_atom_mask"]
    structure = gemmi.Structure()
    model = gemmi.Model(1)
    chain = gemmi.Chain("A")
    for i, letter in enumerate(sequence):
        residue = gemmi.Residue()
        residue.name = _THREE[letter]
        residue.seqid = gemmi.SeqId(i + 1, " ")
        for name, index in _ATOM37_BACKBONE.items():
            if mask[i, index] > 0:
                atom = gemmi.Atom()
                atom.name = name
                atom.element = gemmi.Element(name[0])
                atom.pos = gemmi.Position(*map(float, positions[i, index]))
                atom.b_iso = float(raw["plddt"][i])
                atom.occ = 1.0
                residue.add_atom(atom)
        chain.add_residue(residue)
    model.add_chain(chain)
    structure.add_model(model)
    structure.setup_entities()
    folder.mkdir()
    structure.write_pdb(str(folder / "ranked_0.pdb"))
    (folder / "result_model_1_pred_0.pkl").write_bytes(raw_pickle)
    (folder / "ranking_debug.json").write_text(
        json.dumps(
            {"plddts": {"model_1_pred_0": float(raw["mean_plddt"])}, "order": ["model_1_pred_0"]}
        )
    )
    return folder


def test_real_alphafold_outputs_give_pae_and_plddt_of_the_sequence_length(
    tmp_path, sequence_6a5j, raw_6a5j
):
    af = _alphafold_dir_from_real_pickle(tmp_path / "alphafold", sequence_6a5j, raw_6a5j)
    metrics = analyze(af, af / "ranked_0.pdb", tmp_path / "out")
    engine = metrics["engines"]["alphafold"]
    assert engine["chains"][0]["sequence"] == sequence_6a5j
    assert engine["pae"]["shape"] == [13, 13]
    assert len(engine["plddt"]["per_residue"]) == 13
    assert engine["ptm"] is not None
    assert engine["plddt"]["mean"] == pytest.approx(engine["ranking_confidence"], abs=0.01)
    assert not metrics["warnings"], metrics["warnings"]
    assert (tmp_path / "out" / "pae_alphafold.png").is_file()
    assert metrics["comparison"]["complex"]["tm_score"] == pytest.approx(1.0, abs=1e-6)
