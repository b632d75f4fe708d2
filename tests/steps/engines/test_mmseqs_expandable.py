"""ColabFold's protocol over expandable cluster databases: foldline builds them from the
bundled FASTA files (:mod:`foldline.databases.mmseqs_expandable`) and the mmseqs2 engine
searches the representatives, expands the hit clusters into their members and realigns
them; the real Debian ``mmseqs`` runs every step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foldline.databases import mmseqs_expandable
from foldline.databases import presets as gdb
from foldline.intake.fasta import decide
from foldline.steps.engines import mmseqs_search
from foldline.steps.engines.alignments import read_stockholm
from foldline.steps.engines.mmseqs_search import run_mmseqs_search

from .conftest import DATABASES, chains_of

#: AlphaFold's databases given an expandable copy, and the FASTA each is made from
EXPANDED = {
    "uniref90": "uniref90/uniref90.fasta",
    "mgnify": "mgnify/mgy_clusters_2022_05.fa",
    "uniprot": "uniprot/uniprot.fasta",
}


def _names(db: Path) -> dict[int, str]:
    """key -> identifier, from an MMseqs2 database's .lookup"""
    names = {}
    for line in Path(f"{db}.lookup").read_text().splitlines():
        key, name, _ = line.split("\t")
        names[int(key)] = name
    return names


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory) -> Path:
    """The bundled databases root with an expandable MMseqs2 database staged for some."""
    root = tmp_path_factory.mktemp("expandable-dbs")
    for folder in DATABASES.iterdir():
        (root / folder.name).symlink_to(folder)
    for name, fasta in EXPANDED.items():
        mmseqs_expandable.build(DATABASES / fasta, root / "mmseqs" / name, threads=2)
    return root


@pytest.fixture(scope="module")
def monomer(db_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("expanded-monomer")
    chains = chains_of("xylanase.fasta")
    run_mmseqs_search(
        chains,
        db_dir,
        out,
        db_preset="reduced_dbs",
        model_preset="monomer",
        max_template_date="2025-01-01",
        cpus=2,
    )
    return out, chains


def test_build_makes_colabfolds_five_databases_in_one_key_space(db_dir):
    db = db_dir / "mmseqs" / "uniref90"
    assert mmseqs_expandable.is_expandable(db)
    record = json.loads(Path(f"{db}{mmseqs_expandable.BUILD_RECORD_SUFFIX}").read_text())
    members = _names(Path(f"{db}_seq"))
    fasta_ids = [
        line[1:].split()[0]
        for line in (DATABASES / EXPANDED["uniref90"]).read_text().splitlines()
        if line.startswith(">")
    ]
    assert sorted(members.values()) == sorted(fasta_ids)
    assert record["members"] == len(fasta_ids)
    assert 0 < record["representatives"] < record["members"]  # 30 % identity clusters
    representatives = {
        int(line.split("\t")[0]) for line in Path(f"{db}.index").read_text().splitlines()
    }
    # every cluster's alignments are keyed by its representative, and every member is in
    # exactly one cluster (the representative among its own members)
    alignments = mmseqs_search.read_db_entries(Path(f"{db}_aln"))
    assert set(alignments) == representatives
    seen = []
    for key, text in alignments.items():
        targets = [int(line.split("\t")[0]) for line in text.splitlines()]
        assert key in targets
        assert all(len(line.split("\t")) >= 11 for line in text.splitlines())  # backtraces
        seen.extend(targets)
    assert sorted(seen) == sorted(members)
    # the representatives searched are each cluster's consensus, as UniRef30's are: an
    # amino-acid database keyed as the clusters, the profiles it came from removed
    consensus = mmseqs_search.read_db_entries(db)
    sequences = mmseqs_search.read_db_entries(Path(f"{db}_seq"))
    assert Path(f"{db}.dbtype").read_bytes()[:1] == b"\x00"  # MMseqs2's amino acids
    assert not list(db.parent.glob(f"{db.name}{mmseqs_expandable.PROFILE_SUFFIX}*"))
    big = [key for key, text in alignments.items() if len(text.splitlines()) > 2]
    assert big and any(consensus[key] != sequences[key] for key in big)


def test_build_resumes_without_redoing_finished_steps(db_dir):
    db = db_dir / "mmseqs" / "mgnify"
    before = {p.name: p.stat().st_mtime_ns for p in db.parent.glob("mgnify*") if p.is_file()}
    record = mmseqs_expandable.build(DATABASES / EXPANDED["mgnify"], db, threads=2)
    after = {p.name: p.stat().st_mtime_ns for p in db.parent.glob("mgnify*") if p.is_file()}
    data = {name for name in before if not name.endswith(".json")}
    assert {n: after[n] for n in data} == {n: before[n] for n in data}
    assert set(record["seconds"]) == {
        "createdb",
        "cluster",
        "align",
        "result2profile",
        "profile2consensus",
        "createsubdb_h",
    }


def test_expandable_protocol_runs_colabfolds_steps(db_dir, tmp_path, monkeypatch):
    commands = []
    real_run = mmseqs_search._run

    def recording(argv, *, what, cwd=None):
        commands.append(argv[1])
        return real_run(argv, what=what, cwd=cwd)

    monkeypatch.setattr(mmseqs_search, "_run", recording)
    chain = chains_of("xylanase.fasta")[0]
    found = mmseqs_search.search_database(
        {"q": chain.sequence}, db_dir / "mmseqs" / "uniref90", tmp_path, 2
    )
    assert commands == [
        "createdb",
        "search",
        "mvdb",
        "lndb",
        "expandaln",
        "align",
        "filterresult",
        "result2msa",
    ]
    names = _names(db_dir / "mmseqs" / "uniref90_seq")
    members = set(names.values())
    representatives = {
        names[int(line.split("\t")[0])]
        for line in (db_dir / "mmseqs" / "uniref90.index").read_text().splitlines()
    }
    rows = {mmseqs_search._row_name(e.header)[0].rsplit("/", 1)[0] for e in found["q"][1:]}
    assert rows <= members
    # expanded: members that are not representatives are in the MSA
    assert rows - representatives


def test_monomer_over_cluster_databases_keeps_the_layout_and_the_hits(monomer, monomer_search):
    out, chains = monomer
    notes = json.loads((out / "msa_search.json").read_text())
    assert notes["mmseqs_protocols"] == {
        "uniref90_hits.sto": "expandable",
        "mgnify_hits.sto": "expandable",
        "small_bfd_hits.sto": "flat",
    }
    assert notes["mmseqs_expandaln_args"] == " ".join(mmseqs_search.EXPANDALN_ARGS)
    assert notes["mmseqs_device"] == "cpu"
    chain = chains[0]
    for name in ("uniref90_hits.sto", "mgnify_hits.sto"):
        alignment = read_stockholm(out / "msas" / name)
        assert alignment.names[0] == chain.id
        assert {len(r) for r in alignment.query_columns_only()} == {len(chain.sequence)}
    # the jackhmmer-protocol engine's UniRef90 hits are (nearly all) found after expansion
    ours = {n.split("/")[0] for n in read_stockholm(out / "msas/uniref90_hits.sto").names[1:]}
    theirs = {
        n.split("/")[0] for n in read_stockholm(monomer_search.msas / "uniref90_hits.sto").names[1:]
    }
    assert len(ours & theirs) >= 0.8 * len(theirs)


def test_multimer_pairing_names_survive_expansion(db_dir, tmp_path):
    # a xylanase homodimer: the bundled UniProt holds xylanases (none of multimer.fasta's)
    sequence = chains_of("xylanase.fasta")[0].sequence
    decision = decide(f">xyl_A\n{sequence}\n>xyl_B\n{sequence}\n".encode())
    assert decision.accepted, decision.reason
    chains = decision.chains
    run_mmseqs_search(
        chains,
        db_dir,
        tmp_path,
        db_preset="reduced_dbs",
        model_preset="multimer",
        max_template_date="",
        cpus=2,
    )
    notes = json.loads((tmp_path / "msa_search.json").read_text())
    assert notes["mmseqs_protocols"]["uniprot_hits.sto"] == "expandable"
    uniprot_ids = set(_names(db_dir / "mmseqs" / "uniprot_seq").values())
    for letter, chain in zip("AB", chains):
        uniprot = read_stockholm(tmp_path / "msas" / letter / "uniprot_hits.sto")
        assert uniprot.names[0] == chain.id
        assert len(uniprot) > 10
        # AlphaFold's pairing reads the species from tr|ACC|NAME_SPECIES: members keep
        # the names the FASTA gave them, as after jackhmmer
        assert {n.rsplit("/", 1)[0] for n in uniprot.names[1:]} <= uniprot_ids


def test_colabfolds_database_fills_its_slot_when_foldline_has_none(tmp_path):
    staged = tmp_path / gdb.colabfold_database("uniref90")
    staged.parent.mkdir(parents=True)
    Path(f"{staged}.dbtype").write_bytes(b"\0\0\0\0")
    assert mmseqs_search._staged(tmp_path, "uniref90") == staged
    assert staged.name == "uniref30_2302_db"
    assert mmseqs_search._staged(tmp_path, "uniprot") is None  # UniProt: AlphaFold's own
    own = tmp_path / "mmseqs" / "uniref90"
    own.parent.mkdir()
    Path(f"{own}.dbtype").write_bytes(b"\0\0\0\0")
    assert mmseqs_search._staged(tmp_path, "uniref90") == own
