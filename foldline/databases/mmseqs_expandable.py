"""Expandable cluster databases for MMseqs2, ColabFold's kind, made from any FASTA.

ColabFold's ``uniref30_2302_db`` and ``colabfold_envdb_202108_db`` (what
``tsv2exprofiledb`` makes of the published TSV files) are five MMseqs2 databases under
one name, all in one key space:

- ``<name>``: the cluster representatives (``.dbtype`` amino acids; the database the
  search runs against), with ``<name>_h`` their headers;
- ``<name>_seq``: every member of every cluster, with ``<name>_seq_h``;
- ``<name>_aln``: for each representative's key, its alignments (with backtraces) to the
  members of its cluster — what ``expandaln`` composes with a query's hit on the
  representative to align the query to each member.

:func:`build` makes the same five from a FASTA file: ``createdb``, ``cluster`` at
UniRef30's threshold (:data:`MIN_SEQ_ID`, :data:`COVERAGE`), ``align`` of each
representative to its members, each cluster's profile from those alignments
(``result2profile``) and its consensus (``profile2consensus``) as the representative
searched — UniRef30's representatives are the consensus sequences of its HHblits cluster
profiles, which carry the cluster's variation where one member would not — and,
optionally, ``createindex`` as ColabFold's setup indexes its databases. Each step is skipped where its output is already complete,
so an interrupted build resumes.

:func:`is_expandable` is what the MSA step asks of a staged database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

#: UniRef30: clusters of UniRef100 at 30 % sequence identity
MIN_SEQ_ID = 0.3
#: alignments covering at least 80 % of both sequences (``--cov-mode 0``), as Uniclust
COVERAGE = 0.8
#: the parts besides ``<name>`` itself that make a database expandable
EXPANDABLE_SUFFIXES = ("_seq", "_aln")
#: the file beside ``<name>`` that records how :func:`build` made it
BUILD_RECORD_SUFFIX = ".build.json"
#: the clusters' profiles, from which the representatives' consensus is made (removed once
#: the build is done: the search reads the consensus)
PROFILE_SUFFIX = "_profile"


class BuildError(RuntimeError):
    """An mmseqs command of the build failed (the message says which)."""


def binary_has_gpu(help_text: str) -> bool:
    """``mmseqs -h`` of an MMseqs2 GPU build (release 16+ with CUDA) lists ``gpuserver``
    (the test ColabFold's setup_databases.sh makes)."""
    return "gpuserver" in help_text


def is_expandable(db: Path) -> bool:
    """``db`` exists with its ``_seq`` members and ``_aln`` alignments (ColabFold's layout)."""
    return all(Path(f"{db}{suffix}.dbtype").is_file() for suffix in ("", *EXPANDABLE_SUFFIXES))


def _complete(db: Path) -> bool:
    return Path(f"{db}.dbtype").is_file() and Path(f"{db}.index").is_file()


def _run(argv: list[str], *, what: str) -> None:
    # one data file per database, not one per thread: the staged copy is a plain set of files
    env = {**os.environ, "MMSEQS_FORCE_MERGE": "1"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise BuildError(f"mmseqs {what} failed (exit {proc.returncode}): {' | '.join(tail)}")


def steps(
    fasta: Path,
    db: Path,
    tmp: Path,
    *,
    executable: str,
    threads: int,
    min_seq_id: float = MIN_SEQ_ID,
    coverage: float = COVERAGE,
    index: bool = False,
) -> list[tuple[str, Path, list[str]]]:
    """The build as (step name, the output that marks it done, argv), in order."""
    seq, seq_h, aln, clusters, profile = (
        Path(f"{db}_seq"),
        Path(f"{db}_seq_h"),
        Path(f"{db}_aln"),
        Path(f"{db}_clu"),
        Path(f"{db}{PROFILE_SUFFIX}"),
    )
    threads_args = ["--threads", str(max(1, threads)), "-v", "1"]
    plan = [
        ("createdb", seq, [executable, "createdb", str(fasta), str(seq), "-v", "1"]),
        (
            "cluster",
            clusters,
            [
                executable,
                "cluster",
                str(seq),
                str(clusters),
                str(tmp / "cluster"),
                "--min-seq-id",
                str(min_seq_id),
                "-c",
                str(coverage),
                "--cov-mode",
                "0",
                *threads_args,
            ],
        ),
        (
            "align",
            aln,
            # every member, with its backtrace: -e inf keeps those the clustering took in
            [executable, "align", str(seq), str(seq), str(clusters), str(aln), "-a", "-e", "inf"]
            + threads_args,
        ),
        (
            # each cluster's profile from its representative's alignments to every member
            "result2profile",
            profile,
            [executable, "result2profile", str(seq), str(seq), str(aln), str(profile)]
            + ["--e-profile", "inf", *threads_args],
        ),
        (
            # the searched representatives: the profiles' consensus sequences, as UniRef30's
            # are the consensus of its HHblits cluster profiles
            "profile2consensus",
            db,
            [executable, "profile2consensus", str(profile), str(db), *threads_args],
        ),
        (
            "createsubdb_h",
            Path(f"{db}_h"),
            [executable, "createsubdb", str(clusters), str(seq_h), f"{db}_h", "-v", "1"],
        ),
    ]
    if index:
        plan.append(
            (
                "createindex",
                Path(f"{db}.idx"),
                [executable, "createindex", str(db), str(tmp / "index"), *threads_args],
            )
        )
    return plan


def build(
    fasta: Path,
    db: Path,
    *,
    executable: str | None = None,
    threads: int = 1,
    min_seq_id: float = MIN_SEQ_ID,
    coverage: float = COVERAGE,
    index: bool = False,
) -> dict:
    """Make the expandable database ``db`` (and its parts) from ``fasta``; returns the
    build record (also written to ``<db>.build.json``), with each step's seconds — only
    the steps run now; a resumed build keeps the earlier run's seconds."""
    executable = executable or shutil.which("mmseqs")
    if not executable:
        raise BuildError("mmseqs not found: apt-get install mmseqs2")
    db = Path(db)
    db.parent.mkdir(parents=True, exist_ok=True)
    record_path = Path(f"{db}{BUILD_RECORD_SUFFIX}")
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    record.update(
        {
            "fasta": str(fasta),
            "min_seq_id": min_seq_id,
            "coverage": coverage,
            "threads": threads,
        }
    )
    tmp = Path(f"{db}.tmp")
    plan = steps(
        Path(fasta),
        db,
        tmp,
        executable=executable,
        threads=threads,
        min_seq_id=min_seq_id,
        coverage=coverage,
        index=index,
    )
    # the seconds of this plan's steps only (a build made by an older plan had others)
    names = {name for name, _, _ in plan}
    seconds = {k: v for k, v in (record.get("seconds") or {}).items() if k in names}
    record["seconds"] = seconds
    for name, output, argv in plan:
        if (output.is_file() if name == "createindex" else _complete(output)) and name in seconds:
            continue
        if name == "result2profile" and _complete(db) and "profile2consensus" in seconds:
            continue  # its profile was removed once the consensus was made
        if _complete(output) and name != "createindex":
            _run([executable, "rmdb", str(output), "-v", "1"], what=f"rmdb {output.name}")
        tmp.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        _run(argv, what=name)
        seconds[name] = round(time.perf_counter() - started, 2)
        record_path.write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)
    for part in Path(db).parent.glob(f"{Path(db).name}{PROFILE_SUFFIX}*"):  # and its _h
        part.unlink()
    record["representative_sequences"] = "consensus"
    record["representatives"] = _count(db)
    record["members"] = _count(Path(f"{db}_seq"))
    record_path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _count(db: Path) -> int:
    with open(f"{db}.index") as handle:
        return sum(1 for _ in handle)
