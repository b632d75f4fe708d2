"""Screening benchmark: one drop of 100 sequences through the local mode, as a user drops it.

The drop: ``--records`` records (default 100) read from the bundled UniRef90 database
(real sequences, 60-400 residues), of which ``--repeats`` repeat earlier ones (every
other one in lower case under another header, placed a few records after its original,
so both are in flight together) and ``--bad`` are DNA (refused on their own). It is
uploaded once with the tag ``Mode=screen`` to a fresh local cloud (``foldline local``'s
runtime: moto's server, the real start/analysis/notify functions, the real step
programs, the stack's default concurrency cap) and followed until every run has ended.

Written to ``bench/results/screen.json`` and printed:

- **lost**: records of the drop that did not end as a run (a member missing, or not
  final); **duplicated**: runs with more than one pipeline execution (SageMaker's own
  list of executions, by display name = run id) and records with two runs;
- **searches**: MSA searches per cache key (each search stores its MSAs under
  ``msa-cache/<key>/files/<the run that searched>/``), against the drop's distinct
  sequences; and the MSA jobs by what they did (searched, copied an entry a run in
  flight made, or reused by SageMaker's step cache: no job at all);
- **summary notices** of the campaign (the outbox);
- **peak executing**: the most executions running at once (from their start and end
  times), against the cap;
- wall time from the upload to the summary notice (every run ended), the process's peak
  memory (and the largest of its children's: the functions' processes, the step jobs),
  and the machine's load;
- how far behind the functions were then: the events still queued at the summary (the
  step-progress events the board shows, mostly) and the seconds until they were all
  handled.

Run: ``python bench/bench_screen.py [--records 100 --repeats 20 --bad 2]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import cpu_model  # bench/machine.py (scripts run from bench/)

DNA = "ATGGCGTACGTTAGCATCGATCGATCGGCTAGCTAGCATCG"


def make_drop(path: Path, records: int, repeats: int, bad: int) -> dict[str, int]:
    """Write the screening FASTA; returns what it holds."""
    from Bio import SeqIO

    from foldline.local.paths import DEFAULT_DATABASES

    source = SeqIO.parse(DEFAULT_DATABASES / "uniref90" / "uniref90.fasta", "fasta")
    distinct = [str(r.seq) for r in source if 60 <= len(r.seq) <= 400]
    wanted = records - repeats - bad
    if len(distinct) < wanted:
        raise SystemExit(f"the bundled database has {len(distinct)} usable sequences, not {wanted}")
    chosen = distinct[:wanted]
    drop: list[tuple[str, str]] = [(f"seq{i + 1:03d}", s) for i, s in enumerate(chosen)]
    for r in range(repeats):  # a repeat a few records after its original: both in flight
        original = (r * 7) % wanted
        seq = chosen[original] if r % 2 else chosen[original].lower()
        at = min(len(drop), original + 3 + r)
        drop.insert(at, (f"repeat{r + 1:02d}_of_seq{original + 1:03d}", seq))
    for b in range(bad):
        drop.insert((b + 1) * len(drop) // (bad + 1), (f"dna{b + 1}", DNA))
    path.write_text("".join(f">{name} screening benchmark\n{seq}\n" for name, seq in drop))
    return {
        "records": len(drop),
        "distinct": len({s.upper() for name, s in drop if not name.startswith("dna")}),
        "repeats": repeats,
        "bad": bad,
    }


def _peak(intervals: list[tuple[dt.datetime, dt.datetime]]) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak


#: the local runtime's process grows with the runs it holds (moto keeps every object in
#: memory); past this the benchmark stops measuring rather than starve a shared machine
MAX_RSS_GB = 8.0


def _rss_gb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e9


def _until_summarised(runtime, campaign_id: str, members: list, timeout: float):
    """Poll until every record's run is final and the campaign's summary is out (not until
    the runtime is idle: the step-progress events still queued then change no outcome)."""
    deadline = time.monotonic() + timeout
    final = ("Succeeded", "Failed", "Stopped", "Rejected")
    while True:
        campaign = runtime.campaign(campaign_id) or {}
        items = {m.run_id: runtime.run(m.run_id) for m in members}
        done = all((i or {}).get("status") in final for i in items.values())
        if done and campaign.get("summary_message_id"):
            time.sleep(2)  # the summary's e-mail file: the outbox polls every pass
            return items, campaign, None
        if _rss_gb() > MAX_RSS_GB:
            return items, campaign, f"stopped at {_rss_gb():.1f} GB resident"
        if time.monotonic() > deadline:
            return items, campaign, f"timed out after {timeout:.0f} s"
        time.sleep(2)


def _until_idle(runtime, timeout: float) -> float | None:
    """Seconds until nothing is queued or running (None: not within ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if runtime.idle():
            return round(time.monotonic() - started, 1)
        time.sleep(1)
    return None


def measure(work: Path, drop: Path, timeout: float) -> dict:
    from foldline.local.outbox import read_notice
    from foldline.local.paths import DEFAULT_DATABASES
    from foldline.local.runtime import LocalRuntime
    from foldline.spec import layout
    from foldline.spec.screening import MODE_TAG, SCREEN_MODE

    runtime = LocalRuntime(work, databases=DEFAULT_DATABASES)
    runtime.start()
    try:
        started = time.monotonic()
        screen = runtime.upload(drop, tags={MODE_TAG: SCREEN_MODE})
        members = runtime.screen_members(screen, timeout=timeout)
        split_s = time.monotonic() - started
        items, campaign, stopped = _until_summarised(runtime, screen.run_id, members, timeout)
        wall_s = time.monotonic() - started
        # how far behind the functions were when the last run ended: the events still
        # queued then (step progress for the board, mostly) and how long they took
        queued_at_summary = runtime.dispatcher.pending()
        idle_after_s = _until_idle(runtime, timeout=600)
        sagemaker = runtime.cloud.client("sagemaker")
        (pipeline,) = runtime.cloud.stack.pipelines()
        summaries = sagemaker.list_pipeline_executions(PipelineName=pipeline.name)[
            "PipelineExecutionSummaries"
        ]
        intervals = []
        for summary in summaries:
            described = sagemaker.describe_pipeline_execution(
                PipelineExecutionArn=summary["PipelineExecutionArn"]
            )
            intervals.append((described["CreationTime"], described["LastModifiedTime"]))
        s3 = runtime.cloud.client("s3")
        cache_files = [
            obj["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=runtime.bucket, Prefix=layout.MSA_CACHE
            )
            for obj in page.get("Contents", [])
            if "/files/" in obj["Key"]
        ]
        cap = int(runtime.cloud.stack.parameters["MaxConcurrentExecutions"])
    finally:
        runtime.stop()

    searches = Counter(
        key for key, _origin in {(k.split("/")[1], k.split("/")[3]) for k in cache_files}
    )
    executions = Counter(s["PipelineExecutionDisplayName"] for s in summaries)
    jobs = Counter()
    for manifest in work.glob(f"jobs/*RunMSA*/model/{layout.STEP_MANIFEST}"):
        record = json.loads(manifest.read_text())
        jobs["copied an entry" if record["engine"] == "cache" else "searched"] += 1
    accepted = [m for m in members if (items.get(m.run_id) or {}).get("status") != "Rejected"]
    jobs["step-cache reuse (no job)"] = len(accepted) - sum(jobs.values())
    statuses = Counter((items.get(m.run_id) or {}).get("status", "missing") for m in members)
    notices = [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]
    return {
        "campaign": screen.run_id,
        "members": len(members),
        "statuses": dict(statuses),
        "lost": sum(
            1
            for m in members
            if (items.get(m.run_id) or {}).get("status")
            not in ("Succeeded", "Failed", "Stopped", "Rejected")
        )
        + (int(campaign.get("expected", 0)) - len(members)),
        "duplicated_executions": sum(n - 1 for n in executions.values() if n > 1),
        "duplicated_records": len(members) - len({m.run_id for m in members}),
        "executions": len(executions),
        "searches": {
            "keys_searched": len(searches),
            "total": sum(searches.values()),
            "max_per_key": max(searches.values(), default=0),
            "unique_sequences": campaign.get("unique_sequences"),
        },
        "msa_jobs": dict(jobs),
        "summary_notices": sum(
            1 for n in notices if n.attributes.get("status") == "campaign-ended"
        ),
        "peak_executing": _peak(intervals),
        "cap": cap,
        "split_s": round(split_s, 2),
        "wall_s": round(wall_s, 1),
        "events_queued_at_summary": queued_at_summary,
        "idle_after_summary_s": idle_after_s,
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        # the functions' processes and the step jobs: the largest of them
        "peak_child_rss_gb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6, 2),
        "stopped": stopped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--bad", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "screen.json")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-screen-") as tmp:
        drop = Path(tmp) / "screen100.fasta"
        made = make_drop(drop, args.records, args.repeats, args.bad)
        result = {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpu": cpu_model(),
                "cores": os.cpu_count(),
                "python": platform.python_version(),
                "load_before": [round(x, 2) for x in load_before],
            },
            "drop": made,
            **measure(Path(tmp) / "work", drop, args.timeout),
        }
    result["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
