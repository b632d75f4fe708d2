"""The bundled example databases, read by AlphaFold's own code in the step image.

``examples/build_examples.py`` writes them; these tests check that AlphaFold 2.3's data
pipeline (the ``alphafold`` package in ``foldline-alphafold:local``) reads them as it reads
the real ones: every template mmCIF through ``mmcif_parsing`` (protein chains, sequences,
release dates), every UniProt header through ``msa_identifiers`` (species), and the
multimer pipeline's UniProt search and MSA pairing (``pipeline_multimer``,
``msa_pairing``) on two chains. The expected figures are computed here from the files
themselves (gemmi, plain string splitting), not by AlphaFold's code.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import gemmi
import pytest

from tests.containers.conftest import EXAMPLES, IN_IMAGE, run_in_image

DATABASES = EXAMPLES / "databases"
MMCIF_DIR = DATABASES / "pdb_mmcif" / "mmcif_files"
PYTHON = "/opt/alphafold-env/bin/python"


def _in_image(images, *arguments: str, mounts: dict[Path, str] | None = None) -> object:
    done = run_in_image(
        images["alphafold"],
        PYTHON,
        "/t/read_databases.py",
        *arguments,
        mounts={IN_IMAGE: "/t:ro", DATABASES: "/db:ro", **(mounts or {})},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout)


def _seqres() -> dict[str, tuple[str, str]]:
    """pdb_seqres.txt: ``{"6kwc_A": ("protein", sequence)}``."""
    lines = (DATABASES / "pdb_seqres" / "pdb_seqres.txt").read_text().splitlines()
    return {
        head[1:].split()[0]: (head.split()[1].removeprefix("mol:"), seq)
        for head, seq in zip(lines[::2], lines[1::2])
    }


def _species_of(name: str) -> str:
    """UniProt's species code: the entry name's last ``_`` field (``tr|ACC|ACC_9HYPO``)."""
    return name.split()[0].split("/")[0].split("|")[2].rsplit("_", 1)[1]


@pytest.fixture(scope="module")
def parsed(images) -> dict:
    return _in_image(images, "mmcif", "/db/pdb_mmcif/mmcif_files")


def test_alphafolds_mmcif_parser_reads_every_template_file(parsed):
    assert set(parsed) == {p.stem for p in MMCIF_DIR.glob("*.cif")}
    seqres = _seqres()
    for file_id, found in parsed.items():
        assert found["errors"] == [], file_id
        # the template search takes a hit's sequence from pdb_seqres.txt and its residues
        # from the mmCIF: every protein chain of one is a chain of the other, same sequence
        proteins = {
            k.split("_")[1]: s
            for k, (mol, s) in seqres.items()
            if k.startswith(f"{file_id}_") and mol == "protein"
        }
        assert found["chain_to_seqres"] == proteins, file_id
        block = gemmi.cif.read(str(MMCIF_DIR / f"{file_id}.cif")).sole_block()
        dates = list(block.find_values("_pdbx_audit_revision_history.revision_date"))
        assert found["header"]["release_date"] == min(dates), file_id


def test_the_6kwc_stand_in_is_a_protein_chain_labelled_as_a_model(parsed):
    found = parsed["6kwc"]
    assert found["header"]["structure_method"] == "theoretical model"
    assert found["header"]["release_date"] == "2024-05-03"  # the OpenFold run, not the PDB's
    structure = gemmi.read_structure(str(MMCIF_DIR / "6kwc.cif"))
    sequence = gemmi.one_letter_code([r.name for r in structure[0]["A"]])
    assert found["chain_to_seqres"] == {"A": sequence} and len(sequence) == 191
    assert found["observed"] == {"A": 191}  # every residue has coordinates


def test_msa_identifiers_reads_a_species_from_every_uniprot_header(images):
    records = _in_image(images, "species", "/db/uniprot/uniprot.fasta")
    headers = [
        line[1:]
        for line in (DATABASES / "uniprot" / "uniprot.fasta").read_text().splitlines()
        if line.startswith(">")
    ]
    assert [d for d, _ in records] == headers and len(headers) > 200
    assert [s for _, s in records] == [_species_of(h) for h in headers]
    assert all(s for _, s in records)
    assert len({s for _, s in records}) > 50  # many species, as pairing needs


def _expected_pairs(species: list[list[str]]) -> int:
    """AlphaFold's pairing, counted: the query row, then for each species found in both
    chains (and in at most 600 rows of each), as many rows as the scarcer chain has."""
    counts = [Counter(s[1:]) for s in species]  # row 0 is the query (no species)
    common = (set(counts[0]) & set(counts[1])) - {""}
    return 1 + sum(min(c[s] for c in counts) for s in common if all(c[s] <= 600 for c in counts))


def test_alphafold_multimer_pairs_msa_rows_by_species_from_the_bundled_uniprot(images, tmp_path):
    """Two GH11 xylanases as the two chains of a heteromer (not a known complex: the
    question is only whether AlphaFold's pairing finds their homologues' species)."""
    xylanase = (EXAMPLES / "xylanase.fasta").read_text().splitlines()[1]
    (tmp_path / "a.fasta").write_text(f">xylanase\n{xylanase}\n")
    (tmp_path / "b.fasta").write_text(f">6kwc\n{_seqres()['6kwc_A'][1]}\n")
    mounts = {tmp_path: "/w"}
    found = _in_image(
        images,
        "pair",
        "/db/uniprot/uniprot.fasta",
        "/w/a.fasta",
        "/w/b.fasta",
        "/w/uniprot",
        mounts=mounts,
    )
    for hits, species in zip(found["hits"], found["species"]):
        assert len(hits) > 200 and species[0] == ""
        assert set(species[1:]) == {_species_of(h) for h in hits}
    assert found["paired_rows"] == [_expected_pairs(found["species"])] * 2
    assert found["paired_rows"][0] > 100

    # the same sequences under UniRef100 headers (uniref90.fasta): no species, nothing paired
    unpaired = _in_image(
        images,
        "pair",
        "/db/uniref90/uniref90.fasta",
        "/w/a.fasta",
        "/w/b.fasta",
        "/w/uniref",
        mounts=mounts,
    )
    assert min(unpaired["rows"]) > 200 and unpaired["paired_rows"] == [1, 1]
