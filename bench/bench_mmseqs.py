"""MMseqs2 (ColabFold's protocol, foldline's mmseqs2 engine) against HMMER's ``jackhmmer``.

Same queries, same database, same cores:

- database: ``simulated_proteins.py``'s 1,000,000 proteins grown by simulated evolution
  from a real bacterial proteome (seeded; generated once into ``bench/.cache``);
- queries: ``--queries`` of the proteome's real proteins (seeded choice), which are not
  in the database themselves: their homologues are their families' members;
- ``jackhmmer`` (Debian's hmmer) with AlphaFold's flags (one iteration, its F1-F3
  filters), ``-E`` widened from 1e-4 to 1e-3 so that every hit with E < 1e-3 is listed,
  all queries in one file (``-A`` written, as AlphaFold writes it);
- MMseqs2 as the engine runs it over ColabFold's kind of database
  (``foldline.steps.engines.mmseqs_search.search_database``: search against the cluster
  representatives, ``expandaln`` into their members, ``align``, filterresult,
  result2msa), all queries as one batch, over the SAME sequences clustered as UniRef30 is
  (30 % identity, 80 % coverage: ``foldline.databases.mmseqs_expandable.build``) with
  the representatives' ``createindex`` index. The clustering, alignment and index are
  ColabFold's one-off database setup: built once into ``bench/.cache`` and timed apart;
- MMseqs2 again with a single query, which splits its time into a fixed part (loading
  the index, starting its programs) and a part per query;
- with ``--flat``, MMseqs2 over the flat (unclustered) database too, for reference.

Recall: the fraction of jackhmmer's hits with E < 1e-3 (per query, pooled) that MMseqs2
reports after expansion and realignment (before ColabFold's MSA filters), and that its
final MSA keeps. Family recall: the fraction of each
query's simulated family that each tool finds (a truth neither tool was tuned on).

Run: ``python bench/bench_mmseqs.py [--queries 32] [--cpus 2] [--sequences 1000000] [--flat]``;
writes ``bench/results/mmseqs.json``. Needs ``jackhmmer`` and ``mmseqs`` on PATH
(Debian: ``apt-get install hmmer mmseqs2``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shlex
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import simulated_proteins  # bench/simulated_proteins.py (scripts run from bench/)
from machine import cpu_model  # bench/machine.py

from foldline.databases import mmseqs_expandable
from foldline.steps.engines import mmseqs_search
from foldline.steps.engines.msa_search import JACKHMMER_FLAGS

ROOT = Path(__file__).resolve().parents[1]
SIGNIFICANT = 1e-3
#: AlphaFold's jackhmmer flags with the reporting threshold widened to SIGNIFICANT
JACKHMMER_BENCH_FLAGS = JACKHMMER_FLAGS.replace(" -E 0.0001 ", " -E 0.001 ")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(func) -> tuple[object, float, float]:
    cpu0, t0 = _children_cpu(), time.perf_counter()
    result = func()
    return result, time.perf_counter() - t0, _children_cpu() - cpu0


def choose_queries(count: int, seed: int) -> list[simulated_proteins.Root]:
    roots = simulated_proteins.real_roots()
    rng = np.random.default_rng(seed)
    return [roots[i] for i in sorted(rng.choice(len(roots), size=count, replace=False))]


def run_jackhmmer(queries: Path, db: Path, work: Path, cpus: int) -> dict[str, dict[str, float]]:
    """Per query: target name -> best (per-sequence) E-value, for E < SIGNIFICANT."""
    table = work / "jackhmmer.tbl"
    subprocess.run(
        [
            "jackhmmer",
            "--cpu",
            str(cpus),
            *JACKHMMER_BENCH_FLAGS.split(),
            "--noali",
            "--tblout",
            str(table),
            "-A",
            str(work / "jackhmmer.sto"),
            "-o",
            os.devnull,
            str(queries),
            str(db),
        ],
        check=True,
    )
    hits: dict[str, dict[str, float]] = defaultdict(dict)
    for line in table.read_text().splitlines():
        if line.startswith("#"):
            continue
        fields = line.split()
        target, query, evalue = fields[0], fields[2], float(fields[4])
        if evalue < SIGNIFICANT:
            hits[query][target] = min(evalue, hits[query].get(target, 1.0))
    return hits


def mmseqs_hits(work: Path, target: Path, result: str) -> dict[str, dict[str, float]]:
    """Hits of one of the search's result databases (``work/<result>``, before the MSA
    filters): query name -> target -> E-value."""
    out = work / f"{result}.m8"
    subprocess.run(
        [
            mmseqs_search.binary(),
            "convertalis",
            str(work / "qdb"),
            str(target),
            str(work / result),
            str(out),
            "--format-output",
            "query,target,evalue",
            "-v",
            "1",
        ],
        check=True,
    )
    hits: dict[str, dict[str, float]] = defaultdict(dict)
    for line in out.read_text().splitlines():
        query, name, evalue = line.split("\t")
        hits[query][name] = min(float(evalue), hits[query].get(name, 1.0))
    return hits


def _recall(reference: dict[str, dict[str, float]], found: dict[str, set[str]]) -> float:
    total = sum(len(v) for v in reference.values())
    kept = sum(len(set(v) & found.get(q, set())) for q, v in reference.items())
    return round(kept / total, 4) if total else float("nan")


def _family(name: str) -> str:
    return name.split("|sim", 1)[0]


def _index(executable: str, db: Path, tmp: Path, cpus: int) -> float:
    """``createindex`` of ``db`` unless it has one; seconds taken (0 when it had one)."""
    if mmseqs_search.has_index(db):
        return 0.0
    _, seconds, _ = _timed(
        lambda: subprocess.run(
            [executable, "createindex", str(db), str(tmp), "--threads", str(cpus), "-v", "1"],
            check=True,
        )
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return seconds


def _searched(
    name: str,
    queries,
    target: Path,
    hits_db: Path,
    result: str,
    work: Path,
    cpus: int,
    search_args: tuple[str, ...] = mmseqs_search.SEARCH_ARGS,
) -> dict:
    """One MMseqs2 search of all queries, then of one: times, hits and MSA rows."""
    executable = mmseqs_search.binary()
    batch = {q.name: q.sequence for q in queries}
    msas, wall, cpu = _timed(
        lambda: mmseqs_search.search_database(
            batch, target, work / name, cpus, executable=executable, search_args=search_args
        )
    )
    found = mmseqs_hits(work / name, hits_db, result)
    one = {queries[0].name: queries[0].sequence}
    _, wall1, cpu1 = _timed(
        lambda: mmseqs_search.search_database(
            one,
            target,
            work / f"{name}-one",
            cpus,
            executable=executable,
            search_args=search_args,
        )
    )
    kept = {
        q: {mmseqs_search._row_name(e.header)[0].rsplit("/", 1)[0] for e in entries[1:]}
        for q, entries in msas.items()
    }
    per_query = (wall - wall1) / max(1, len(queries) - 1)
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "one_query": {"wall_s": round(wall1, 2), "cpu_s": round(cpu1, 2)},
        "per_query_marginal_s": round(per_query, 2),
        "fixed_s": round(wall1 - per_query, 2),
        "hits": sum(len(v) for v in found.values()),
        "msa_rows": sum(len(v) for v in kept.values()),
        "_found": {q: set(v) for q, v in found.items()},
        "_found_significant": {
            q: {t for t, e in v.items() if e < SIGNIFICANT} for q, v in found.items()
        },
        "_kept": kept,
    }


def run(
    sequences: int,
    seed: int,
    query_count: int,
    cpus: int,
    flat: bool,
    search_args: tuple[str, ...] = mmseqs_search.SEARCH_ARGS,
) -> dict:
    cache = simulated_proteins.CACHE
    database = simulated_proteins.ensure(sequences, seed, cache)
    db_fasta = Path(database["path"])
    work = cache / "mmseqs-bench-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    queries = choose_queries(query_count, seed)
    query_fasta = work / "queries.fasta"
    query_fasta.write_text("".join(f">{q.name}\n{q.sequence}\n" for q in queries))
    executable = mmseqs_search.binary()

    # ColabFold's one-off setup: the same sequences clustered as UniRef30, indexed
    clustered = cache / "mmseqs-expandable" / db_fasta.stem / "db"
    build = mmseqs_expandable.build(
        db_fasta, clustered, executable=executable, threads=cpus, index=True
    )
    clustered_bytes = sum(p.stat().st_size for p in clustered.parent.iterdir() if p.is_file())

    load_before = os.getloadavg()
    jack, jack_s, jack_cpu = _timed(lambda: run_jackhmmer(query_fasta, db_fasta, work, cpus))
    load_mid = os.getloadavg()
    expanded = _searched(
        "clustered",
        queries,
        clustered,
        Path(f"{clustered}_seq"),
        "res_exp_realign",
        work,
        cpus,
        search_args,
    )
    load_after = os.getloadavg()
    runs = {"clustered": expanded}
    if flat:
        target = mmseqs_search.target_database(
            db_fasta, cache=cache / "mmseqs", executable=executable
        )
        flat_index_s = _index(executable, target, work / "flat-index-tmp", cpus)
        runs["flat"] = _searched("flat", queries, target, target, "res", work, cpus, search_args)
        runs["flat"]["createindex_s"] = round(flat_index_s, 1)
        load_after = os.getloadavg()

    family_sizes = defaultdict(int)
    with open(db_fasta) as handle:
        for line in handle:
            if line.startswith(">"):
                family_sizes[_family(line[1:].split()[0])] += 1

    def family_recall(hits: dict[str, set[str]]) -> float:
        total = sum(family_sizes[q.name] for q in queries)
        got = sum(sum(1 for t in hits.get(q.name, ()) if _family(t) == q.name) for q in queries)
        return round(got / total, 4)

    def summary(measured: dict) -> dict:
        public = {k: v for k, v in measured.items() if not k.startswith("_")}
        public.update(
            {
                "speedup_vs_jackhmmer": round(jack_s / measured["wall_s"], 2),
                "cpu_ratio_vs_jackhmmer": round(jack_cpu / measured["cpu_s"], 2),
                "recall_vs_jackhmmer": _recall(jack, measured["_found"]),
                "recall_vs_jackhmmer_in_msa": _recall(jack, measured["_kept"]),
                "recall_vs_jackhmmer_mmseqs_e_below_1e-3": _recall(
                    jack, measured["_found_significant"]
                ),
                "family_recall": family_recall(measured["_found"]),
            }
        )
        return public

    mmseqs = summary(expanded)
    result = {
        "benchmark": (
            "MSA search: MMseqs2 (ColabFold protocol over the database clustered as UniRef30) "
            "vs jackhmmer (AlphaFold flags) over the flat database"
        ),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": cpu_model(),
            "cores_visible": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after_jackhmmer": [round(x, 2) for x in load_mid],
            "load_average_after": [round(x, 2) for x in load_after],
        },
        "versions": {
            "mmseqs": mmseqs_search.version(executable),
            "jackhmmer": _jackhmmer_version(),
        },
        "cpus": cpus,
        "database": {
            k: database[k]
            for k in ("sequences", "residues", "seed", "families", "proteome", "sha256", "bytes")
        },
        "clustered_database": {
            "min_seq_id": build["min_seq_id"],
            "coverage": build["coverage"],
            "representatives": build["representatives"],
            "members": build["members"],
            "bytes_with_index": clustered_bytes,
        },
        "queries": {
            "count": query_count,
            "seed": seed,
            "lengths": [len(q.sequence) for q in queries],
            "names": [q.name for q in queries],
        },
        "settings": {
            "jackhmmer": JACKHMMER_BENCH_FLAGS,
            "mmseqs_search": " ".join(search_args),
            "mmseqs_search_is_colabfolds": search_args == mmseqs_search.SEARCH_ARGS,
            "mmseqs_expandaln": " ".join(mmseqs_search.EXPANDALN_ARGS),
            "mmseqs_align": " ".join(mmseqs_search.REALIGN_ARGS),
            "mmseqs_filterresult": " ".join(mmseqs_search.FILTERRESULT_ARGS),
            "mmseqs_result2msa": " ".join(mmseqs_search.RESULT2MSA_ARGS),
            "mmseqs_index": mmseqs_search.has_index(clustered),
        },
        "setup_s": {k: round(v, 1) for k, v in build["seconds"].items()},
        "jackhmmer": {
            "wall_s": round(jack_s, 2),
            "cpu_s": round(jack_cpu, 2),
            "hits_significant": sum(len(v) for v in jack.values()),
            "family_recall": family_recall({q: set(v) for q, v in jack.items()}),
        },
        "mmseqs": mmseqs,
        "speedup_vs_jackhmmer": mmseqs["speedup_vs_jackhmmer"],
        "cpu_ratio_vs_jackhmmer": mmseqs["cpu_ratio_vs_jackhmmer"],
        "recall_vs_jackhmmer": mmseqs["recall_vs_jackhmmer"],
        "recall_vs_jackhmmer_in_msa": mmseqs["recall_vs_jackhmmer_in_msa"],
        "per_query_s": {
            "jackhmmer": round(jack_s / query_count, 2),
            "mmseqs_marginal": mmseqs["per_query_marginal_s"],
            "mmseqs_fixed": mmseqs["fixed_s"],
        },
    }
    if "flat" in runs:
        result["mmseqs_flat"] = summary(runs["flat"])
    shutil.rmtree(work, ignore_errors=True)
    return result


def _jackhmmer_version() -> str | None:
    if shutil.which("jackhmmer") is None:
        return None
    out = subprocess.run(["jackhmmer", "-h"], capture_output=True, text=True, check=False).stdout
    return next((line.strip("# ").strip() for line in out.splitlines() if "HMMER" in line), None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sequences", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--queries", type=int, default=32)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument(
        "--flat",
        action="store_true",
        help="also search the flat (unclustered) database, indexed, for reference "
        "(its createindex takes minutes and 3.6 GB once)",
    )
    parser.add_argument(
        "--search-args",
        default=" ".join(mmseqs_search.SEARCH_ARGS),
        help="the MMseqs2 search's arguments instead of ColabFold's (a sensitivity sweep; "
        "write it to another --output)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "mmseqs.json")
    args = parser.parse_args(argv)
    for tool in ("jackhmmer", "mmseqs"):
        if shutil.which(tool) is None:
            print(f"{tool} is not on PATH (apt-get install hmmer mmseqs2)", file=sys.stderr)
            return 2
    search_args = tuple(shlex.split(args.search_args))
    if (
        "--num-iterations" not in search_args
        or int(search_args[search_args.index("--num-iterations") + 1]) < 2
    ):
        parser.error(
            "--search-args: ColabFold's protocol realigns the members to the query's profile, "
            "which a search makes from its second iteration on: give --num-iterations 2 or more"
        )
    result = run(
        args.sequences,
        args.seed,
        args.queries,
        args.cpus,
        args.flat,
        search_args,
    )
    print(json.dumps(result, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
