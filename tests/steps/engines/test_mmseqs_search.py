"""The MMseqs2 engine (ColabFold's protocol) on the bundled example: AlphaFold's layout,
the pyhmmer engine's hits found, A3M turned into Stockholm without losing insertions."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from foldline.steps import msa_cache
from foldline.steps.engines import mmseqs_search
from foldline.steps.engines.alignments import read_stockholm
from foldline.steps.engines.mmseqs_search import A3mEntry, alignment_from_a3m, run_mmseqs_search

from .conftest import DATABASES, EXAMPLES, chains_of

GENETIC_FILES = ("uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto")


@pytest.fixture(scope="session")
def mmseqs_cache(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("mmseqs-cache")
    previous = os.environ.get(mmseqs_search.CACHE_ENV)
    os.environ[mmseqs_search.CACHE_ENV] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop(mmseqs_search.CACHE_ENV, None)
    else:
        os.environ[mmseqs_search.CACHE_ENV] = previous


def _search(tmp_path_factory, fasta: str, **kwargs):
    out = tmp_path_factory.mktemp("mm-" + fasta.split(".")[0])
    chains = chains_of(fasta)
    timings = run_mmseqs_search(chains, DATABASES, out, cpus=2, **kwargs)
    return out, chains, timings


@pytest.fixture(scope="session")
def mmseqs_monomer(tmp_path_factory, mmseqs_cache):
    return _search(
        tmp_path_factory,
        "xylanase.fasta",
        db_preset="reduced_dbs",
        model_preset="monomer",
        max_template_date="2025-01-01",
    )


@pytest.fixture(scope="session")
def mmseqs_multimer(tmp_path_factory, mmseqs_cache):
    return _search(
        tmp_path_factory,
        "multimer.fasta",
        db_preset="full_dbs",
        model_preset="multimer",
        max_template_date="",
    )


def test_a3m_insertions_become_insert_columns():
    entries = [
        A3mEntry("query", "MKVLA"),
        A3mEntry("hitA\t90\t0.8\t1e-20\t0\t4\t5\t2\t9\t30", "MKabVLA"),  # 2 inserted after K
        A3mEntry("hitB\t50\t0.5\t1e-5\t1\t4\t5\t0\t4\t10", "-KVcdeLA"),  # 3 after V
        A3mEntry("hitB\t40\t0.5\t1e-4\t0\t4\t5\t20\t24\t30", "MKVL-"),  # a second domain
    ]
    alignment = alignment_from_a3m(
        entries, query_name="q", query_description="the query", max_rows=None
    )
    assert alignment.rows[0] == "MK--V---LA"
    assert alignment.rows[1] == "MKabV---LA"
    assert alignment.rows[2] == "-K--VcdeLA"
    assert alignment.reference == "xx..x...xx"
    # AlphaFold's view: the query's columns, every row the query's length
    assert alignment.query_columns_only() == ["MKVLA", "MKVLA", "-KVLA", "MKVL-"]
    # and back to A3M: the rows as MMseqs2 wrote them (insertions lower case)
    assert [line for line in alignment.to_a3m().splitlines() if not line.startswith(">")] == [
        e.row for e in entries
    ]
    # names as jackhmmer's: identifier/start-end (1-based), distinct for two domains
    assert alignment.names == ["q", "hitA/3-10", "hitB/1-5", "hitB/21-25"]
    assert alignment.descriptions[1] == "score 90 seqid 0.8 E 1e-20"


def test_a3m_row_not_covering_the_query_is_refused():
    with pytest.raises(ValueError, match="covers 4 of the query's 5"):
        alignment_from_a3m(
            [A3mEntry("q", "MKVLA"), A3mEntry("bad", "MKVL")],
            query_name="q",
            query_description="",
            max_rows=None,
        )


def test_row_cap_keeps_the_first_rows():
    entries = [A3mEntry("q", "MKVLA")] + [A3mEntry(f"h{i}", "MKVLA") for i in range(10)]
    alignment = alignment_from_a3m(entries, query_name="q", query_description="", max_rows=4)
    assert alignment.names == ["q", "h0", "h1", "h2"]


def test_monomer_layout_and_real_hits(mmseqs_monomer, monomer_search):
    out, chains, timings = mmseqs_monomer
    msas = out / "msas"
    assert sorted(p.name for p in msas.iterdir()) == sorted(GENETIC_FILES + ("pdb_hits.sto",))
    chain = chains[0]
    for name in GENETIC_FILES:
        alignment = read_stockholm(msas / name)
        assert alignment.names[0] == chain.id
        assert alignment.rows[0].replace("-", "") == chain.sequence
        assert {len(r) for r in alignment.query_columns_only()} == {len(chain.sequence)}
        assert len(alignment) > 100, f"{name}: only {len(alignment) - 1} hits"
    assert len(read_stockholm(msas / "mgnify_hits.sto")) <= 501  # AlphaFold's cap
    # the jackhmmer-protocol engine's hits are (nearly all) found
    for name in ("uniref90_hits.sto", "small_bfd_hits.sto"):
        ours = {n.split("/")[0] for n in read_stockholm(msas / name).names[1:]}
        theirs = {n.split("/")[0] for n in read_stockholm(monomer_search.msas / name).names[1:]}
        assert len(ours & theirs) >= 0.8 * len(theirs), name
    # templates as today: hmmsearch from the uniref90 alignment finds 6KWC
    templates = {n.split("/")[0] for n in read_stockholm(msas / "pdb_hits.sto").names}
    assert "6kwc_A" in templates
    assert set(timings) >= {
        "mmseqs_uniref90",
        "mmseqs_mgnify",
        "mmseqs_small_bfd",
        "hmmsearch_pdb_seqres",
        "total",
    }


def test_notes_record_the_protocol(mmseqs_monomer):
    out, _, _ = mmseqs_monomer
    notes = json.loads((out / "msa_search.json").read_text())
    assert notes["engine"] == "mmseqs2"
    assert notes["engine_version"] == msa_cache.mmseqs_version()
    assert notes["mmseqs_search_args"] == " ".join(mmseqs_search.SEARCH_ARGS)
    assert "--num-iterations 3" in notes["mmseqs_search_args"]
    assert notes["hits"]["UniRef100_G0S9X3"]["uniref90_hits.sto"] > 100


def test_multimer_layout_per_chain_with_uniprot(mmseqs_multimer):
    out, chains, _ = mmseqs_multimer
    msas = out / "msas"
    assert sorted(p.name for p in msas.iterdir()) == ["A", "B"]
    uniprot_ids = {
        line[1:].split()[0]
        for line in (DATABASES / "uniprot" / "uniprot.fasta").read_text().splitlines()
        if line.startswith(">")
    }
    for letter, chain in zip("AB", chains):
        files = sorted(p.name for p in (msas / letter).iterdir())
        assert files == sorted(
            [
                "uniref90_hits.sto",
                "mgnify_hits.sto",
                "bfd_uniref_hits.a3m",
                "uniprot_hits.sto",
                "pdb_hits.sto",
            ]
        )
        uniprot = read_stockholm(msas / letter / "uniprot_hits.sto")
        assert uniprot.names[0] == chain.id
        # pairing (AlphaFold's msa_pairing) reads each row's identifier: kept as the
        # database spells it, with jackhmmer's /start-end, which AlphaFold strips
        for name in uniprot.names[1:]:
            assert re.fullmatch(r".+/[0-9]+-[0-9]+", name)
            assert name.rsplit("/", 1)[0] in uniprot_ids
        a3m = (msas / letter / "bfd_uniref_hits.a3m").read_text()
        assert a3m.startswith(f">{chain.id}")
    # identical chains: one search, the same rows for both
    assert (
        read_stockholm(msas / "A" / "uniref90_hits.sto").rows
        == read_stockholm(msas / "B" / "uniref90_hits.sto").rows
    )


def test_target_database_built_once_then_cached(tmp_path):
    fasta = tmp_path / "small.fasta"
    fasta.write_text((EXAMPLES / "databases" / "uniref90" / "uniref90.fasta").read_text())
    first = mmseqs_search.target_database(fasta, cache=tmp_path / "cache")
    built = Path(f"{first}.dbtype").stat().st_mtime_ns
    again = mmseqs_search.target_database(fasta, cache=tmp_path / "cache")
    assert again == first and Path(f"{again}.dbtype").stat().st_mtime_ns == built
    # a changed file is a new database
    fasta.write_text(fasta.read_text() + ">extra\nMKVLAAGIVGLLLAAGCSSHKEE\n")
    assert mmseqs_search.target_database(fasta, cache=tmp_path / "cache") != first
    # a staged database is used as it is
    assert mmseqs_search.target_database(fasta, staged=first.with_name("db")) == first


def test_missing_binary_names_the_package(monkeypatch):
    monkeypatch.setenv(mmseqs_search.BINARY_ENV, "")
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(mmseqs_search.MmseqsError, match="apt-get install mmseqs2"):
        mmseqs_search.binary()


def test_cache_key_names_the_engine_and_its_version():
    facts = {
        "db_preset": "reduced_dbs",
        "max_template_date": "2025-01-01",
        "model_preset": "monomer",
    }
    mm = msa_cache.cache_key(["MKVLA" * 4], engine="mmseqs2", **facts)
    hm = msa_cache.cache_key(["MKVLA" * 4], engine="pyhmmer", **facts)
    assert mm.key != hm.key
    assert mm.facts["tools"]["mmseqs2"] == msa_cache.mmseqs_version()
    assert msa_cache.resolve_engine({msa_cache.ENGINE_ENV: "MMseqs2"}) == "mmseqs2"
