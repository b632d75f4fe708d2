"""Local MSA benchmark: foldline's pyhmmer program against HMMER's ``jackhmmer``.

Same query (the bundled xylanase), same database, same flags (AlphaFold's), same core
count. The database (100,000 real protein sequences) is built from the bundled example
databases' 3,040 real homologues plus pyhmmer's bundled real proteome (2,100 proteins of
*938293.PRJEB85.HG003687*, repeated under new names to reach the size): most sequences
are non-homologues that the filters drop, as in a real database.

Measured:
- one database: ``jackhmmer --cpu N`` vs foldline (FTZ/DAZ on), foldline with FTZ off,
  and pyhmmer's own ``hmmer.jackhmmer`` as installed; hits compared with jackhmmer's;
- three databases (the same 100,000 sequences split 50/30/20 %, like
  uniref90/mgnify/small_bfd): jackhmmer one after the other (as AlphaFold runs them)
  vs foldline one after the other vs foldline all at once (``run_msa_search``'s way),
  whose alignments are compared with jackhmmer's database by database.

Each repeat runs every case once, in turn (the machine's load changes while it runs).

Run: ``python bench/bench_msa.py [--cpus 2] [--repeats 3] [--sequences 100000]``.
Prints a table and writes ``bench/results/msa.json``. Needs ``jackhmmer`` on PATH
(Debian: ``apt-get install hmmer``); without it the jackhmmer rows are skipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyhmmer
from Bio import SeqIO
from machine import cpu_model  # bench/machine.py (scripts run from bench/)
from pyhmmer import easel

from foldline.steps.engines import fpu
from foldline.steps.engines.alignments import read_stockholm
from foldline.steps.engines.msa_search import (
    JACKHMMER_FLAGS,
    JACKHMMER_OPTIONS,
    jackhmmer_to_stockholm,
    jackhmmer_to_stockholms,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
QUERY = EXAMPLES / "xylanase.fasta"
HOMOLOGUES = (
    "uniref90/uniref90.fasta",
    "mgnify/mgy_clusters_2022_05.fa",
    "small_bfd/bfd-first_non_consensus_sequences.fasta",
)
PROTEOME = Path(pyhmmer.__file__).parent / "tests" / "data" / "seqs" / "938293.PRJEB85.HG003687.faa"
SPLIT = (("uniref90", 0.5), ("mgnify", 0.3), ("small_bfd", 0.2))


def build_databases(folder: Path, total: int) -> tuple[Path, dict[str, Path]]:
    """One FASTA of ``total`` sequences and the same sequences split in three."""
    homologues = [
        (r.description, str(r.seq))
        for name in HOMOLOGUES
        for r in SeqIO.parse(EXAMPLES / "databases" / name, "fasta")
    ]
    proteome = [(r.id, str(r.seq).rstrip("*")) for r in SeqIO.parse(PROTEOME, "fasta")]
    records = list(homologues)
    copy = 0
    while len(records) < total:
        for ident, seq in proteome:
            if len(records) >= total:
                break
            records.append((f"{ident}_copy{copy} proteome {PROTEOME.stem}", seq))
        copy += 1
    # spread the homologues through the file, as in a real database
    step = max(1, len(records) // max(1, len(homologues)))
    ordered = records[len(homologues) :]
    for i, record in enumerate(homologues):
        ordered.insert(min(len(ordered), i * step), record)
    whole = folder / "bench_db.fasta"
    _write(whole, ordered)
    parts, start = {}, 0
    for name, share in SPLIT:
        count = round(total * share) if name != SPLIT[-1][0] else total - start
        parts[name] = folder / f"{name}.fasta"
        _write(parts[name], ordered[start : start + count])
        start += count
    return whole, parts


def _write(path: Path, records) -> None:
    with open(path, "w") as handle:
        handle.writelines(f">{header}\n{seq}\n" for header, seq in records)


def _cpu_seconds() -> float:
    """CPU time of this process (all threads) and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(repeats: int, cases: dict) -> dict[str, dict]:
    """Wall and CPU seconds of each case (name -> function): CPU time shows the work done
    even when other processes share the cores (wall time on a busy machine measures the
    neighbours too). Each repeat runs every case once, in turn, so that a change in the
    machine's load hits all cases alike (one case's repeats after another's would put a
    busy minute on one case only)."""
    walls = {name: [] for name in cases}
    cpus = {name: [] for name in cases}
    loads = {name: [] for name in cases}
    for _ in range(repeats):
        for name, func in cases.items():
            cpu0, start = _cpu_seconds(), time.perf_counter()
            func()
            walls[name].append(time.perf_counter() - start)
            cpus[name].append(_cpu_seconds() - cpu0)
            loads[name].append(os.getloadavg()[0])
    return {
        name: {
            "median_s": round(statistics.median(walls[name]), 3),
            "min_s": round(min(walls[name]), 3),
            "cpu_median_s": round(statistics.median(cpus[name]), 3),
            "runs_s": [round(r, 3) for r in walls[name]],
            "load_average": round(statistics.median(loads[name]), 2),
        }
        for name in cases
    }


def _jackhmmer(db: Path, out: Path, cpus: int) -> None:
    subprocess.run(
        [
            "jackhmmer",
            "-o",
            os.devnull,
            "-A",
            str(out),
            "--noali",
            *JACKHMMER_FLAGS.split(),
            "--cpu",
            str(cpus),
            str(QUERY),
            str(db),
        ],
        check=True,
    )


def _stock_pyhmmer(db: Path, cpus: int) -> None:
    """pyhmmer's own jackhmmer as installed (no FTZ, whole database in memory)."""
    alphabet = easel.Alphabet.amino()
    with easel.SequenceFile(str(QUERY), digital=True, alphabet=alphabet) as handle:
        query = handle.read()
    with easel.SequenceFile(str(db), digital=True, alphabet=alphabet) as handle:
        targets = handle.read_block()
    options = {k: v for k, v in JACKHMMER_OPTIONS.items()}
    for result in pyhmmer.hmmer.jackhmmer([query], targets, max_iterations=1, cpus=cpus, **options):
        result.hits.to_msa(alphabet)


def _query() -> tuple[str, str]:
    record = next(SeqIO.parse(QUERY, "fasta"))
    return record.id, str(record.seq)


def _concurrent(parts: dict[str, Path], cpus: int, work: Path) -> None:
    """All databases at once, as ``run_msa_search`` searches them."""
    name, sequence = _query()
    jackhmmer_to_stockholms(
        name, sequence, {path: work / f"{db}_conc.sto" for db, path in parts.items()}, cpus
    )


def run(
    cpus: int = 2, repeats: int = 3, sequences: int = 100_000, workdir: Path | None = None
) -> dict:
    own_tmp = workdir is None
    folder = Path(tempfile.mkdtemp(prefix="foldline-bench-msa-")) if own_tmp else workdir
    folder.mkdir(parents=True, exist_ok=True)
    try:
        whole, parts = build_databases(folder, sequences)
        name, sequence = _query()
        has_jackhmmer = shutil.which("jackhmmer") is not None
        ours_sto, theirs_sto = folder / "ours.sto", folder / "theirs.sto"

        cases = {}
        if has_jackhmmer:
            cases["jackhmmer (HMMER binary)"] = lambda: _jackhmmer(whole, theirs_sto, cpus)
        cases["foldline pyhmmer, FTZ on"] = lambda: jackhmmer_to_stockholm(
            name, sequence, whole, ours_sto, cpus
        )
        cases["foldline pyhmmer, FTZ off"] = lambda: jackhmmer_to_stockholm(
            name, sequence, whole, folder / "off.sto", cpus, flush_denormals=False
        )
        cases["pyhmmer.hmmer.jackhmmer as installed"] = lambda: _stock_pyhmmer(whole, cpus)
        rows: dict[str, dict] = _timed(repeats, cases)

        comparison = {}
        ours = read_stockholm(ours_sto)
        off = read_stockholm(folder / "off.sto")
        comparison["ftz_on_off_identical_rows"] = ours.names == off.names and ours.rows == off.rows
        comparison["rows_foldline"] = len(ours)
        if has_jackhmmer:
            theirs = read_stockholm(theirs_sto)
            comparison["rows_jackhmmer"] = len(theirs)
            comparison["same_rows_as_jackhmmer"] = ours.names == theirs.names
            comparison["same_query_columns_as_jackhmmer"] = ours.query_columns_only() == [
                r.upper() for r in theirs.query_columns_only()
            ]

        cases = {}
        if has_jackhmmer:
            cases["jackhmmer, one database after another"] = lambda: [
                _jackhmmer(p, folder / f"{db}_jh.sto", cpus) for db, p in parts.items()
            ]
        cases["foldline, one database after another"] = lambda: [
            jackhmmer_to_stockholm(name, sequence, p, folder / f"{db}_seq.sto", cpus)
            for db, p in parts.items()
        ]
        cases["foldline, all databases at once"] = lambda: _concurrent(parts, cpus, folder)
        three: dict[str, dict] = _timed(repeats, cases)
        if has_jackhmmer:  # the databases searched at once give jackhmmer's hits too
            same = True
            for db in parts:
                at_once = read_stockholm(folder / f"{db}_conc.sto")
                theirs = read_stockholm(folder / f"{db}_jh.sto")
                same = (
                    same
                    and at_once.names == theirs.names
                    and (
                        at_once.query_columns_only()
                        == [r.upper() for r in theirs.query_columns_only()]
                    )
                )
            comparison["three_databases_at_once_same_as_jackhmmer"] = same

        result = {
            "benchmark": "local MSA: foldline pyhmmer vs HMMER jackhmmer",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "platform": platform.platform(),
                "processor": cpu_model(),
                "cores_visible": os.cpu_count(),
                "python": platform.python_version(),
            },
            "versions": {"pyhmmer": pyhmmer.__version__, "jackhmmer": _jackhmmer_version()},
            "cpus": cpus,
            "repeats": repeats,
            "query": f"{name} ({len(sequence)} aa)",
            "database": {
                "sequences": sequences,
                "homologues": 3040,
                "filler": f"{PROTEOME.name} (pyhmmer test data) repeated",
                "split": {db: share for db, share in SPLIT},
            },
            "flags": JACKHMMER_FLAGS,
            "flush_to_zero_supported": fpu.supported(),
            "one_database": rows,
            "hits": comparison,
            "three_databases": three,
        }
        jh = rows.get("jackhmmer (HMMER binary)")
        if jh:
            result["ratio_foldline_over_jackhmmer"] = round(
                rows["foldline pyhmmer, FTZ on"]["median_s"] / jh["median_s"], 2
            )
            result["ratio_three_at_once_over_jackhmmer"] = round(
                three["foldline, all databases at once"]["median_s"]
                / three["jackhmmer, one database after another"]["median_s"],
                2,
            )
        result["ftz_speedup"] = round(
            rows["foldline pyhmmer, FTZ off"]["median_s"]
            / rows["foldline pyhmmer, FTZ on"]["median_s"],
            2,
        )
        return result
    finally:
        if own_tmp:
            shutil.rmtree(folder, ignore_errors=True)


def _jackhmmer_version() -> str | None:
    if shutil.which("jackhmmer") is None:
        return None
    out = subprocess.run(["jackhmmer", "-h"], capture_output=True, text=True, check=False).stdout
    return next((line.strip("# ").strip() for line in out.splitlines() if "HMMER" in line), None)


def table(result: dict) -> str:
    lines = [
        (
            f"local MSA benchmark — {result['date']} — {result['machine']['processor']}, "
            f"{result['cpus']} threads each, median of {result['repeats']}"
        ),
        (
            f"query {result['query']}; database {result['database']['sequences']:,} "
            f"sequences; flags {result['flags']}"
        ),
        "",
    ]
    header = f"{'median s':>9} {'min s':>8} {'CPU s':>8} {'load':>6}"
    fmt = lambda name, row: (
        f"{name:<48} {row['median_s']:>9.2f} {row['min_s']:>8.2f} "
        f"{row['cpu_median_s']:>8.2f} {row['load_average']:>6.1f}"
    )
    lines.append(f"{'one database':<48} {header}")
    for name, row in result["one_database"].items():
        lines.append(fmt(name, row))
    if "ratio_foldline_over_jackhmmer" in result:
        lines.append(
            f"{'ratio foldline / jackhmmer':<48} {result['ratio_foldline_over_jackhmmer']:>9.2f}"
        )
    lines.append(f"{'FTZ speed-up (off / on)':<48} {result['ftz_speedup']:>9.2f}")
    lines.append(f"hits: {json.dumps(result['hits'])}")
    lines.append("")
    lines.append(f"{'three databases (50/30/20 %)':<48} {header}")
    for name, row in result["three_databases"].items():
        lines.append(fmt(name, row))
    if "ratio_three_at_once_over_jackhmmer" in result:
        lines.append(
            f"{'ratio all at once / jackhmmer one after another':<48} "
            f"{result['ratio_three_at_once_over_jackhmmer']:>9.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sequences", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "msa.json")
    args = parser.parse_args(argv)
    result = run(args.cpus, args.repeats, args.sequences, args.workdir)
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
