"""The MSA step on MMseqs2 with ColabFold's search protocol, in AlphaFold's ``msas/`` layout.

ColabFold (``colabfold/mmseqs/search.py``, ``mmseqs_search_monomer``) searches each
database with ``mmseqs search`` (three profile iterations, sensitivity 8, E 0.1, at most
10,000 hits), keeps the hits ``filterresult`` passes (``--qsc 0.8`` with its filter on)
and turns them into an A3M with ``result2msa`` (its diversity filter: ``--filter-msa 1
--diff 3000 --qid 0.0,...,1.0 --max-seq-id 0.95``). This module runs the same commands
(:data:`SEARCH_ARGS`, :data:`FILTERRESULT_ARGS`, :data:`RESULT2MSA_ARGS`) over the
databases AlphaFold's layout names, with all distinct chains of a run as one batch of
queries per database, and writes what the pyhmmer engine writes
(:func:`foldline.steps.engines.msa_search.write_msas`): the same file names, Stockholm
for ``*.sto`` (query first, insertions as insert columns, so AlphaFold's deletion
matrix is what the A3M says) and A3M for ``bfd_uniref_hits.a3m``, AlphaFold's row caps,
templates from hmmsearch as today. Multimer: one folder per chain, with
``uniprot_hits.sto`` (hit names kept as the database spells them, ``tr|ACC|NAME_SPECIES``),
from which AlphaFold's own multimer pipeline pairs the chains by species.

Two kinds of database. ColabFold's own (UniRef30, its environmental database) are
*expandable cluster* databases (:mod:`foldline.databases.mmseqs_expandable`: the
representatives, ``_seq`` with every member, ``_aln`` with each representative's
alignments to its members). Over one of those this module runs ColabFold's whole
protocol: the search against the representatives, ``expandaln`` into the members of each
hit cluster (:data:`EXPANDALN_ARGS`), ``align`` of the members to the search's last
profile (:data:`REALIGN_ARGS`), then ``filterresult`` and ``result2msa`` over the
members. Over a plain sequence database (any FASTA of AlphaFold's layout) there is
nothing to expand: search, ``filterresult``, ``result2msa``. Which databases: a staged
MMseqs2 database ``<db_dir>/mmseqs/<name>`` (expandable or not, with or without its
``createindex`` index), else ColabFold's database staged for that slot
(:data:`foldline.databases.colabfold.SLOTS`), else the FASTA file made into an MMseqs2
database once (``createdb``) in a cache folder (``FOLDLINE_MMSEQS_CACHE``, default
``~/.cache/foldline/mmseqs``), keyed by the file's path, size and modification time and
the mmseqs version; concurrent builders wait for each other (a file lock).

GPU: where the binary is an MMseqs2 GPU build, a GPU is visible and the database is
padded (``makepaddedseqdb``), the search runs on it with ColabFold's GPU settings
(:mod:`foldline.steps.engines.mmseqs_gpu`); otherwise, and by default, on the CPUs.

The binary: ``FOLDLINE_MMSEQS`` or ``mmseqs`` on PATH (Debian's ``mmseqs2`` package, as
the MSA image installs it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from foldline.databases import mmseqs_expandable
from foldline.databases import presets as gdb
from foldline.steps import msa_cache
from foldline.steps.engines import mmseqs_gpu
from foldline.steps.engines.alignments import Alignment
from foldline.steps.engines.msa_search import Database, SearchPlan, write_msas

BINARY_ENV = msa_cache.MMSEQS_BINARY_ENV
CACHE_ENV = "FOLDLINE_MMSEQS_CACHE"
#: a staged MMseqs2 database of ``Database.name`` lives at ``<db_dir>/STAGED_DIR/<name>``
STAGED_DIR = "mmseqs"

#: ColabFold's ``search_param`` on CPU and GPU (``--db-load-mode`` is added where an
#: index exists)
SEARCH_COMMON_ARGS = ("--num-iterations", "3", "-a", "-e", "0.1", "--max-seqs", "10000")
#: ... and on the CPUs, sensitivity 8
SEARCH_ARGS = (*SEARCH_COMMON_ARGS, "-s", "8")
#: ... and on a GPU
GPU_SEARCH_ARGS = (*SEARCH_COMMON_ARGS, *mmseqs_gpu.GPU_ARGS)
#: ColabFold's ``filterresult`` after the search, with its filter on (qsc 0.8)
FILTERRESULT_ARGS = (
    "--qid",
    "0",
    "--qsc",
    "0.8",
    "--diff",
    "0",
    "--max-seq-id",
    "1.0",
    "--filter-min-enable",
    "100",
)
#: ColabFold's ``result2msa`` with its ``filter_param``: A3M with alignment information
RESULT2MSA_ARGS = (
    "--msa-format-mode",
    "6",
    "--filter-msa",
    "1",
    "--filter-min-enable",
    "1000",
    "--diff",
    "3000",
    "--qid",
    "0.0,0.2,0.4,0.6,0.8,1.0",
    "--qsc",
    "0",
    "--max-seq-id",
    "0.95",
)
#: ColabFold's ``expandaln`` (its filter on): every member of each hit cluster
#: (``-e inf``), members more than 95 % identical to one another dropped
EXPANDALN_ARGS = (
    "--expansion-mode",
    "0",
    "-e",
    "inf",
    "--expand-filter-clusters",
    "1",
    "--max-seq-id",
    "0.95",
)
#: ColabFold's ``align`` of the expanded members to the query's profile (its filter on)
REALIGN_ARGS = ("-e", "10", "--max-accept", "100000", "--alt-ali", "10", "-a")


class MmseqsError(RuntimeError):
    """mmseqs is missing or one of its commands failed (the message says which)."""


def binary(environ: dict[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    found = env.get(BINARY_ENV) or shutil.which("mmseqs")
    if not found:
        raise MmseqsError(
            "mmseqs not found: install Debian's mmseqs2 package "
            f"(apt-get install mmseqs2) or set {BINARY_ENV}"
        )
    return found


def version(executable: str | None = None) -> str:
    found = msa_cache.mmseqs_version(executable or binary())
    if found is None:
        raise MmseqsError(f"{executable or binary()} version failed")
    return found


def _run(argv: list[str], *, what: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise MmseqsError(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    return proc.stdout


def cache_dir(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV])
    return Path.home() / ".cache" / "foldline" / "mmseqs"


def _fasta_key(fasta: Path, mmseqs_version: str) -> str:
    stat = fasta.stat()
    facts = [str(fasta.resolve()), stat.st_size, stat.st_mtime_ns, mmseqs_version]
    return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:24]


def target_database(
    fasta: Path,
    *,
    staged: Path | None = None,
    cache: Path | None = None,
    executable: str | None = None,
) -> Path:
    """The MMseqs2 database to search for ``fasta``: ``staged`` where it exists, else
    the cached ``createdb`` of the file (made now if missing)."""
    if staged is not None and Path(f"{staged}.dbtype").is_file():
        return staged
    executable = executable or binary()
    cache = cache or cache_dir()
    folder = cache / _fasta_key(fasta, version(executable))
    db = folder / "db"
    if Path(f"{db}.dbtype").is_file():
        return db
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if Path(f"{db}.dbtype").is_file():  # another process built it meanwhile
            return db
        building = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=cache))
        try:
            _run(
                [executable, "createdb", str(fasta), str(building / "db"), "-v", "1"],
                what=f"mmseqs createdb {fasta}",
            )
            (building / "source.json").write_text(
                json.dumps({"fasta": str(fasta.resolve()), "size": fasta.stat().st_size}) + "\n"
            )
            building.rename(folder)
        finally:
            shutil.rmtree(building, ignore_errors=True)
    return db


def has_index(db: Path) -> bool:
    return Path(f"{db}.idx").is_file() or Path(f"{db}.idx.index").is_file()


@dataclass(frozen=True)
class A3mEntry:
    header: str
    row: str  # A3M: upper case and '-' for the query's columns, lower case inserted


def read_db_entries(db: Path) -> dict[int, str]:
    """An MMseqs2 result database's entries by key (``<db>.index``: key, offset, length;
    every entry ends with a NUL byte)."""
    data = Path(db).read_bytes()
    entries = {}
    for line in Path(f"{db}.index").read_text().splitlines():
        key, offset, length = (int(field) for field in line.split("\t"))
        entries[key] = data[offset : offset + length].rstrip(b"\0").decode()
    return entries


def parse_a3m(text: str) -> list[A3mEntry]:
    entries: list[A3mEntry] = []
    header, parts = None, []
    for line in text.splitlines():
        if line.startswith(">"):
            if header is not None:
                entries.append(A3mEntry(header, "".join(parts)))
            header, parts = line[1:], []
        elif line.strip() and header is not None:
            parts.append(line.strip())
    if header is not None:
        entries.append(A3mEntry(header, "".join(parts)))
    return entries


def _row_name(header: str) -> tuple[str, str]:
    """(name, description) of a ``result2msa --msa-format-mode 6`` header: the target's
    identifier, then tab-separated score, seqid, evalue, qstart, qend, qlen, tstart,
    tend, tlen (0-based). The name gets jackhmmer's ``/start-end`` (1-based), so that
    two alignments of one sequence stay two rows."""
    fields = header.split("\t")
    name = fields[0].split()[0] if fields[0].split() else "unnamed"
    if len(fields) >= 10:
        score, seqid, evalue, *_, tstart, tend, _tlen = fields[1:10]
        return (
            f"{name}/{int(tstart) + 1}-{int(tend) + 1}",
            f"score {score} seqid {seqid} E {evalue}",
        )
    return name, ""


def alignment_from_a3m(
    entries: list[A3mEntry], *, query_name: str, query_description: str, max_rows: int | None
) -> Alignment:
    """Query-anchored A3M rows as one alignment with insert columns (Stockholm's view).

    Each row has the query's length in upper case and ``-``; its lower-case letters are
    insertions after the preceding query column. Every insertion point gets as many
    insert columns as its longest insertion; other rows (the query too) have ``-``
    there, and ``#=GC RF`` marks the query's columns ``x``.
    """
    if not entries:
        raise ValueError("an A3M without its query")
    query = entries[0].row
    if any(not c.isupper() for c in query):
        raise ValueError("the A3M's first row is not the query (gaps or insertions in it)")
    length = len(query)
    split_rows: list[list[str]] = []  # per row: [insert before col 0, col 0, insert, col 1, ...]
    widest = [0] * (length + 1)
    for entry in entries:
        slots, current, matched = [], [], 0
        for letter in entry.row:
            if letter.islower():
                current.append(letter)
            else:
                slots.append("".join(current))
                slots.append(letter)
                current = []
                matched += 1
        slots.append("".join(current))
        if matched != length:
            raise ValueError(
                f"A3M row {entry.header.split()[0]!r} covers {matched} of the "
                f"query's {length} columns"
            )
        for slot in range(length + 1):
            widest[slot] = max(widest[slot], len(slots[2 * slot]))
        split_rows.append(slots)
    rows = []
    for slots in split_rows:
        parts = []
        for slot in range(length + 1):
            parts.append(slots[2 * slot].ljust(widest[slot], "-"))
            if slot < length:
                parts.append(slots[2 * slot + 1])
        rows.append("".join(parts))
    reference = "".join(
        "." * widest[slot] + ("x" if slot < length else "") for slot in range(length + 1)
    )
    names, descriptions = [query_name], [query_description]
    seen = {query_name}
    for entry in entries[1:]:
        name, description = _row_name(entry.header)
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}_{n}"
        seen.add(unique)
        names.append(unique)
        descriptions.append(description)
    return Alignment(names, rows, descriptions, reference).truncated(max_rows)


def _protocol(
    qdb: Path,
    target: Path,
    work: Path,
    *,
    executable: str,
    cpus: int,
    search_args: tuple[str, ...],
) -> list[tuple[str, list[str]]]:
    """The mmseqs commands, in order, from ``qdb`` to the A3M database ``work/msa``:
    ColabFold's expandable protocol where ``target`` is an expandable cluster database,
    else search, filterresult, result2msa over ``target`` itself."""
    common = (
        *(("--db-load-mode", "2") if has_index(target) else ()),
        "--threads",
        str(max(1, cpus)),
        "-v",
        "1",
    )
    res, msa = str(work / "res"), str(work / "msa")
    search = (
        "search",
        [executable, "search", str(qdb), str(target), res, str(work / "tmp"), *search_args]
        + list(common),
    )
    if not mmseqs_expandable.is_expandable(target):
        return [
            search,
            (
                "filterresult",
                [executable, "filterresult", str(qdb), str(target), res, str(work / "res_filter")]
                + [*FILTERRESULT_ARGS, *common],
            ),
            (
                "result2msa",
                [executable, "result2msa", str(qdb), str(target), str(work / "res_filter"), msa]
                + [*RESULT2MSA_ARGS, *common],
            ),
        ]
    members, member_alignments = f"{target}_seq", f"{target}_aln"
    profile = str(work / "prof_res")
    expanded, realigned, filtered = (
        str(work / name) for name in ("res_exp", "res_exp_realign", "res_exp_realign_filter")
    )
    return [
        search,
        # the query's profile after the last iteration, with the query's headers
        ("mvdb", [executable, "mvdb", str(work / "tmp" / "latest" / "profile_1"), profile]),
        ("lndb", [executable, "lndb", f"{qdb}_h", f"{profile}_h"]),
        (
            "expandaln",
            [executable, "expandaln", str(qdb), members, res, member_alignments, expanded]
            + [*EXPANDALN_ARGS, *common],
        ),
        (
            "align",
            [executable, "align", profile, members, expanded, realigned] + [*REALIGN_ARGS, *common],
        ),
        (
            "filterresult",
            [executable, "filterresult", str(qdb), members, realigned, filtered]
            + [*FILTERRESULT_ARGS, *common],
        ),
        (
            "result2msa",
            [executable, "result2msa", str(qdb), members, filtered, msa]
            + [*RESULT2MSA_ARGS, *common],
        ),
    ]


def search_database(
    queries: dict[str, str],
    target: Path,
    work: Path,
    cpus: int,
    *,
    executable: str | None = None,
    search_args: tuple[str, ...] = SEARCH_ARGS,
) -> dict[str, list[A3mEntry]]:
    """ColabFold's search of ``target`` for each query (key -> sequence), all in one
    batch; returns each query's A3M entries (the query first). ``search_args``: the
    CPU search's (:data:`SEARCH_ARGS`) or the GPU search's."""
    executable = executable or binary()
    work.mkdir(parents=True, exist_ok=True)
    fasta = work / "queries.fasta"
    fasta.write_text("".join(f">{key}\n{sequence}\n" for key, sequence in queries.items()))
    qdb = work / "qdb"
    _run([executable, "createdb", str(fasta), str(qdb), "-v", "1"], what="mmseqs createdb")
    for what, argv in _protocol(
        qdb, target, work, executable=executable, cpus=cpus, search_args=search_args
    ):
        _run(argv, what=f"mmseqs {what} ({target.name})")
    keys = {}  # qdb's lookup: internal key, name, file
    for line in Path(f"{qdb}.lookup").read_text().splitlines():
        internal, name, _ = line.split("\t")
        keys[int(internal)] = name
    texts = read_db_entries(work / "msa")
    found = {keys[internal]: parse_a3m(text) for internal, text in texts.items()}
    # a query without hits still gets its own row
    return {key: found.get(key) or [A3mEntry(key, sequence)] for key, sequence in queries.items()}


def run_mmseqs_search(
    chains,
    db_dir: Path,
    out_dir: Path,
    *,
    db_preset: str,
    model_preset: str,
    max_template_date: str,
    cpus: int,
) -> dict:
    """:func:`foldline.steps.engines.msa_search.run_msa_search`'s contract, searched
    with MMseqs2: ``out_dir/msas/`` and ``msa_search.json``; returns timings."""
    started = time.perf_counter()
    plan = SearchPlan.of(chains, Path(db_dir), db_preset=db_preset, model_preset=model_preset)
    executable = binary()
    mmseqs_version = version(executable)
    queries = {key: chain.sequence for key, chain in plan.unique.items()}
    timings: dict[str, float] = {}
    alignments: dict[tuple[str, str], Alignment] = {}
    searched: dict[str, str] = {}
    protocols: dict[str, str] = {}
    targets = {}
    for db in plan.databases:
        t0 = time.perf_counter()
        targets[db.output] = _target_for(db, plan.db_dir, executable)
        timings[f"mmseqs_createdb_{db.name}"] = round(time.perf_counter() - t0, 3)
    device = mmseqs_gpu.decide(executable, sorted(set(targets.values())))
    with tempfile.TemporaryDirectory(prefix="foldline-mmseqs-") as scratch:
        for db in plan.databases:
            target = targets[db.output]
            searched[db.output] = str(target)
            protocols[db.output] = (
                "expandable" if mmseqs_expandable.is_expandable(target) else "flat"
            )
            t0 = time.perf_counter()
            found = search_database(
                queries,
                target,
                Path(scratch) / db.output,
                cpus,
                executable=executable,
                search_args=GPU_SEARCH_ARGS if device.gpu else SEARCH_ARGS,
            )
            timings[f"mmseqs_{db.name}"] = round(time.perf_counter() - t0, 3)
            for key, entries in found.items():
                chain = plan.unique[key]
                alignments[(db.name, key)] = alignment_from_a3m(
                    entries,
                    query_name=chain.id,
                    query_description=chain.description,
                    max_rows=db.max_rows,
                )
    expandable = "expandable" in protocols.values()
    notes = {
        "engine": "mmseqs2",
        "engine_version": mmseqs_version,
        "mmseqs_device": "gpu" if device.gpu else "cpu",
        "mmseqs_device_reason": device.reason,
        "mmseqs_search_args": " ".join(GPU_SEARCH_ARGS if device.gpu else SEARCH_ARGS),
        "mmseqs_filterresult_args": " ".join(FILTERRESULT_ARGS),
        "mmseqs_result2msa_args": " ".join(RESULT2MSA_ARGS),
        **(
            {
                "mmseqs_expandaln_args": " ".join(EXPANDALN_ARGS),
                "mmseqs_align_args": " ".join(REALIGN_ARGS),
            }
            if expandable
            else {}
        ),
        "mmseqs_databases": searched,
        "mmseqs_protocols": protocols,
        "substitutions": _substitutions(plan, db_preset, targets),
    }
    return write_msas(
        plan,
        alignments,
        Path(out_dir),
        max_template_date=max_template_date,
        cpus=max(1, cpus),
        notes=notes,
        timings=timings,
        started=started,
    )


def _substitutions(plan: SearchPlan, db_preset: str, targets: dict[str, Path]) -> list[str]:
    """What stands in for AlphaFold's HHblits output (full_dbs' bfd_uniref_hits.a3m)."""
    if db_preset != "full_dbs" or "bfd_uniref_hits.a3m" not in targets:
        return []
    target = targets["bfd_uniref_hits.a3m"]
    if mmseqs_expandable.is_expandable(target):
        return [f"full_dbs: bfd_uniref_hits.a3m is MMseqs2 over the cluster database {target.name}"]
    if _staged(plan.db_dir, "small_bfd"):
        return []
    return [
        (
            "full_dbs: no ColabFold/HHblits BFD or UniRef30 databases in the local layout; "
            "bfd_uniref_hits.a3m is MMseqs2 over small_bfd"
        )
    ]


def _staged(db_dir: Path, name: str) -> Path | None:
    """The MMseqs2 database staged for AlphaFold's database ``name``: foldline's own
    ``mmseqs/<name>``, else ColabFold's that fills that slot."""
    colabfold = gdb.colabfold_database(name)
    for path in (db_dir / STAGED_DIR / name, db_dir / colabfold if colabfold else None):
        if path is not None and Path(f"{path}.dbtype").is_file():
            return path
    return None


def _target_for(db: Database, db_dir: Path, executable: str) -> Path:
    return target_database(db_dir / db.path, staged=_staged(db_dir, db.name), executable=executable)
