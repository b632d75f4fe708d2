"""Burst benchmark: 1,000 FASTA files dropped at once -> 1,000 runs, never above the cap.

A direct simulation with the real start function (see tests/intake/burst.py for what
is real and what stands in): moto's server plays S3, EventBridge, SQS, DynamoDB, SNS and
the SageMaker pipeline API; the start function's ``lambda_handler`` runs in several
worker processes (one per Lambda instance); executions "run" for a random 1-3 s and end
Succeeded (analysis path's slot release), Failed (the real notify path) or without any
end event (the gate's reconciliation must notice). Not the local runtime: its executor
runs the real step programs, which at 1,000 runs would measure them, not the intake.

Printed and written to ``bench/results/burst.json``: time until every upload had started
and until every run had ended, the peak number of executions running at once (counted
inside moto, exact), lost uploads, duplicated executions, DLQ messages, deferrals, and
the machine's load. The cap here stands for the account's SageMaker quota; the run
durations are scaled down from hours to seconds, so the times measure the intake's own
overhead and the cap's throttling, not SageMaker.

Run: ``python bench/bench_burst.py [--uploads 1000 --cap 50 --instances 4]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.intake.burst import BurstConfig, run_burst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--cap", type=int, default=50)
    parser.add_argument(
        "--instances",
        type=int,
        default=4,
        help="start-function instances (the stack's MaxConcurrentStarts)",
    )
    parser.add_argument("--run-seconds", type=float, nargs=2, default=(1.0, 3.0))
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "burst.json")
    args = parser.parse_args()

    config = BurstConfig(
        uploads=args.uploads,
        cap=args.cap,
        instances=args.instances,
        run_seconds=tuple(args.run_seconds),
        failed_share=0.1,
        lost_event_share=0.02,
        reconcile_every_s=5.0,
        grace_s=60.0,
        max_receive_count=5,
        # whole seconds, as SQS counts them: the stack's 20 s..900 s scaled like the runs
        defer_base_s=1.0,
        defer_max_s=8.0,
        seed=args.seed,
        timeout_s=args.timeout,
    )
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
        report = run_burst(config, Path(tmp))
    result = {
        "benchmark": "burst: uploads dropped at once through the real start function",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "direct simulation (moto server + start handler in worker processes), "
        "not the local runtime",
        "machine": {
            "platform": platform.platform(),
            "cores_visible": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        **asdict(report),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")

    print(f"uploads {report.uploads}, cap {config.cap}, instances {config.instances}")
    print(
        f"time until all started: {report.seconds_until_all_started} s "
        f"(all ended: {report.seconds_until_all_ended} s, wall {report.wall_s} s)"
    )
    print(
        f"peak concurrent: {report.peak_concurrent} (over the cap: {report.over_cap_moments} "
        f"times); gate holders at most {report.peak_gate_holders}"
    )
    print(
        f"lost: {report.lost}; duplicated: {report.duplicated}; "
        f"dead letters: {report.dead_letters}; deferrals: {report.deferrals}; "
        f"invocations: {report.invocations}"
    )
    print(
        f"slots freed by end events {report.released_by_end_path}, by reconciliation "
        f"{report.released_by_reconcile} ({report.lost_end_events} end events lost)"
    )
    print(f"wrote {args.out}")
    ok = (
        not report.timed_out
        and report.lost == 0
        and report.duplicated == 0
        and report.over_cap_moments == 0
        and report.dead_letters == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
