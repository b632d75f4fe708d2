"""A query with no hit in any database: empty results, as HMMER and AlphaFold leave them.

E. coli adenylate kinase (4AKE's sequence, tests/data/adk) has no homologue among the
bundled databases (xylanases and Par-3 only). jackhmmer then writes the query alone and
hmmsearch no ``-A`` file, and AlphaFold goes on with a single-sequence MSA and no
templates; the pyhmmer MSA program must do the same, for every preset and database.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from foldline.intake.fasta import decide
from foldline.steps.engines.alignments import read_stockholm
from foldline.steps.engines.msa_search import JACKHMMER_FLAGS, run_msa_search

from .conftest import DATABASES

ADK = Path(__file__).resolve().parents[2] / "data" / "adk" / "adk.fasta"


def _adk_chains(copies: int = 1):
    record = ADK.read_text().split("\n", 1)[1].replace("\n", "")
    text = "".join(f">adk{i}\n{record}\n" for i in range(copies)) if copies > 1 else ADK.read_text()
    decision = decide(text.encode())
    assert decision.accepted, decision.reason
    return decision.chains


@pytest.mark.parametrize(
    "db_preset, model_preset, copies, files",
    [
        (
            "reduced_dbs",
            "monomer",
            1,
            ["uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto"],
        ),
        (
            "full_dbs",
            "monomer_ptm",
            1,
            ["uniref90_hits.sto", "mgnify_hits.sto", "bfd_uniref_hits.a3m"],
        ),
        (
            "full_dbs",
            "multimer",
            2,
            ["uniref90_hits.sto", "mgnify_hits.sto", "bfd_uniref_hits.a3m", "uniprot_hits.sto"],
        ),
    ],
)
def test_no_hit_anywhere_gives_query_only_msas_and_no_templates(
    tmp_path, db_preset, model_preset, copies, files
):
    chains = _adk_chains(copies)
    run_msa_search(
        chains,
        DATABASES,
        tmp_path,
        db_preset=db_preset,
        model_preset=model_preset,
        max_template_date="2024-01-01",
        cpus=2,
    )
    folders = [tmp_path / "msas" / c for c in "AB"[:copies]] if copies > 1 else [tmp_path / "msas"]
    sequence = chains[0].sequence
    for folder in folders:
        for name in files:
            text = (folder / name).read_text()
            if name.endswith(".a3m"):  # the query alone, as HHblits writes it
                assert text.split("\n")[1] == sequence and text.count(">") == 1
            else:
                alignment = read_stockholm(folder / name)
                assert alignment.rows == [sequence]
        assert (folder / "pdb_hits.sto").read_text() == ""  # hmmsearch: no hits, no -A
    notes = json.loads((tmp_path / "msa_search.json").read_text())
    assert all(count == 0 for per_chain in notes["hits"].values() for count in per_chain.values())


def test_the_query_only_stockholm_is_what_jackhmmer_writes(tmp_path):
    """Debian's HMMER (.ci/run installs it) with AlphaFold's flags: the same single row."""
    chain = _adk_chains()[0]
    run_msa_search(
        [chain],
        DATABASES,
        tmp_path / "ours",
        db_preset="reduced_dbs",
        model_preset="monomer",
        max_template_date="2024-01-01",
        cpus=2,
    )
    for database, name in (
        ("uniref90/uniref90.fasta", "uniref90_hits.sto"),
        ("mgnify/mgy_clusters_2022_05.fa", "mgnify_hits.sto"),
    ):
        reference = tmp_path / f"jackhmmer_{name}"
        subprocess.run(
            [
                "jackhmmer",
                "-o",
                "/dev/null",
                "-A",
                str(reference),
                *JACKHMMER_FLAGS.split(),
                str(ADK),
                str(DATABASES / database),
            ],
            check=True,
        )
        theirs, ours = read_stockholm(reference), read_stockholm(tmp_path / "ours" / "msas" / name)
        assert ours.names == theirs.names == [chain.id]
        assert ours.rows == theirs.rows
        assert ours.reference == theirs.reference == "x" * len(chain.sequence)
