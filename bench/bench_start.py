"""Start path benchmark: cold import + one handler call, foldline's vs a bare boto3 handler.

Each sample is a fresh Python process (a Lambda cold start: nothing imported, nothing
cached) that imports a handler and handles one upload against moto's server, which
runs in this process and plays S3, DynamoDB, SNS and the SageMaker pipeline API.

- ``bare boto3``: import boto3, make S3 and SageMaker clients, read the FASTA, start the
  execution. The least a start function can do.
- ``foldline start function``: ``functions/start_pipeline/app.py`` with the SQS event
  the queue delivers (Powertools batch, logger, metrics; FASTA validation; runs table;
  MSA cache lookup; sizing; the input copy; StartPipelineExecution).
- the same with the ``foldline`` package WITHOUT ``.pyc`` files (a copy without
  ``__pycache__``, PYTHONDONTWRITEBYTECODE=1): what a layer built with ``--no-compile``
  costs at every cold start, since Lambda cannot write the bytecode it compiles.

Every process runs in an empty folder: ``python -c`` puts the working directory first on
``sys.path``, so run from the repository root it would import the checkout's ``foldline``
(with whatever bytecode its ``__pycache__`` holds) instead of the copy under test.

Also: what ``python -X importtime`` says the start handler imports, and whether any of
numpy / the sagemaker SDK / the X-Ray SDK is among them (for the notify handler too).

Run: ``python bench/bench_start.py [--samples 7]``; writes ``bench/results/start.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUCKET = "bench-start"
RUNS_TABLE = "bench-runs"
PIPELINE = "ProteinFoldWorkflow"
FASTA = (ROOT / "examples" / "xylanase.fasta").read_bytes()
HEAVY = ("numpy", "sagemaker", "aws_xray_sdk", "matplotlib", "gemmi", "biotite", "pyhmmer")

BARE = r"""
import time, sys
t0 = time.perf_counter()
import boto3
s3 = boto3.client("s3"); sm = boto3.client("sagemaker")
body = s3.get_object(Bucket=sys.argv[1], Key=sys.argv[2])["Body"].read()
sm.start_pipeline_execution(PipelineName=sys.argv[3], PipelineExecutionDisplayName=sys.argv[4],
    PipelineParameters=[{"Name": "FastaFileName", "Value": "x.fasta"}], ClientRequestToken=(sys.argv[4] * 8)[:40])
print(time.perf_counter() - t0)
"""

FOLDLINE = r"""
import time, sys, json
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[5])
import app
event = json.loads(sys.argv[6])
out = app.lambda_handler(event, type("Ctx", (), {"function_name": "start", "memory_limit_in_mb": 512,
    "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:start",
    "aws_request_id": "bench"})())
assert out == {"batchItemFailures": []}, out
t1 = time.perf_counter() - t0
mods = sorted({m.split(".")[0] for m in sys.modules})
print(json.dumps({"s": t1, "modules": mods, "foldline": sys.modules["foldline"].__file__}))
"""


def _sqs_event(key: str, version: str | None) -> dict:
    detail = {
        "bucket": {"name": BUCKET},
        "object": {"key": key, "size": len(FASTA), **({"version-id": version} if version else {})},
        "reason": "PutObject",
    }
    body = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": detail,
    }
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "r",
                "body": json.dumps(body),
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:start",
            }
        ]
    }


def _setup(endpoint: str) -> None:
    import boto3

    from foldline.spec.parameters import PARAMETERS

    kw = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    boto3.client("s3", **kw).create_bucket(Bucket=BUCKET)
    boto3.client("s3", **kw).put_bucket_versioning(
        Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
    )
    from foldline.databases.presets import write_ready  # the databases are set up

    write_ready(boto3.client("s3", **kw), BUCKET, "full_dbs", source="bench stack")
    boto3.resource("dynamodb", **kw).create_table(
        TableName=RUNS_TABLE,
        KeySchema=[{"AttributeName": "run_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "run_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic = boto3.client("sns", **kw).create_topic(Name="bench")["TopicArn"]
    params = [
        {
            "Name": p.name,
            "Type": p.type,
            **({"DefaultValue": p.default} if p.default is not None else {}),
        }
        for p in PARAMETERS
    ]
    boto3.client("sagemaker", **kw).create_pipeline(
        PipelineName=PIPELINE,
        RoleArn="arn:aws:iam::123456789012:role/bench",
        PipelineDefinition=json.dumps({"Version": "2020-12-01", "Parameters": params, "Steps": []}),
    )
    os.environ["BENCH_TOPIC"] = topic


def _env(endpoint: str, *, no_pyc: bool = False, pythonpath: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "RUNS_TABLE": RUNS_TABLE,
            "PIPELINE_NAME": PIPELINE,
            "TOPIC_ARN": os.environ["BENCH_TOPIC"],
            "POWERTOOLS_SERVICE_NAME": "start_pipeline",
            "POWERTOOLS_METRICS_NAMESPACE": "foldline",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "PYTHONPATH": pythonpath,
        }
    )
    if no_pyc:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _package_copy(folder: Path, *, compiled: bool) -> Path:
    """A copy of the foldline package as the layer ships it (with or without .pyc)."""
    target = folder / ("compiled" if compiled else "source")
    shutil.copytree(
        ROOT / "foldline",
        target / "foldline",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    if compiled:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "compileall",
                "-q",
                "--invalidation-mode",
                "unchecked-hash",
                str(target),
            ],
            check=True,
        )
    return target


def run(samples: int = 7) -> dict:
    import boto3
    from moto.server import ThreadedMotoServer

    for name, value in (
        ("AWS_ACCESS_KEY_ID", "bench"),
        ("AWS_SECRET_ACCESS_KEY", "bench"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    work = Path(tempfile.mkdtemp(prefix="foldline-bench-start-"))
    try:
        _setup(endpoint)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
        packages = {
            True: _package_copy(work, compiled=True),
            False: _package_copy(work, compiled=False),
        }
        handler_dir = str(ROOT / "functions" / "start_pipeline")
        rows: dict[str, list[float]] = {
            "bare boto3 handler": [],
            "foldline start function (.pyc shipped)": [],
            "foldline start function (no .pyc)": [],
        }
        modules: list[str] = []
        for i in range(samples):
            key = f"inputs/bench-{i}.fasta"
            s3.put_object(Bucket=BUCKET, Key=key, Body=FASTA)
            out = subprocess.run(
                [sys.executable, "-c", BARE, BUCKET, key, PIPELINE, f"bare-{i}"],
                env=_env(endpoint),
                capture_output=True,
                text=True,
                cwd=work,
                check=False,
            )
            if out.returncode != 0:
                raise RuntimeError(out.stderr[-3000:])
            rows["bare boto3 handler"].append(float(out.stdout.strip()))
            for compiled, name in (
                (True, "foldline start function (.pyc shipped)"),
                (False, "foldline start function (no .pyc)"),
            ):
                key = f"inputs/bench-{i}-{int(compiled)}.fasta"
                put = s3.put_object(Bucket=BUCKET, Key=key, Body=FASTA)
                event = json.dumps(_sqs_event(key, put.get("VersionId")))
                out = subprocess.run(
                    [sys.executable, "-c", FOLDLINE, "", "", "", "", handler_dir, event],
                    env=_env(endpoint, no_pyc=not compiled, pythonpath=str(packages[compiled])),
                    capture_output=True,
                    text=True,
                    cwd=work,
                    check=False,
                )
                if out.returncode != 0:
                    raise RuntimeError(out.stderr[-3000:])
                result = json.loads(out.stdout.strip().splitlines()[-1])
                if not Path(result["foldline"]).is_relative_to(packages[compiled]):
                    raise RuntimeError(f"imported {result['foldline']}, not the copy under test")
                rows[name].append(result["s"])
                modules = result["modules"]
        summary = {
            name: {
                "median_s": round(statistics.median(v), 3),
                "min_s": round(min(v), 3),
                "runs_s": [round(x, 3) for x in v],
            }
            for name, v in rows.items()
        }
        bare = summary["bare boto3 handler"]["median_s"]
        heavy_start = sorted(set(modules) & set(HEAVY))
        notify = subprocess.run(
            [
                sys.executable,
                "-c",
                (
                    "import sys, json; sys.path.insert(0, sys.argv[1]); import app; "
                    "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
                ),
                str(ROOT / "functions" / "notify"),
            ],
            env={
                **_env(endpoint, pythonpath=str(packages[True])),
                "IDEMPOTENCY_TABLE": "i",
                "BUCKET_NAME": BUCKET,
            },
            capture_output=True,
            text=True,
            check=True,
            cwd=work,
        )
        heavy_notify = sorted(set(json.loads(notify.stdout)) & set(HEAVY))
        return {
            "benchmark": "start path: cold import + one handler call (fresh process each)",
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}",
            "samples": samples,
            "rows": summary,
            "ratio_foldline_over_bare": round(
                summary["foldline start function (.pyc shipped)"]["median_s"] / bare, 2
            ),
            "ratio_no_pyc_over_bare": round(
                summary["foldline start function (no .pyc)"]["median_s"] / bare, 2
            ),
            "target_ratio": 1.5,
            "heavy_modules_start": heavy_start,
            "heavy_modules_notify": heavy_notify,
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def table(result: dict) -> str:
    lines = [
        f"start path — {result['date']} — {result['machine']} — median of {result['samples']} fresh processes"
    ]
    for name, row in result["rows"].items():
        lines.append(f"  {name:<42} {row['median_s']:>7.3f} s (min {row['min_s']:.3f})")
    lines.append(
        f"  ratio foldline / bare: {result['ratio_foldline_over_bare']:.2f} "
        f"(target <= {result['target_ratio']}); without .pyc: {result['ratio_no_pyc_over_bare']:.2f}"
    )
    lines.append(
        f"  heavy modules imported — start: {result['heavy_modules_start'] or 'none'}; "
        f"notify: {result['heavy_modules_notify'] or 'none'}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=7)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "start.json")
    args = parser.parse_args(argv)
    result = run(args.samples)
    print(table(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
