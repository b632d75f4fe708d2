"""The pyhmmer MSA program on the bundled example: real hits, AlphaFold's layout."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading

import pytest
from pyhmmer import easel, plan7

from foldline.steps.engines import fpu
from foldline.steps.engines.alignments import Alignment, read_stockholm
from foldline.steps.engines.msa_search import (
    JACKHMMER_FLAGS,
    JACKHMMER_OPTIONS,
    _FastaChunks,
    _Search,
    chain_letter,
    run_msa_search,
    search_sequences,
)
from tests.strict_skips import PLATFORM_SKIP

from .conftest import DATABASES, EXAMPLES, chains_of

JACKHMMER_FILES = ("uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto")


def _query_first(alignment: Alignment, chain) -> None:
    assert alignment.names[0] == chain.id
    assert alignment.rows[0].replace("-", "") == chain.sequence
    # AlphaFold keys the MSA on the first row's residue columns: every row gets the
    # query's length there
    assert {len(r) for r in alignment.query_columns_only()} == {len(chain.sequence)}


def test_monomer_layout_and_real_hits(monomer_search):
    files = sorted(p.name for p in monomer_search.msas.iterdir())
    assert files == sorted(JACKHMMER_FILES + ("pdb_hits.sto",))
    chain = monomer_search.chains[0]
    for name in JACKHMMER_FILES:
        alignment = read_stockholm(monomer_search.msas / name)
        _query_first(alignment, chain)
        assert len(alignment) > 100, f"{name}: only {len(alignment) - 1} hits"
        assert all("." not in row for row in alignment.rows)
    # AlphaFold keeps at most 501 rows of mgnify (query included)
    assert len(read_stockholm(monomer_search.msas / "mgnify_hits.sto")) <= 501
    assert set(monomer_search.timings) >= {
        "jackhmmer_uniref90",
        "jackhmmer_mgnify",
        "jackhmmer_small_bfd",
        "hmmsearch_pdb_seqres",
        "total",
    }


def test_template_hits_find_6kwc_and_only_homologues(monomer_search):
    hits = read_stockholm(monomer_search.msas / "pdb_hits.sto")
    templates = {name.split("/")[0] for name in hits.names}
    assert "6kwc_A" in templates
    assert not templates & {"4i6p_A", "3zee_A", "4zey_A", "3u8v_A", "2q2k_A"}
    # hmmsearch -A layout: hits only, descriptions as AlphaFold's regex wants them
    row = 0
    assert re.match(
        r"^[a-z0-9]+_\w+/[0-9]+-[0-9]+.*protein length:[0-9]+",
        f"{hits.names[row]} {hits.descriptions[row]}",
    )
    # match columns (RF) == query length, so AlphaFold's indices_query line up
    assert hits.reference.count("x") == len(monomer_search.chains[0].sequence)


def test_notes_record_what_ran(monomer_search):
    notes = monomer_search.notes
    assert notes["engine"] == "pyhmmer"
    assert notes["jackhmmer_flags"] == JACKHMMER_FLAGS
    assert notes["substitutions"] == []
    assert notes["hits"]["UniRef100_G0S9X3"]["pdb_hits.sto"] >= 1


def test_multimer_layout_per_chain(multimer_search):
    letters = sorted(p.name for p in multimer_search.msas.iterdir())
    assert letters == ["A", "B"]
    for index, chain in enumerate(multimer_search.chains):
        folder = multimer_search.msas / chain_letter(index)
        assert sorted(p.name for p in folder.iterdir()) == sorted(
            [
                "uniref90_hits.sto",
                "mgnify_hits.sto",
                "bfd_uniref_hits.a3m",
                "uniprot_hits.sto",
                "pdb_hits.sto",
            ]
        )
        for name in ("uniref90_hits.sto", "mgnify_hits.sto", "uniprot_hits.sto"):
            _query_first(read_stockholm(folder / name), chain)
        a3m = (folder / "bfd_uniref_hits.a3m").read_text().splitlines()
        assert a3m[0].split()[0] == f">{chain.id}" and a3m[1] == chain.sequence
        templates = {n.split("/")[0] for n in read_stockholm(folder / "pdb_hits.sto").names}
        assert {"4i6p_A", "4i6p_B", "3zee_A"} <= templates
        assert "6kwc_A" not in templates
    assert multimer_search.notes["substitutions"], "full_dbs must say it searched small_bfd"


def test_chain_letters_follow_alphafold_multimer():
    assert [chain_letter(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "BA"]


def test_template_date_filter_excludes_late_templates(tmp_path):
    # 6kwc.cif's revision date is 2024-05-03
    chains = chains_of("xylanase.fasta")
    run_msa_search(
        chains,
        DATABASES,
        tmp_path,
        db_preset="reduced_dbs",
        model_preset="monomer",
        max_template_date="2024-05-02",
        cpus=2,
    )
    assert (tmp_path / "msas" / "pdb_hits.sto").read_text() == ""
    notes = json.loads((tmp_path / "msa_search.json").read_text())
    assert notes["templates_after_cutoff"][chains[0].id] == ["6kwc_A (2024-05-03)"]


def test_chunked_search_matches_one_block():
    query = chains_of("xylanase.fasta")[0]
    fasta = DATABASES / "uniref90" / "uniref90.fasta"
    alphabet = easel.Alphabet.amino()
    hmm = _Search(
        {"q": easel.TextSequence(name=b"q", sequence=query.sequence).digitize(alphabet)}, 1
    ).hmms["q"]
    with easel.SequenceFile(str(fasta), digital=True, alphabet=alphabet) as handle:
        whole = plan7.Pipeline(alphabet, **JACKHMMER_OPTIONS).search_hmm(hmm, handle.read_block())
    chunked = search_sequences([("q", query.sequence)], fasta, cpus=2, chunk_bytes=1_000)[
        "q"
    ]  # ~110 chunks: merged 3 times
    summary = lambda hits: [(h.name, f"{h.evalue:.4g}") for h in hits.included]
    assert whole.Z == chunked.Z == 365
    assert summary(whole) == summary(chunked)
    assert len(summary(whole)) > 300


def test_fasta_chunks_are_whole_records(tmp_path):
    long_record = ">long one\n" + "ACDEFGHIKL\n" * 30  # longer than a chunk
    text = ">a first\r\nMKV\r\nLLA\r\n" + long_record + ">b\nWWW\n>c last\nPP"
    path = tmp_path / "db.fasta"
    path.write_bytes(text.encode())
    chunks = _FastaChunks(path)
    pieces = []
    while (piece := chunks.read(16)) is not None:
        pieces.append(piece.decode())
    chunks.close()
    assert "".join(pieces) == text
    assert len(pieces) > 2 and all(p.startswith(">") for p in pieces)
    assert any(long_record in p for p in pieces)  # never cut inside a record
    assert chunks.remaining == 0


def test_database_in_another_format_is_read_by_easel(tmp_path):
    # not FASTA text (here Stockholm): chunks are read by Easel in the main thread
    query = chains_of("xylanase.fasta")[0]
    fasta = DATABASES / "uniref90" / "uniref90.fasta"
    alphabet = easel.Alphabet.amino()
    with easel.SequenceFile(str(fasta), digital=True, alphabet=alphabet) as handle:
        texts = [seq.textize() for seq in handle.read_block()]
    width = max(len(t.sequence) for t in texts)
    stockholm = tmp_path / "db.sto"
    stockholm.write_text(
        "# STOCKHOLM 1.0\n\n"
        + "".join(
            f"{i}/{t.name} {t.sequence.ljust(width, '-')}\n"  # Stockholm names are unique
            for i, t in enumerate(texts)
        )
        + "//\n"
    )
    from_fasta = search_sequences([("q", query.sequence)], fasta, cpus=2)["q"]
    from_stockholm = search_sequences(
        [("q", query.sequence)], stockholm, cpus=2, chunk_bytes=20_000
    )["q"]
    summary = lambda hits: sorted((h.name.split("/")[-1], f"{h.evalue:.4g}") for h in hits.included)
    assert from_stockholm.Z == from_fasta.Z == 365
    assert summary(from_stockholm) == summary(from_fasta)


@pytest.mark.skipif(shutil.which("jackhmmer") is None, reason="HMMER's jackhmmer not installed")
def test_same_hits_as_hmmer_jackhmmer(monomer_search, tmp_path):
    out = tmp_path / "jackhmmer.sto"
    subprocess.run(
        [
            "jackhmmer",
            "-o",
            "/dev/null",
            "-A",
            str(out),
            "--noali",
            *JACKHMMER_FLAGS.split(),
            "--cpu",
            "1",
            str(EXAMPLES / "xylanase.fasta"),
            str(DATABASES / "uniref90" / "uniref90.fasta"),
        ],
        check=True,
    )
    theirs = read_stockholm(out)
    ours = read_stockholm(monomer_search.msas / "uniref90_hits.sto")
    assert ours.names == theirs.names
    assert ours.query_columns_only() == [r.upper() for r in theirs.query_columns_only()]


def test_flush_to_zero_only_in_the_thread_that_sets_it():
    if not fpu.supported():
        pytest.skip(PLATFORM_SKIP + "FTZ/DAZ is set through x86-64 glibc only")
    seen = {}

    def worker():
        seen["before"] = fpu.is_enabled()
        seen["enabled"] = fpu.enable()
        seen["after"] = fpu.is_enabled()
        child = threading.Thread(target=lambda: seen.setdefault("child", fpu.is_enabled()))
        child.start()
        child.join()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"before": False, "enabled": True, "after": True, "child": True}
    assert not fpu.is_enabled()  # the main thread keeps IEEE denormals (numpy)
    with fpu.flush_denormals():
        assert fpu.is_enabled()
    assert not fpu.is_enabled()


def test_alignment_a3m_marks_insertions_lower_case():
    alignment = Alignment(["q", "h"], ["AC-DE", "AcWD-"], ["query", "hit"])
    assert alignment.to_a3m() == ">q query\nACDE\n>h hit\nACwD-\n"


def test_missing_database_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="uniref90/uniref90.fasta"):
        run_msa_search(
            chains_of("xylanase.fasta"),
            tmp_path,
            tmp_path / "out",
            db_preset="reduced_dbs",
            model_preset="monomer",
            max_template_date="",
            cpus=1,
        )
