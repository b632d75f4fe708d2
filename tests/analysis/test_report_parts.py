"""What the report is made of: MSA depth from real alignment files, the vendored viewer
library, the run's parameters as rows."""

from __future__ import annotations

import hashlib
import lzma
from pathlib import Path

import numpy as np
import pytest

from foldline.analysis.msa_depth import read_msa_depth
from foldline.analysis.report import parameter_rows
from foldline.analysis.viewer import LIBRARY, backbone_pdb, library_script
from tests.analysis.conftest import BFD_6KWC, KWC_RELAXED, MGNIFY_6KWC


def _a3m_records(text: str) -> list[str]:
    """A3M rows with insertions (lower case) removed, read line by line here."""
    records, current = [], None
    for line in text.splitlines():
        if line.startswith(">"):
            if current is not None:
                records.append(current)
            current = ""
        elif current is not None:
            current += "".join(c for c in line.strip() if not c.islower() and c != ".")
    records.append(current)
    return records


def test_depth_of_an_a3m_counts_each_distinct_row_with_a_residue_at_each_position(tmp_path):
    (tmp_path / "msas").mkdir()
    (tmp_path / "msas" / "bfd_uniref_hits.a3m").write_bytes(BFD_6KWC.read_bytes())
    warnings: list[str] = []
    (chain,) = read_msa_depth(tmp_path, warnings)
    assert warnings == []
    rows = _a3m_records(BFD_6KWC.read_text())
    query = rows[0]
    assert chain.name == "A" and chain.query == query and len(query) == 191
    distinct = list(dict.fromkeys(rows))
    assert chain.files == {"bfd_uniref_hits.a3m": len(rows)} and chain.n_sequences == len(distinct)
    expected = [sum(r[i] != "-" for r in distinct) for i in range(len(query))]
    assert chain.depth.tolist() == expected
    assert chain.identity[0] == 1.0  # the query against itself


def test_stockholm_rows_keep_the_querys_columns_and_alphafolds_row_cap(tmp_path):
    (tmp_path / "msas").mkdir()
    sto = lzma.decompress(MGNIFY_6KWC.read_bytes()).decode()
    (tmp_path / "msas" / "mgnify_hits.sto").write_text(sto)
    (chain,) = read_msa_depth(tmp_path, [])
    names = [line.split()[1] for line in sto.splitlines() if line.startswith("#=GS")]
    assert len(names) > 501  # 1,697 hits: AlphaFold keeps mgnify's first 501 rows
    assert chain.files == {"mgnify_hits.sto": 501}
    # the query row of the Stockholm, gaps removed, is the query
    rows = [
        line.split()
        for line in sto.splitlines()
        if line.strip() and not line.startswith(("#", "//"))
    ]
    name = rows[0][0]  # the blocks repeat each name: the query is the first, in pieces
    query = "".join(c for row in rows if row[0] == name for c in row[1] if c not in "-.")
    assert chain.query == query and len(query) == 191
    assert chain.depth.max() <= 501 and chain.depth.min() >= 1


def test_a_multimer_layout_gives_one_msa_per_chain_and_a_bad_file_a_warning(tmp_path):
    for name in ("A", "B"):
        (tmp_path / "msas" / name).mkdir(parents=True)
        (tmp_path / "msas" / name / "bfd_uniref_hits.a3m").write_bytes(BFD_6KWC.read_bytes())
    (tmp_path / "msas" / "B" / "mgnify_hits.sto").write_text("# STOCKHOLM 1.0\nq ACD\nr AC\n//\n")
    warnings: list[str] = []
    chains = read_msa_depth(tmp_path, warnings)
    assert [c.name for c in chains] == ["A", "B"]
    assert np.array_equal(chains[0].depth, chains[1].depth)
    assert len(warnings) == 1 and "B/mgnify_hits.sto" in warnings[0]
    assert read_msa_depth(tmp_path / "nothing", []) == []


def test_the_msa_files_are_the_ones_the_msa_step_writes_with_alphafolds_caps():
    from foldline.spec.layout import MSA_SEARCH_FILES
    from foldline.steps.engines import msa_search

    written = {
        d.output: d.max_rows
        for d in (
            msa_search.UNIREF90,
            msa_search.MGNIFY,
            msa_search.SMALL_BFD,
            msa_search.BFD_STAND_IN,
        )
    }
    assert MSA_SEARCH_FILES == written


def test_the_vendored_viewer_is_the_pinned_release_with_its_licence():
    vendor = Path(__import__("foldline.analysis", fromlist=["x"]).__file__).parent / "vendor"
    data = (vendor / LIBRARY.file).read_bytes()
    assert hashlib.sha256(data).hexdigest() == LIBRARY.sha256
    assert data.startswith(
        b"/*! For license information please see 3Dmol-min.js.LICENSE.txt */"
    ) or (b"3dmol" in data[:2000].lower())
    licence = (vendor / LIBRARY.licence_file).read_text()
    assert "BSD-3-Clause" in licence and "University of Pittsburgh" in licence
    assert "</script" not in library_script()


def test_a_damaged_viewer_copy_stops_the_report(monkeypatch):
    from foldline.analysis import viewer

    monkeypatch.setattr(viewer, "_vendor", lambda name: b"console.log('not 3Dmol');")
    with pytest.raises(RuntimeError, match="sha256"):
        viewer.library_script()


def test_the_viewer_gets_the_backbone_with_pldt_in_the_b_factors():
    text, fmt = backbone_pdb(KWC_RELAXED)
    assert fmt == "pdb" and "CRYST1" not in text
    atoms = [line for line in text.splitlines() if line.startswith("ATOM")]
    assert {line[12:16].strip() for line in atoms} == {"N", "CA", "C", "O"}
    source = {
        (line[22:26], line[12:16]): line[60:66]
        for line in KWC_RELAXED.read_text().splitlines()
        if line.startswith("ATOM")
    }
    assert all(source[(line[22:26], line[12:16])] == line[60:66] for line in atoms)


def test_parameters_read_as_rows():
    rows = parameter_rows(
        {
            "run_id": "r1",
            "parameters": {"DbPreset": "reduced_dbs", "Gpu": 1},
            "cache_hits": [],
            "none": None,
            "flag": True,
            "seconds": 1234.5,
        }
    )
    assert rows == [
        ("run_id", "r1"),
        ("parameters · DbPreset", "reduced_dbs"),
        ("parameters · Gpu", "1"),
        ("cache_hits", "none"),
        ("none", "—"),
        ("flag", "yes"),
        ("seconds", "1,234.500"),
    ]


def test_a_model_of_ca_atoms_only_is_drawn_as_a_trace(tmp_path):
    from foldline.analysis.viewer import viewer_model

    ca_only = tmp_path / "placeholder.pdb"
    lines = KWC_RELAXED.read_text().splitlines()
    ca_only.write_text(
        "".join(f"{line}\n" for line in lines if line.startswith("ATOM") and line[12:16] == " CA ")
    )
    assert viewer_model("alphafold", "x", ca_only, "#000", "none", "cartoon")["style"] == "trace"
    assert (
        viewer_model("alphafold", "x", KWC_RELAXED, "#000", "plddt", "cartoon")["style"]
        == "cartoon"
    )
