"""A burst of uploads through the real start function, several instances at once, under moto.

Used by ``tests/intake/test_concurrency.py`` (reduced scale) and
``bench/bench_burst.py`` (1,000 uploads). A direct simulation, not the local runtime:
the local executor runs the real step programs, which at 1,000 runs would measure the
steps, not the intake. What is real and what stands in:

- real: S3 (versioned bucket, EventBridge notifications), an EventBridge rule with the
  InputsRule pattern delivering to an SQS StartQueue with a redrive policy to a DLQ, the
  runs table, the SNS topic, the SageMaker pipeline API (moto's server, in this process),
  and the start function's own ``lambda_handler`` in separate worker processes, one per
  "instance" (its module state, Powertools logger and metrics, boto3 clients, gate);
- Lambda's SQS poller: each worker receives up to 10 messages, invokes the handler with
  them in Lambda's event shape, deletes what succeeded, and makes reported failures
  visible again at once (Lambda would wait out the visibility timeout);
- SageMaker running the pipeline: :mod:`foldline.local.moto_sagemaker` makes new
  executions ``Executing`` and honours ClientRequestToken, as SageMaker does; a finisher
  thread ends each execution after a random duration and delivers the end event to the
  end-of-run path: Failed ones through the real notify path
  (:func:`foldline.outcomes.failed.notify_run_ended`), Succeeded ones through
  :func:`foldline.intake.concurrency.release_run_slot` (the analysis path's first call; the
  analysis itself needs real model archives), and a share of them never (a lost event:
  the gate's reconciliation has to notice);
- atomicity: moto applies a request in Python with no lock, so two instances' conditional
  writes could interleave inside moto; DynamoDB applies each request atomically, so the
  harness runs moto's request handling under one lock (requests still interleave freely).
  The same lock makes the peak count exact: it is taken inside StartPipelineExecution.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

from foldline.local.paths import ACCOUNT_ID, DEFAULT_REGION
from tests.stack import build_stack, template_stack

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "foldline-burst"
ACCOUNT, REGION = ACCOUNT_ID, DEFAULT_REGION
BUCKET = template_stack(STACK_NAME).physical_name("FoldlineBucket")
RUNS_TABLE = template_stack(STACK_NAME).physical_name("RunsTable")
#: the start queue's visibility timeout here: the template's 360 s (six times the
#: function's timeout) would hold a message a retry sends back past the burst's end
VISIBILITY_TIMEOUT_S = 60
EVENTS = ROOT / "events"
AMINO = "ACDEFGHIKLMNPQRSTVWY"


@dataclass(frozen=True)
class BurstConfig:
    uploads: int = 60
    cap: int = 5
    instances: int = 3
    run_seconds: tuple[float, float] = (0.2, 0.6)
    #: shares of executions ending Failed (notify path) and with no end event at all
    failed_share: float = 0.2
    lost_event_share: float = 0.1
    #: the gate's reconciliation interval and grace period (the stack's are 60 s / 900 s)
    reconcile_every_s: float = 0.5
    grace_s: float = 5.0
    max_receive_count: int = 5
    #: the deferral backoff (the stack's: 20 s doubling to 900 s); SQS delays are whole seconds
    defer_base_s: float = 0.0
    defer_max_s: float = 0.0
    seed: int = 7
    timeout_s: float = 240.0


@dataclass
class BurstReport:
    config: dict[str, Any]
    uploads: int = 0
    executions: int = 0
    runs_started: int = 0  # distinct uploads with an execution
    lost: int = 0  # uploads with no execution once everything settled
    duplicated: int = 0  # executions beyond one per upload
    peak_concurrent: int = 0  # most executions Executing at once (exact, see module doc)
    over_cap_moments: int = 0  # starts that left more than ``cap`` executing
    peak_gate_holders: int = 0
    gate_holders_at_end: int = 0  # slots of lost-event runs no start has needed back since
    dead_letters: int = 0
    deferrals: int = 0
    batch_item_failures: int = 0
    invocations: int = 0
    released_by_end_path: int = 0
    released_by_reconcile: int = 0
    lost_end_events: int = 0
    seconds_until_all_started: float | None = None
    seconds_until_all_ended: float | None = None
    wall_s: float = 0.0
    decision_lines: dict[str, int] = field(default_factory=dict)
    lines_missing_key_or_run_id: int = 0
    final_statuses: dict[str, int] = field(default_factory=dict)
    timed_out: bool = False


def fasta(rng: random.Random, name: str) -> bytes:
    length = rng.randint(40, 300)
    return f">{name}\n{''.join(rng.choice(AMINO) for _ in range(length))}\n".encode()


# ---------------------------------------------------------------------------------------
# the moto server, with each request applied atomically


class _AtomicRequests:
    """Serialise moto's request handling (see the module docstring); reversible."""

    lock = threading.RLock()

    def __enter__(self) -> Self:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication

        self._cls = DomainDispatcherApplication
        self._original = DomainDispatcherApplication.__call__
        lock, original = self.lock, self._original

        def __call__(app: Any, environ: dict, start_response: Any) -> Any:
            with lock:
                return list(original(app, environ, start_response))

        DomainDispatcherApplication.__call__ = __call__
        return self

    def __exit__(self, *exc: object) -> None:
        self._cls.__call__ = self._original


@dataclass
class _Tally:
    """What the harness observes inside moto (under the request lock)."""

    cap: int
    peak: int = 0
    over_cap: int = 0
    creations: Counter = field(default_factory=Counter)  # display name -> executions made
    first_start: float | None = None
    last_start: float | None = None


def _count_active(backend: Any) -> int:
    return sum(
        1
        for pipeline in backend.pipelines.values()
        for execution in pipeline.pipeline_executions.values()
        if execution.pipeline_execution_status in ("Executing", "Stopping")
    )


@contextlib.contextmanager
def _observed_starts(tally: _Tally):
    """Wrap moto's StartPipelineExecution (already token-idempotent) to count concurrency."""
    from moto.sagemaker import models

    cls = models.SageMakerModelBackend
    original = cls.start_pipeline_execution

    def start_pipeline_execution(self: Any, pipeline_name: str, *args: Any, **kwargs: Any):
        before = {arn for p in self.pipelines.values() for arn in p.pipeline_executions}
        response = original(self, pipeline_name, *args, **kwargs)
        arn = response["PipelineExecutionArn"]
        if arn not in before:  # a new execution, not the token's earlier one
            name = self.pipelines[pipeline_name].pipeline_executions[arn]
            tally.creations[name.pipeline_execution_display_name] += 1
            active = _count_active(self)
            tally.peak = max(tally.peak, active)
            tally.over_cap += active > tally.cap
            now = time.monotonic()
            tally.first_start = tally.first_start or now
            tally.last_start = now
        return response

    cls.start_pipeline_execution = start_pipeline_execution
    try:
        yield
    finally:
        cls.start_pipeline_execution = original


# ---------------------------------------------------------------------------------------
# the stack


def _build_stack(endpoint: str, config: BurstConfig) -> tuple[Any, ...]:
    """template.yaml's stack on the moto server (tests/stack.py), its start queue's
    redrive after ``config.max_receive_count`` receives."""
    import boto3

    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )
    stack = template_stack(
        STACK_NAME, endpoint_url=endpoint, StartMaxReceiveCount=str(config.max_receive_count)
    )
    build_stack(stack, lambda service: session.client(service, endpoint_url=endpoint))
    sqs = session.client("sqs", endpoint_url=endpoint)
    events = session.client("events", endpoint_url=endpoint)
    queue, queue_arn = stack.ref("StartQueue"), stack.get_att("StartQueue", "Arn")
    sqs.set_queue_attributes(
        QueueUrl=queue, Attributes={"VisibilityTimeout": str(VISIBILITY_TIMEOUT_S)}
    )
    rule = stack.template["Resources"]["InputsRule"]["Properties"]
    events.put_rule(
        Name=stack.physical_name("InputsRule"),
        EventPattern=json.dumps(stack.resolve(rule["EventPattern"])),
    )
    events.put_targets(
        Rule=stack.physical_name("InputsRule"), Targets=[{"Id": "start-queue", "Arn": queue_arn}]
    )
    return stack, session, queue, queue_arn, stack.ref("StartDeadLetterQueue")


def _settled(sqs: Any, queue_url: str) -> bool:
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return all(int(v) == 0 for v in attrs.values())


# ---------------------------------------------------------------------------------------
# one start-function instance (a worker process)


def _sqs_event(messages: list[dict], queue_arn: str) -> dict:
    """Lambda's SQS event for received messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {
                    k: {
                        "stringValue": v.get("StringValue"),
                        "dataType": v["DataType"],
                        "stringListValues": [],
                        "binaryListValues": [],
                    }
                    for k, v in (m.get("MessageAttributes") or {}).items()
                },
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


class _LambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "StartPipelineFunction"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:StartPipelineFunction"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/StartPipelineFunction"
    log_stream_name = "burst"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def worker(
    stop_file: Path,
    stats_file: Path,
    queue_arn: str,
    reconcile_every_s: float,
    grace_s: float,
    defer_base_s: float,
    defer_max_s: float,
) -> None:
    """Poll the start queue and invoke the start function, until ``stop_file`` exists."""
    import importlib.util

    import boto3

    from foldline.intake.concurrency import Backoff

    spec = importlib.util.spec_from_file_location(
        "start_pipeline_app", ROOT / "functions" / "start_pipeline" / "app.py"
    )
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    context = app.start_context()
    context.gate.reconcile_every_s = reconcile_every_s
    context.gate.grace_s = grace_s
    app.deferrer().backoff = Backoff(base_s=defer_base_s, max_s=defer_max_s)
    sqs = boto3.client("sqs")
    queue_url = os.environ["START_QUEUE_URL"]
    stats = Counter()
    while not stop_file.exists():
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=60,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            time.sleep(0.05)
            continue
        stats["invocations"] += 1
        try:
            result = app.lambda_handler(_sqs_event(messages, queue_arn), _LambdaContext())
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except Exception:  # noqa: BLE001 - a failed invocation returns the whole batch
            failed = {m["MessageId"] for m in messages}
        stats["batch_item_failures"] += len(failed)
        for m in messages:
            if m["MessageId"] in failed:
                sqs.change_message_visibility(
                    QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
    stats_file.write_text(json.dumps(stats))


# ---------------------------------------------------------------------------------------
# the burst


def run_burst(config: BurstConfig, workdir: Path) -> BurstReport:
    """Upload ``config.uploads`` FASTA files at once and drive them to the end."""
    import logging

    from moto.server import ThreadedMotoServer

    from foldline.local import moto_sagemaker

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    report = BurstReport(config=asdict(config))
    tally = _Tally(cap=config.cap)
    moto_sagemaker.install()
    server = None
    try:
        with _AtomicRequests(), _observed_starts(tally):
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            _drive(config, f"http://{host}:{port}", workdir, report, tally)
    finally:
        if server is not None:
            host, port = server.get_host_and_port()
            with contextlib.suppress(Exception):  # moto's backends are process-global
                request = urllib.request.Request(
                    f"http://{host}:{port}/moto-api/reset", method="POST"
                )
                urllib.request.urlopen(request, timeout=30).close()
            server.stop()
        moto_sagemaker.uninstall()
    report.peak_concurrent = tally.peak
    report.over_cap_moments = tally.over_cap
    report.executions = sum(tally.creations.values())
    report.duplicated = sum(n - 1 for n in tally.creations.values() if n > 1)
    return report


def _drive(
    config: BurstConfig, endpoint: str, workdir: Path, report: BurstReport, tally: _Tally
) -> None:
    from foldline.intake.run_identity import run_id_for
    from foldline.runs.table import RunsTable
    from foldline.spec.parameters import PIPELINE_NAME

    stack, session, queue, queue_arn, dlq = _build_stack(endpoint, config)
    s3 = session.client("s3", endpoint_url=endpoint)
    sqs = session.client("sqs", endpoint_url=endpoint)
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint)
    topic_arn = stack.ref("NotificationsTopic")
    runs = RunsTable(RUNS_TABLE, dynamodb)

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "BUCKET_NAME": BUCKET,
        "RUNS_TABLE": RUNS_TABLE,
        "TOPIC_ARN": topic_arn,
        "PIPELINE_NAME": PIPELINE_NAME,
        "IDEMPOTENCY_TABLE": stack.physical_name("IdempotencyTable"),
        "START_QUEUE_URL": queue,
        "FOLDLINE_MAX_CONCURRENT_EXECUTIONS": str(config.cap),
        "POWERTOOLS_SERVICE_NAME": "start_pipeline",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "foldline-burst",
        "PYTHONPATH": str(ROOT),
    }
    stop_file = workdir / "stop"
    workers = []
    for i in range(config.instances):
        stats, log = workdir / f"worker-{i}.json", workdir / f"worker-{i}.log"
        command = [
            sys.executable,
            "-m",
            "tests.intake.burst",
            "worker",
            str(stop_file),
            str(stats),
            queue_arn,
            str(config.reconcile_every_s),
            str(config.grace_s),
            str(config.defer_base_s),
            str(config.defer_max_s),
        ]
        with open(log, "wb") as out:
            workers.append(
                (
                    subprocess.Popen(
                        command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
                    ),
                    stats,
                    log,
                )
            )

    rng = random.Random(config.seed)
    bodies = [fasta(rng, f"target{i:04d}") for i in range(config.uploads)]
    run_ids = {}
    started = time.monotonic()
    for i, body in enumerate(bodies):
        key = f"inputs/target{i:04d}.fasta"
        version = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
        run_ids[run_id_for(BUCKET, key, version)] = key
    report.uploads = len(run_ids)

    finisher = _Finisher(config, session, endpoint, topic_arn, runs, tally, rng)
    try:
        while time.monotonic() - started < config.timeout_s:
            finisher.step()
            holders = finisher.gate_holders()
            report.peak_gate_holders = max(report.peak_gate_holders, holders)
            if (
                len(tally.creations) >= report.uploads
                and finisher.all_ended()
                and _settled(sqs, queue)
            ):
                break
            time.sleep(0.02)
        else:
            report.timed_out = True
    finally:
        stop_file.touch()
        for process, _, _ in workers:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    report.wall_s = round(time.monotonic() - started, 3)
    if tally.last_start is not None:
        report.seconds_until_all_started = round(tally.last_start - started, 3)
    if finisher.last_end is not None:
        report.seconds_until_all_ended = round(finisher.last_end - started, 3)

    for process, stats_file, log in workers:
        stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        report.invocations += stats.get("invocations", 0)
        report.batch_item_failures += stats.get("batch_item_failures", 0)
        _count_decisions(log, report)
    report.deferrals = report.decision_lines.get("deferred", 0)
    report.runs_started = len(set(tally.creations) & set(run_ids))
    report.lost = report.uploads - report.runs_started
    report.dead_letters = _drain_count(sqs, dlq)
    report.released_by_end_path = finisher.released
    report.gate_holders_at_end = finisher.gate_holders()
    report.lost_end_events = finisher.lost_events
    report.released_by_reconcile = report.decision_lines.get("reconciled", 0)
    statuses = Counter(item.get("status") for item in runs.recent(limit=100_000))
    report.final_statuses = dict(statuses)


def _drain_count(sqs: Any, queue_url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(attrs.get(k, 0))
        for k in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


DECISIONS = ("accepted", "rejected", "started", "duplicate", "ignored", "throttled", "deferred")


def _count_decisions(log: Path, report: BurstReport) -> None:
    """Tally the start function's structured decision lines (and check their fields)."""
    counts = Counter(report.decision_lines)
    for line in log.read_text(errors="replace").splitlines():
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        message = entry.get("message")
        if message in DECISIONS:
            counts[message] += 1
            if message != "ignored" and not (entry.get("key") and entry.get("run_id")):
                report.lines_missing_key_or_run_id += 1
        elif isinstance(message, str) and message.startswith("reconciled the concurrency gate"):
            counts["reconciled"] += int(message.split("released ")[1].split()[0])
    report.decision_lines = dict(counts)


class _Finisher:
    """SageMaker and EventBridge for the burst: ends executions, delivers (or loses) events."""

    def __init__(
        self,
        config: BurstConfig,
        session: Any,
        endpoint: str,
        topic_arn: str,
        runs: Any,
        tally: _Tally,
        rng: random.Random,
    ) -> None:
        from foldline.outcomes.failed import NotifyContext

        self.config, self.runs, self.tally, self.rng = config, runs, tally, rng
        self.sagemaker = session.client("sagemaker", endpoint_url=endpoint)
        self.notify = NotifyContext(
            sagemaker=self.sagemaker,
            sns=session.client("sns", endpoint_url=endpoint),
            s3=session.client("s3", endpoint_url=endpoint),
            runs=runs,
            topic_arn=topic_arn,
            bucket=BUCKET,
            list_steps=lambda arn: [],
        )
        self.deadline: dict[str, float] = {}  # execution ARN -> when it ends
        self.ended: set[str] = set()
        self.released = 0
        self.lost_events = 0
        self.last_end: float | None = None

    def _executions(self) -> list[Any]:
        from foldline.local.moto_sagemaker import backend

        with _AtomicRequests.lock:
            return [
                e
                for p in backend(ACCOUNT, REGION).pipelines.values()
                for e in p.pipeline_executions.values()
            ]

    def all_ended(self) -> bool:
        executions = self._executions()
        return all(e.arn in self.ended for e in executions)

    def gate_holders(self) -> int:
        from foldline.intake.concurrency import GATE_KEY

        item = self.runs.table.get_item(Key={"run_id": GATE_KEY}, ConsistentRead=True).get("Item")
        return len((item or {}).get("slots") or {})

    def step(self) -> None:
        from foldline.local import moto_sagemaker

        now = time.monotonic()
        for execution in self._executions():
            arn = execution.arn
            if arn in self.ended:
                continue
            if arn not in self.deadline:
                self.deadline[arn] = now + self.rng.uniform(*self.config.run_seconds)
                continue
            if now < self.deadline[arn]:
                continue
            roll = self.rng.random()
            status = "Failed" if roll < self.config.failed_share else "Succeeded"
            reason = "AlgorithmError: simulated" if status == "Failed" else None
            with _AtomicRequests.lock:
                moto_sagemaker.set_status(ACCOUNT, REGION, arn, status, reason)
            self.ended.add(arn)
            self.last_end = time.monotonic()
            if roll >= 1.0 - self.config.lost_event_share:
                self.lost_events += 1  # EventBridge never delivers this one
                continue
            self._deliver_end_event(execution, status)

    def _deliver_end_event(self, execution: Any, status: str) -> None:
        from foldline.events.pipeline import parse_execution_event
        from foldline.intake.concurrency import release_run_slot
        from foldline.outcomes import failed as notify_run
        from foldline.outcomes.failed import notify_run_ended
        from foldline.runs import table as runs_mod

        event = json.loads((EVENTS / "pipeline-failed.json").read_text())
        detail = event["detail"]
        detail.update(
            pipelineExecutionArn=execution.arn,
            pipelineArn=execution.arn.rsplit("/execution/", 1)[0],
            pipelineExecutionDisplayName=execution.pipeline_execution_display_name,
            currentPipelineExecutionStatus=status,
            executionEndTime=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        change = parse_execution_event(event)
        run_id = execution.pipeline_execution_display_name
        if status == "Failed":  # frees the slot, records Failed, notifies
            with self._counting_releases(notify_run):
                notify_run_ended(self.notify, change)
        else:  # the analysis path frees the slot first, then analyses and records Succeeded
            self.released += release_run_slot(self.runs, run_id)
            self.runs.update(run_id, status=runs_mod.SUCCEEDED, execution_arn=execution.arn)

    @contextlib.contextmanager
    def _counting_releases(self, module: Any):
        """Count the slots ``module``'s own release call really freed."""
        original = module.release_run_slot

        def release_run_slot(runs: Any, run_id: str) -> bool:
            freed = original(runs, run_id)
            self.released += freed
            return freed

        module.release_run_slot = release_run_slot
        try:
            yield
        finally:
            module.release_run_slot = original


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("worker")
    w.add_argument("stop_file", type=Path)
    w.add_argument("stats_file", type=Path)
    w.add_argument("queue_arn")
    w.add_argument("reconcile_every_s", type=float)
    w.add_argument("grace_s", type=float)
    w.add_argument("defer_base_s", type=float)
    w.add_argument("defer_max_s", type=float)
    args = parser.parse_args(argv)
    worker(
        args.stop_file,
        args.stats_file,
        args.queue_arn,
        args.reconcile_every_s,
        args.grace_s,
        args.defer_base_s,
        args.defer_max_s,
    )


if __name__ == "__main__":
    main()
