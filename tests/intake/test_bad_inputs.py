"""The bad-input suite: real-world bad uploads through the real start handler under moto.

Each row: what a user drops into inputs/, and what foldline must do with it. Rejected
rows must leave the original bytes under rejected/, one notice naming the problem and
zero pipeline executions; accepted rows start exactly one execution.
"""

from __future__ import annotations

import io
import json
import random
import zipfile

import boto3
import pytest
from botocore.config import Config

from foldline.spec import layout
from tests.conftest import DATA, load_handler, sqs_batch
from tests.moto_stack import BUCKET

SEQ = (DATA / "openfold-6kwc" / "6kwc.fasta").read_text().split("\n", 1)[1].replace("\n", "")
GOOD = f">6KWC_1\n{SEQ}\n".encode()


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("6kwc.fasta", GOOD)
    return buffer.getvalue()


def _chains(n: int, length: int = 40) -> bytes:
    return "".join(f">c{i}\n{SEQ[i % 100 : i % 100 + length]}\n" for i in range(n)).encode()


_PDB = b"HEADER    HYDROLASE                               01-JAN-20   6KWC\nATOM      1  N   GLY A   1\n"

REJECTED = [
    # (id, key, body, tags, words the reason must hold)
    ("empty", "inputs/empty.fasta", b"", None, ["empty"]),
    ("header-only", "inputs/header.fasta", b">6KWC_1 xylanase\n", None, ["no sequence"]),
    ("pdb-file", "inputs/model.fasta", _PDB, None, ["PDB"]),
    ("png", "inputs/picture.fasta", b"\x89PNG\r\n\x1a\n" + bytes(64), None, ["PNG"]),
    ("zip", "inputs/archive.fasta", _zip(), None, ["zip"]),
    ("random-bytes", "inputs/noise.fasta", random.Random(7).randbytes(4096), None, ["not FASTA"]),
    ("utf16", "inputs/wide.fasta", GOOD.decode().encode("utf-16"), None, ["UTF-16"]),
    ("dna", "inputs/gene.fasta", b">g\n" + b"ATGC" * 30 + b"\n", None, ["DNA"]),
    ("rna", "inputs/rna.fasta", b">r\n" + b"AUGC" * 30 + b"\n", None, ["RNA"]),
    ("letter-J", "inputs/j.fasta", f">x\n{SEQ[:20]}J{SEQ[20:40]}\n".encode(), None, ["J at 21"]),
    ("letter-O", "inputs/o.fasta", f">x\n{SEQ[:20]}O{SEQ[20:40]}\n".encode(), None, ["O at 21"]),
    ("letter-U", "inputs/u.fasta", f">x\n{SEQ[:20]}U{SEQ[20:40]}\n".encode(), None, ["U at 21"]),
    ("letter-B", "inputs/b.fasta", f">x\n{SEQ[:20]}B{SEQ[20:40]}\n".encode(), None, ["B at 21"]),
    ("letter-Z", "inputs/z.fasta", f">x\n{SEQ[:20]}Z{SEQ[20:40]}\n".encode(), None, ["Z at 21"]),
    ("stop", "inputs/stop.fasta", f">x\n{SEQ[:40]}*\n".encode(), None, ["'*' at 41"]),
    ("gap", "inputs/gap.fasta", f">x\n{SEQ[:20]}-{SEQ[20:40]}\n".encode(), None, ["'-' at 21"]),
    (
        "digits",
        "inputs/digits.fasta",
        f">x\n{SEQ[:20]}42{SEQ[20:40]}\n".encode(),
        None,
        ["'4' at 21", "'2' at 22"],
    ),
    (
        "5000-residues",
        "inputs/huge.fasta",
        f">x\n{(SEQ * 27)[:5000]}\n".encode(),
        None,
        ["5,000 residues", "2,500"],
    ),
    ("30-chains", "inputs/many.fasta", _chains(30), None, ["30 chains", "limit is 20"]),
    (
        "duplicate-ids",
        "inputs/dup.fasta",
        f">a\n{SEQ}\n>a\n{SEQ}\n".encode(),
        None,
        ["records 1 and 2"],
    ),
    ("short", "inputs/short.fasta", b">p\nMKVLAAGG\n", None, ["8 residues", "minimum is 16"]),
    ("suffix", "inputs/notes.txt", GOOD, None, ["FASTA suffix"]),
    (
        "tag-instance",
        "inputs/t1.fasta",
        GOOD,
        "InferenceInstanceType=ml.t2.micro",
        ["InferenceInstanceType", "ml.t2.micro"],
    ),
    ("tag-date", "inputs/t2.fasta", GOOD, "MaxTemplateDate=yesterday", ["YYYY-MM-DD"]),
    ("tag-preset", "inputs/t3.fasta", GOOD, "ModelPreset=monomer_turbo", ["monomer_turbo"]),
    ("tag-db", "inputs/t4.fasta", GOOD, "DbPreset=all_dbs", ["all_dbs"]),
    ("tag-count", "inputs/t5.fasta", GOOD, "NumMultimerPredictionsPerModel=many", ["whole number"]),
]

ACCEPTED = [
    ("lower-case", "inputs/lower.fasta", GOOD.lower().replace(b">6kwc_1", b">6KWC_1")),
    ("crlf", "inputs/windows.fasta", GOOD.replace(b"\n", b"\r\n")),
    ("spaces", "inputs/my target (copy 2).fasta", GOOD),
    ("unicode", "inputs/xylanase-α-β.FA", GOOD),
    ("plus", "inputs/a+b.faa", GOOD),
    ("percent", "inputs/100%-identity.fas", GOOD),
    ("dot-dot", "inputs/../escape.fasta", GOOD),
    ("nested", "inputs/campaign/2026/T1030.fasta", GOOD),
    ("long-name", "inputs/" + "n" * 900 + ".fasta", GOOD),
    ("multimer", "inputs/dimer.fasta", _chains(2, 60)),
]


@pytest.fixture
def start(stack, lambda_context):
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    return lambda events: app.lambda_handler(sqs_batch(events), lambda_context)


@pytest.mark.parametrize(
    ("key", "body", "tags", "words"),
    [row[1:] for row in REJECTED],
    ids=[row[0] for row in REJECTED],
)
def test_rejected_uploads(stack, start, key, body, tags, words):
    events = stack.put(key, body, tags=tags)
    assert start(events) == {"batchItemFailures": []}

    assert stack.executions() == []
    assert stack.s3.get_object(Bucket=BUCKET, Key=layout.rejected_key(key))["Body"].read() == body
    reason = json.loads(
        stack.s3.get_object(Bucket=BUCKET, Key=layout.reason_key(key))["Body"].read()
    )["reason"]
    for word in words:
        assert word in reason, reason
    (notice,) = stack.notices()
    assert reason in notice["Message"]
    assert key not in stack.keys("inputs/")


@pytest.mark.parametrize(
    ("key", "body"), [row[1:] for row in ACCEPTED], ids=[row[0] for row in ACCEPTED]
)
def test_accepted_uploads(stack, start, key, body):
    events = stack.put(key, body)
    assert start(events) == {"batchItemFailures": []}
    (execution,) = stack.executions()
    assert stack.notices() == []
    assert stack.keys("rejected/") == []
    run_id = execution["PipelineExecutionDisplayName"]
    (copied,) = stack.keys(layout.run_input_prefix(run_id))
    text = stack.s3.get_object(Bucket=BUCKET, Key=copied)["Body"].read().decode()
    assert "\r" not in text and text.split("\n")[1] == text.split("\n")[1].upper()


def test_a_200_mb_file_is_rejected_from_its_size_without_being_read(stack, lambda_context):
    size = 200 * 1024 * 1024
    key = "inputs/enormous.fasta"
    # upload without botocore's streaming checksum: moto decodes aws-chunked bodies slowly
    plain = boto3.client("s3", config=Config(request_checksum_calculation="when_required"))
    plain.put_object(Bucket=BUCKET, Key=key, Body=b">big\n" + b"M" * (size - 5))
    events = [e for e in stack.drain(stack.s3_events_queue) if e["detail-type"] == "Object Created"]
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    reads = []  # every GetObject the start path's own S3 client makes
    app.start_context().s3.meta.events.register(
        "before-call.s3.GetObject", lambda **kwargs: reads.append(kwargs)
    )

    assert app.lambda_handler(sqs_batch(events), lambda_context) == {"batchItemFailures": []}

    assert reads == []
    reason = json.loads(
        stack.s3.get_object(Bucket=BUCKET, Key=layout.reason_key(key))["Body"].read()
    )["reason"]
    assert "209,715,200 bytes" in reason
    head = stack.s3.head_object(Bucket=BUCKET, Key=layout.rejected_key(key))
    assert head["ContentLength"] == size
    assert stack.executions() == []


@pytest.mark.parametrize("deliveries", [1, 2, 10])
def test_the_same_event_delivered_n_times_starts_one_run(stack, start, deliveries):
    events = stack.put("inputs/6kwc.fasta", GOOD)
    for _ in range(deliveries):
        start(events)
    assert len(stack.executions()) == 1
    assert stack.notices() == []


@pytest.mark.parametrize("deliveries", [1, 2, 10])
def test_a_bad_upload_delivered_n_times_is_noticed_once(stack, start, deliveries):
    events = stack.put("inputs/gene.fasta", b">g\n" + b"ATGC" * 30 + b"\n")
    start(events * deliveries)
    assert len(stack.notices()) == 1
    assert stack.executions() == []
