"""The MMseqs2 benchmark's database generator (bench/simulated_proteins.py): the same
arguments give the same bytes, and the families it grows are homologues of their roots
at every distance, from near-identical to the twilight zone."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from Bio import Align, SeqIO
from Bio.Align import substitution_matrices

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location(
        "simulated_proteins", BENCH / "simulated_proteins.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


@pytest.fixture(scope="module")
def roots(generator):
    return generator.real_roots()[:20]


def test_same_seed_same_bytes_other_seed_other_bytes(generator, roots, tmp_path):
    first = generator.generate(400, 7, tmp_path / "a.fasta", roots=roots)
    again = generator.generate(400, 7, tmp_path / "b.fasta", roots=roots)
    other = generator.generate(400, 8, tmp_path / "c.fasta", roots=roots)
    assert first["sha256"] == again["sha256"] != other["sha256"]
    assert (tmp_path / "a.fasta").read_bytes() == (tmp_path / "b.fasta").read_bytes()
    assert json.loads((tmp_path / "a.fasta.json").read_text())["sequences"] == 400


def test_families_span_close_to_remote_homologues_and_leave_the_roots_out(
    generator, roots, tmp_path
):
    generator.generate(400, 3, tmp_path / "db.fasta", roots=roots)
    records = list(SeqIO.parse(tmp_path / "db.fasta", "fasta"))
    assert len(records) == 400
    by_name = {root.name: root.sequence for root in roots}
    sequences = {str(r.seq) for r in records}
    assert not sequences & set(by_name.values())  # the queries are not in the database
    assert all(set(s) <= set(generator.AMINO_ACIDS) for s in sequences)
    aligner = Align.PairwiseAligner(
        mode="global",
        open_gap_score=-10,
        extend_gap_score=-0.5,
        substitution_matrix=substitution_matrices.load("BLOSUM62"),
    )
    identities, depths = [], []
    for record in records[:120]:
        family, _ = record.id.split("|sim")
        root = by_name[family]
        alignment = aligner.align(root, str(record.seq))[0]
        same = sum(a == b for a, b in zip(*alignment) if a != "-" and b != "-")
        identities.append(same / len(root))
        depths.append(float(record.description.split("d=")[1]))
    identities, depths = np.array(identities), np.array(depths)
    assert identities.max() > 0.85 and identities.min() < 0.45
    # deeper members (more substitutions per site from the root) are less identical
    assert np.corrcoef(depths, identities)[0, 1] < -0.7
