"""Run every foldline benchmark on this machine, print one table, write bench/results/all.json.

Each benchmark runs as its own process (``bench/bench_*.py``), one after another so they
do not compete for the cores, and writes its own JSON under ``bench/results/``; this
script reads those back and summarises them against the targets of the speed-and-cost
issue. Benchmarks are not tests: nothing here fails on a slow number.

    python bench/run.py            # everything (about 5-8 minutes on 2 cores)
    python bench/run.py --only start analysis
    python bench/run.py --only mmseqs   # MMseqs2 vs jackhmmer, 1,000,000 sequences
    python bench/run.py --only screen   # a 100-sequence screening drop, local mode

``jackhmmer`` (Debian package ``hmmer``) is needed for the MSA comparison; without it
that benchmark reports foldline's own rows only.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from machine import cpu_model  # bench/machine.py (scripts run from bench/)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"

#: name -> (script, arguments, result file)
BENCHMARKS: dict[str, tuple[str, list[str], str]] = {
    "start": ("bench_start.py", ["--samples", "7"], "start.json"),
    "analysis": ("bench_analysis.py", ["--repeats", "3"], "analysis.json"),
    "msa": (
        "bench_msa.py",
        ["--cpus", str(min(os.cpu_count() or 2, 2)), "--repeats", "3"],
        "msa.json",
    ),
    "local": ("bench_local.py", [], "local.json"),
    "burst": ("bench_burst.py", ["--uploads", "1000"], "burst.json"),
    "screen": ("bench_screen.py", ["--records", "100"], "screen.json"),
    "mmseqs": (
        "bench_mmseqs.py",
        ["--cpus", str(min(os.cpu_count() or 2, 2)), "--queries", "32"],
        "mmseqs.json",
    ),
}
#: benchmarks that need longer than --timeout: the mmseqs one generates its 1,000,000-
#: sequence database, clusters and indexes it on its first run (most of an hour on 2
#: shared cores); the screen one folds 100 sequences through the local mode
MIN_TIMEOUT = {"mmseqs": 7200.0, "screen": 3600.0}


def _rows(name: str, r: dict) -> list[tuple[str, str, str]]:
    """(measure, result, target) rows for one benchmark's JSON."""
    if name == "start":
        rows = r["rows"]
        return [
            (
                "start path: bare boto3 handler (cold import + call)",
                f"{rows['bare boto3 handler']['median_s']:.3f} s",
                "",
            ),
            (
                "start path: foldline start function (.pyc shipped)",
                (
                    f"{rows['foldline start function (.pyc shipped)']['median_s']:.3f} s "
                    f"= {r['ratio_foldline_over_bare']:.2f}x bare"
                ),
                "<= 1.5x",
            ),
            (
                "start path: foldline without .pyc",
                (
                    f"{rows['foldline start function (no .pyc)']['median_s']:.3f} s "
                    f"= {r['ratio_no_pyc_over_bare']:.2f}x bare"
                ),
                "",
            ),
            (
                "heavy imports (numpy, sagemaker, X-Ray...)",
                (
                    f"start: {', '.join(r['heavy_modules_start']) or 'none'}; "
                    f"notify: {', '.join(r['heavy_modules_notify']) or 'none'}"
                ),
                "none",
            ),
        ]
    if name == "analysis":
        return [
            (
                "analysis, two ~1,000-residue models (cold, incl. imports)",
                f"{r['median_cold_s']:.2f} s, peak {r['peak_rss_mb']:.0f} MB",
                f"<= {r['target_s']} s, <= {r['target_mb']} MB",
            )
        ]
    if name == "msa":
        one = r["one_database"]
        out = []
        if "jackhmmer (HMMER binary)" in one:
            out.append(
                (
                    "local MSA, one database: jackhmmer binary",
                    f"{one['jackhmmer (HMMER binary)']['median_s']:.2f} s",
                    "",
                )
            )
        out.append(
            (
                "local MSA, one database: foldline pyhmmer (FTZ on)",
                f"{one['foldline pyhmmer, FTZ on']['median_s']:.2f} s"
                + (
                    f" = {r['ratio_foldline_over_jackhmmer']:.2f}x jackhmmer"
                    if "ratio_foldline_over_jackhmmer" in r
                    else ""
                ),
                "<= 1.0x",
            )
        )
        three = r["three_databases"]
        for label, row in three.items():
            at_once = "at once" in label
            ratio = r.get("ratio_three_at_once_over_jackhmmer") if at_once else None
            out.append(
                (
                    f"local MSA, three databases: {label}",
                    f"{row['median_s']:.2f} s"
                    + (f" = {ratio:.2f}x jackhmmer one after another" if ratio else ""),
                    "< 1.0x (fastest)" if at_once else "",
                )
            )
        hits = r["hits"]
        same = hits.get("same_rows_as_jackhmmer", "n/a")
        if "three_databases_at_once_same_as_jackhmmer" in hits:
            same = f"{same} (three at once: {hits['three_databases_at_once_same_as_jackhmmer']})"
        out.append(("local MSA hits identical to jackhmmer's", str(same), "True"))
        return out
    if name == "local":
        c, e = r["msa_cache"], r["e2e"]
        miss, hit, copy = c["miss"], c["hit"], c["copy"]
        return [
            (
                "MSA cache miss: execution start -> inference start (local)",
                (
                    f"{miss['execution_to_inference_start_s']:.2f} s (from the upload "
                    f"{miss['upload_to_inference_start_s']:.2f} s)"
                ),
                "",
            ),
            (
                "MSA cache hit, SageMaker step cache (no MSA job)",
                (
                    f"{hit['execution_to_inference_start_s']:.3f} s = "
                    f"{c['speedup_execution_to_inference_start']:.0f}x faster (from the upload "
                    f"{hit['upload_to_inference_start_s']:.2f} s = "
                    f"{c['speedup_upload_to_inference_start']:.1f}x)"
                ),
                ">= 100x",
            ),
            (
                "MSA cache hit, msa-cache/ copy (MSA job, no search)",
                (
                    f"{copy['execution_to_inference_start_s']:.2f} s = "
                    f"{c['copy_speedup_execution_to_inference_start']:.1f}x faster"
                ),
                "",
            ),
            (
                "local end-to-end demo (foldline local run, 1 file)",
                (
                    f"{e['wall_s']:.1f} s wall, step jobs {e['step_jobs_s']:.1f} s, orchestration "
                    f"{e['orchestration_s']:.1f} s ({100 * e['orchestration_share']:.0f} %)"
                ),
                "",
            ),
        ]
    if name == "screen":
        searches = r["searches"]
        return [
            (
                f"screening drop, {r['drop']['records']} records through the local mode",
                (
                    f"{r['members']} runs ({r['drop']['repeats']} repeats, "
                    f"{r['drop']['bad']} refused) in {r['wall_s']:.0f} s: {r['lost']} lost, "
                    f"{r['duplicated_executions'] + r['duplicated_records']} duplicated, "
                    f"peak {r['peak_executing']} executing (cap {r['cap']}), "
                    f"{r['summary_notices']} summary notice"
                ),
                "0 lost, 0 duplicated, 1 summary",
            ),
            (
                "screening drop: MSA searches",
                (
                    f"{searches['total']} for {searches['unique_sequences']} distinct sequences "
                    f"(at most {searches['max_per_key']} per key)"
                ),
                "each searched once",
            ),
        ]
    if name == "mmseqs":
        jack, mm, per = r["jackhmmer"], r["mmseqs"], r["per_query_s"]
        clustered = r["clustered_database"]
        setting = f"{r['queries']['count']} queries, {r['database']['sequences']:,} sequences"
        rows = [
            (
                f"MSA search, {setting}: jackhmmer (AlphaFold flags), flat database",
                f"{jack['wall_s']:.1f} s, {jack['cpu_s']:.1f} s CPU ({per['jackhmmer']:.2f} s per query)",
                "",
            ),
            (
                (
                    f"MSA search, {setting} clustered at {clustered['min_seq_id']:.0%} into "
                    f"{clustered['representatives']:,}: MMseqs2 (ColabFold protocol, indexed)"
                ),
                (
                    f"{mm['wall_s']:.1f} s = {r['speedup_vs_jackhmmer']:.1f}x faster "
                    f"({r['cpu_ratio_vs_jackhmmer']:.1f}x in CPU time: {mm['cpu_s']:.1f} s); "
                    f"fixed {per['mmseqs_fixed']:.1f} s + {per['mmseqs_marginal']:.2f} s per query"
                ),
                ">= 20x",
            ),
            (
                "MMseqs2 recall of jackhmmer's hits with E < 1e-3, after expansion",
                (
                    f"{r['recall_vs_jackhmmer']:.3f} (in the final MSA "
                    f"{r['recall_vs_jackhmmer_in_msa']:.3f})"
                ),
                ">= 0.8",
            ),
            (
                "one-off setup (ColabFold's is too): " + " / ".join(r["setup_s"]),
                " / ".join(f"{v:.0f} s" for v in r["setup_s"].values()),
                "",
            ),
        ]
        if "mmseqs_flat" in r:
            flat = r["mmseqs_flat"]
            rows.append(
                (
                    f"for reference, MSA search, {setting}: MMseqs2 over the flat database",
                    (
                        f"{flat['wall_s']:.1f} s = {flat['speedup_vs_jackhmmer']:.1f}x "
                        f"({flat['cpu_ratio_vs_jackhmmer']:.1f}x CPU), recall "
                        f"{flat['recall_vs_jackhmmer']:.3f}"
                    ),
                    "",
                )
            )
        return rows
    if name == "burst":
        cap = (r.get("config") or {}).get("cap")
        started = r.get("seconds_until_all_started")
        return [
            (
                "burst: uploads through the real start function",
                (
                    f"{r['uploads']} uploads, all started in "
                    f"{started if started is not None else 'n/a'} s, peak {r['peak_concurrent']} "
                    f"executing (cap {cap}), {r['lost']} lost, {r['duplicated']} duplicated"
                ),
                "0 lost, 0 duplicated, peak <= cap",
            )
        ]
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=list(BENCHMARKS), default=None)
    parser.add_argument("--timeout", type=float, default=400, help="seconds per benchmark")
    args = parser.parse_args(argv)
    chosen = args.only or list(BENCHMARKS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    summary: dict[str, dict] = {}
    started = time.perf_counter()
    for name in chosen:
        script, extra, result_file = BENCHMARKS[name]
        path = ROOT / "bench" / script
        if not path.is_file():
            summary[name] = {"skipped": f"{script} is not in bench/"}
            continue
        if name == "msa" and shutil.which("jackhmmer") is None:
            print("note: jackhmmer not on PATH (apt-get install -y hmmer): MSA rows without it")
        print(f"== {name}: python bench/{script} {' '.join(extra)}", flush=True)
        t0 = time.perf_counter()
        try:
            limit = max(args.timeout, MIN_TIMEOUT.get(name, 0.0))
            proc = subprocess.run(
                [sys.executable, str(path), *extra],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=limit,
                check=False,
            )
        except subprocess.TimeoutExpired:
            summary[name] = {"error": f"timed out after {limit:.0f} s"}
            continue
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            summary[name] = {"error": (proc.stderr or proc.stdout)[-1500:], "seconds": seconds}
            print(f"   failed after {seconds:.0f} s", flush=True)
            continue
        result = json.loads((RESULTS / result_file).read_text())
        summary[name] = {"seconds": round(seconds, 1), "result": result}
        print(f"   done in {seconds:.0f} s", flush=True)

    rows = [
        row
        for name in chosen
        if "result" in summary[name]
        for row in _rows(name, summary[name]["result"])
    ]
    machine = (
        f"{cpu_model()}, {os.cpu_count()} cores visible, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
    date = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    total = time.perf_counter() - started
    width = max(len(r[0]) for r in rows) if rows else 10
    lines = [
        f"foldline benchmarks — {date} — {machine} — {total:.0f} s in all",
        "",
        f"| {'measure':<{width}} | result | target |",
        f"|{'-' * (width + 2)}|---|---|",
    ]
    lines += [f"| {m:<{width}} | {res} | {target} |" for m, res, target in rows]
    for name in chosen:
        if "result" not in summary[name]:
            lines.append(
                f"| {name}: not measured | {next(iter(summary[name].values()))[:200]!s} | |"
            )
    print("\n" + "\n".join(lines))
    (RESULTS / "all.json").write_text(
        json.dumps(
            {
                "date": date,
                "machine": machine,
                "total_s": round(total, 1),
                "table": lines,
                "benchmarks": summary,
            },
            indent=2,
        )
        + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
