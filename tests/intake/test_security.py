"""What the start function logs: one structured line per decision, never a sequence above DEBUG.

Every record the ``foldline`` loggers emit (the Powertools logger and the package's
module loggers under it) is captured at DEBUG and rendered by Powertools' own JSON
formatter; the sequence (and any 20-residue stretch of it) may appear only in DEBUG
lines, and each decision line names its key and run id.
"""

from __future__ import annotations

import json
import logging

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from tests.conftest import DATA, load_handler, sqs_batch

FASTA_6KWC = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()
SEQUENCE = FASTA_6KWC.decode().split("\n", 1)[1].replace("\n", "")
STRETCHES = [SEQUENCE[i : i + 20] for i in range(0, len(SEQUENCE) - 20, 7)]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(LambdaPowertoolsFormatter())
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, self.format(record)))

    def above_debug(self) -> list[dict]:
        return [json.loads(text) for level, text in self.lines if level > logging.DEBUG]


@pytest.fixture
def start(stack, lambda_context):
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    root = logging.getLogger("foldline")
    capture, level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)  # emit everything; the test sorts by level

    def invoke(events: list[dict]) -> dict:
        return app.lambda_handler(sqs_batch(events), lambda_context)

    invoke.capture = capture
    invoke.app = app
    yield invoke
    root.removeHandler(capture)
    root.setLevel(level)


def assert_no_sequence(lines: list[dict]) -> None:
    for line in lines:
        text = json.dumps(line)
        assert SEQUENCE not in text, line
        for stretch in STRETCHES:
            assert stretch not in text, (stretch, line)


def decisions(lines: list[dict]) -> list[tuple[str, str | None, bool]]:
    names = {"accepted", "rejected", "started", "duplicate", "ignored", "throttled", "deferred"}
    return [
        (l["message"], l.get("key"), bool(l.get("run_id")))
        for l in lines
        if l.get("message") in names
    ]


def test_an_accepted_upload_logs_decisions_but_not_its_sequence(stack, start):
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    start(events)
    start(events)  # a replay

    lines = start.capture.above_debug()
    assert decisions(lines) == [
        ("accepted", "inputs/6kwc.fasta", True),
        ("started", "inputs/6kwc.fasta", True),
        ("duplicate", "inputs/6kwc.fasta", True),
    ]
    assert_no_sequence(lines)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("headerless.fasta", (SEQUENCE + "\n").encode()),  # the first line IS the sequence
        ("stops.fasta", f">x\n{SEQUENCE[:60]}*{SEQUENCE[60:]}\n".encode()),
        ("dna.fasta", f">x\n{SEQUENCE}\n>dna\n{'ACGT' * 20}\n".encode()),
        ("short.fasta", f">x\n{SEQUENCE[:10]}\n".encode()),
    ],
)
def test_a_rejected_upload_logs_its_reason_but_not_its_sequence(stack, start, name, body):
    start(stack.put(f"inputs/{name}", body))

    lines = start.capture.above_debug()
    (rejected,) = [l for l in lines if l["message"] == "rejected"]
    assert rejected["key"] == f"inputs/{name}" and rejected["run_id"] and rejected["code"]
    assert_no_sequence(lines)
    if name == "short.fasta":  # ten residues: too short to be a stretch; the whole must not show
        assert all(SEQUENCE[:10] not in json.dumps(l) for l in lines)
    (notice,) = stack.notices()
    assert SEQUENCE[:20] not in notice["Message"]  # nor in the notice


def test_a_throttled_start_logs_key_and_run_id(stack, start):
    from botocore.stub import Stubber

    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    stubber = Stubber(start.app.start_context().sagemaker)
    stubber.add_client_error(
        "start_pipeline_execution", service_error_code="ThrottlingException", http_status_code=400
    )
    with stubber:
        assert start(events)["batchItemFailures"]

    lines = start.capture.above_debug()
    assert ("throttled", "inputs/6kwc.fasta", True) in decisions(lines)
    assert_no_sequence(lines)
