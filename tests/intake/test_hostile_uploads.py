"""Uploads and faults that used to break the start path, through the real start handler.

Each test is one class of issue 16: a huge record id, header smuggling, long ids, lasting
throttling, one bad upload delivered twice at once, folder objects, proteins written in
base letters, more than 26 chains, URL-encoded keys under the start role's permissions,
and a failing record's log line.
"""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import ClientError

from foldline.intake.concurrency import GATE_KEY
from foldline.runs.table import RunsTable
from foldline.spec import layout
from foldline.steps import msa_cache
from tests.conftest import DATA, load_handler, sqs_batch
from tests.intake.test_faults import S3Fault
from tests.intake.test_security import Capture, assert_no_sequence
from tests.moto_stack import BUCKET, RUNS_TABLE

FASTA_6KWC = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()
SEQ = FASTA_6KWC.decode().split("\n", 1)[1].replace("\n", "")
SNS_LIMIT = 256 * 1024


@pytest.fixture
def start(stack, lambda_context):
    """The start handler as Lambda runs it, its log lines captured (Powertools' JSON)."""
    import logging

    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    root = logging.getLogger("foldline")
    capture, level = Capture(), root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)

    def invoke(events: list[dict], attempt: int = 1) -> dict:
        batch = sqs_batch(events)
        for record in batch["Records"]:
            record["attributes"]["ApproximateReceiveCount"] = str(attempt)
        return app.lambda_handler(batch, lambda_context)

    invoke.app = app
    invoke.capture = capture
    yield invoke
    root.removeHandler(capture)
    root.setLevel(level)


def runs(stack) -> RunsTable:
    return RunsTable(RUNS_TABLE, stack.dynamodb)


def reason_of(stack, key: str) -> str:
    doc = stack.s3.get_object(Bucket=BUCKET, Key=layout.reason_key(key))["Body"].read()
    return json.loads(doc)["reason"]


# -- 1. a record id of 300 kB ---------------------------------------------------------------


def test_a_300_kb_record_id_is_rejected_with_a_short_reason_and_one_notice(stack, start):
    huge_id = "Q" * 300_000
    key = "inputs/huge-id.fasta"
    events = stack.put(key, f">{huge_id} secret description\n{SEQ}\n".encode())

    assert start(events) == {"batchItemFailures": []}

    reason = reason_of(stack, key)
    assert "300,000 characters" in reason and huge_id[:50] not in reason
    (notice,) = stack.notices()
    assert len(json.dumps(notice).encode()) < SNS_LIMIT
    assert huge_id[:50] not in notice["Message"] and "secret" not in notice["Message"]
    (item,) = runs(stack).recent()
    assert (item["status"], item["code"]) == ("Rejected", "long_id")
    assert item["notice_message_id"]
    assert stack.executions() == []


def test_a_record_that_fails_leaves_a_log_line_with_key_and_cause(stack, start):
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    S3Fault(start.app.start_context().s3, "GetObject", code="AccessDenied", times=None)

    assert start(events) == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}

    (line,) = [l for l in start.capture.above_debug() if l["message"] == "error"]
    assert line["key"] == "inputs/6kwc.fasta" and line["run_id"].startswith("6kwc-")
    assert "AccessDenied" in line["cause"] and line["last_try"] is False
    assert_no_sequence(start.capture.above_debug())


def test_a_message_that_is_no_event_leaves_a_log_line_with_its_cause(stack, start, lambda_context):
    batch = sqs_batch([{}])
    batch["Records"][0]["body"] = "not json"
    result = start.app.lambda_handler(batch, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "msg-0"}]}
    (line,) = [l for l in start.capture.above_debug() if l["message"] == "error"]
    assert line["message_id"] == "msg-0" and "JSONDecodeError" in line["cause"]


# -- 2. header smuggling ---------------------------------------------------------------------

SMUGGLERS = ["\u2028", "\u2029", "\x85", "\x1c", "\x1d", "\x1e", "\x0b", "\x0c"]


@pytest.mark.parametrize("char", SMUGGLERS, ids=[f"U+{ord(c):04X}" for c in SMUGGLERS])
def test_a_header_with_a_line_breaker_is_rejected(stack, start, char):
    """With one of these in its header a file reads as 191 residues to foldline but as
    221 to AlphaFold's parser (str.splitlines): the limits would not hold."""
    key = "inputs/smuggled.fasta"
    body = f">6KWC_1 xylanase{char}{'W' * 30}\n{SEQ}\n".encode()
    events = stack.put(key, body)

    assert start(events) == {"batchItemFailures": []}

    assert stack.executions() == []
    reason = reason_of(stack, key)
    assert f"U+{ord(char):04X}" in reason and "xylanase" not in reason
    (notice,) = stack.notices()
    assert notice["MessageAttributes"]["code"]["Value"] == "bad_header"


def test_the_run_reads_its_fasta_as_foldline_checked_it(stack, start):
    """The FASTA a run's steps read (runs/<run_id>/input/): one header line per record."""
    from tests.intake.test_fasta import _alphafold_reads

    events = stack.put("inputs/tabs.fasta", f">6KWC_1\txylanase\t\tGH11\n{SEQ.lower()}\n".encode())
    start(events)
    (execution,) = stack.executions()
    run_id = execution["PipelineExecutionDisplayName"]
    (key,) = stack.keys(layout.run_input_prefix(run_id))
    text = stack.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    assert _alphafold_reads(text) == ([SEQ], ["6KWC_1 xylanase GH11"])


# -- 3. long record ids ----------------------------------------------------------------------


@pytest.mark.parametrize("length", [101, 300])
def test_a_record_id_too_long_for_file_names_is_rejected_at_intake(stack, start, length):
    key = f"inputs/long-{length}.fasta"
    events = stack.put(key, f">{'A' * length}\n{SEQ}\n".encode())
    start(events)
    assert stack.executions() == []
    assert f"{length} characters long; the limit is 100" in reason_of(stack, key)


def test_a_record_id_at_the_limit_starts(stack, start):
    start(stack.put("inputs/long-100.fasta", f">{'A' * 100}\n{SEQ}\n".encode()))
    assert len(stack.executions()) == 1


# -- 4. throttling that lasts ------------------------------------------------------------------


class Refuse:
    """SageMaker refusing every StartPipelineExecution (botocore's before-call hook)."""

    def __init__(self, client, code: str = "ThrottlingException") -> None:
        self.client, self.code, self.calls = client, code, 0
        client.meta.events.register("before-call.sagemaker.StartPipelineExecution", self)

    def __call__(self, **kwargs):
        self.calls += 1
        raise ClientError(
            {
                "Error": {"Code": self.code, "Message": "Rate exceeded"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "StartPipelineExecution",
        )


@pytest.fixture
def gated(monkeypatch):
    monkeypatch.setenv("FOLDLINE_MAX_CONCURRENT_EXECUTIONS", "1")
    monkeypatch.setenv("FOLDLINE_START_MAX_RECEIVES", "3")


def _gate_holders(stack) -> dict:
    item = stack.dynamodb.Table(RUNS_TABLE).get_item(Key={"run_id": GATE_KEY}).get("Item") or {}
    return dict(item.get("slots") or {})


@pytest.mark.parametrize("receive_counts", [True, False], ids=["sqs-counts", "no-counts"])
def test_lasting_throttling_fails_the_run_frees_its_slot_and_says_so(
    stack, start, gated, receive_counts
):
    """Whether the harness reports receive counts or not: the runs table counts refusals."""
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    refuse = Refuse(start.app.start_context().sagemaker)

    results = [start(events, attempt=i + 1 if receive_counts else 1) for i in range(3)]

    assert [r["batchItemFailures"] for r in results[:2]] == [[{"itemIdentifier": "msg-0"}]] * 2
    assert results[2] == {"batchItemFailures": []}  # the last try: nothing left to retry
    assert refuse.calls == 3
    (item,) = runs(stack).recent()
    assert (item["status"], item["code"]) == ("Failed", "start_refused")
    assert "ThrottlingException" in item["failure_reason"]
    assert _gate_holders(stack) == {}  # the slot is free for the next upload
    (notice,) = stack.notices()
    assert "could not start" in notice["Subject"] and item["run_id"] in notice["Message"]
    assert start(events) == {"batchItemFailures": []}  # a late redelivery: a duplicate
    assert len(stack.notices()) == 0 and refuse.calls == 3


def test_a_throttled_run_frees_no_slot_before_its_last_try_and_starts_when_let(stack, start, gated):
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    refuse = Refuse(start.app.start_context().sagemaker)
    assert start(events)["batchItemFailures"]
    (run_id,) = _gate_holders(stack)
    start.app.start_context().sagemaker.meta.events.unregister(
        "before-call.sagemaker.StartPipelineExecution", refuse
    )
    assert start(events, attempt=2) == {"batchItemFailures": []}
    assert runs(stack).get(run_id)["status"] == "Executing"
    assert stack.notices() == []


def test_a_last_try_that_fails_otherwise_frees_the_slot_and_keeps_the_run_for_a_redrive(
    stack, start, gated
):
    events = stack.put("inputs/6kwc.fasta", FASTA_6KWC)
    S3Fault(start.app.start_context().s3, "PutObject", key_prefix=layout.RUNS, times=None)
    assert start(events, attempt=3)["batchItemFailures"]
    (item,) = runs(stack).recent()
    assert item["status"] == "Starting" and _gate_holders(stack) == {}
    (line,) = [l for l in start.capture.above_debug() if l["message"] == "error"]
    assert line["last_try"] is True and line["run_id"] == item["run_id"]


# -- 8. the same bad upload delivered twice at once ------------------------------------------


def test_the_same_bad_upload_delivered_twice_at_once_is_one_notice(stack, lambda_context):
    """Two execution environments (two loads of the handler) take the same event at the
    same moment; both get past the first look at the runs table before either writes."""
    events = stack.put("inputs/gene.fasta", b">g\n" + b"ATGC" * 30 + b"\n")
    apps = [load_handler("start_pipeline") for _ in range(2)]
    arrived = threading.Barrier(2)

    def wait_for_the_other(**kwargs):  # each at its first write: the race window
        try:
            arrived.wait(timeout=3)
        except threading.BrokenBarrierError:
            pass  # the other delivery never got this far

    for app in apps:
        app.start_context.cache_clear()
        for client in (app.start_context().s3,):
            client.meta.events.register("before-call.s3.CopyObject", wait_for_the_other)
        app.start_context().runs.get("warm-up")  # clients made before the race
    results: list[dict] = []
    threads = [
        threading.Thread(
            target=lambda a=a: results.append(a.lambda_handler(sqs_batch(events), lambda_context))
        )
        for a in apps
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == [{"batchItemFailures": []}] * 2
    assert len(stack.notices()) == 1
    assert stack.keys("inputs/") == [] and len(stack.keys("rejected/")) == 2


def test_a_rejection_that_failed_midway_is_finished_by_its_retry(stack, start):
    events = stack.put("inputs/gene.fasta", b">g\n" + b"ATGC" * 30 + b"\n")
    sns = start.app.start_context().notices()
    down = ClientError({"Error": {"Code": "InternalError", "Message": "injected"}}, "Publish")

    def fail(**kwargs):
        raise down

    sns.meta.events.register("before-call.sns.Publish", fail)
    assert start(events)["batchItemFailures"]
    sns.meta.events.unregister("before-call.sns.Publish", fail)
    assert stack.notices() == [] and stack.keys("inputs/") == ["inputs/gene.fasta"]

    assert start(events, attempt=2) == {"batchItemFailures": []}  # at once, not after a lease
    assert len(stack.notices()) == 1 and stack.keys("inputs/") == []
    assert start(events, attempt=3) == {"batchItemFailures": []}
    assert len(stack.notices()) == 0


# -- 9. intake edge cases --------------------------------------------------------------------


def test_a_folder_object_is_ignored(stack, start):
    events = stack.put("inputs/campaign/", b"")
    assert start(events) == {"batchItemFailures": []}
    assert stack.notices() == [] and stack.keys("rejected/") == []
    assert stack.keys("inputs/") == ["inputs/campaign/"] and runs(stack).recent() == []


@pytest.mark.parametrize("sequence", ["GA" * 60, "A" * 40 + "G" * 20], ids=["poly-GA", "poly-A+G"])
def test_a_protein_in_base_letters_starts(stack, start, sequence):
    start(stack.put("inputs/c9orf72-dpr.fasta", f">DPR_GA\n{sequence}\n".encode()))
    assert len(stack.executions()) == 1 and stack.notices() == []


def test_rejection_reasons_in_notices_never_quote_headers(stack, start):
    header = "PATIENT-0042_confidential"
    body = f">{header}\n{SEQ}\n>{header}\n{SEQ}\n>x\nMKV\n".encode()
    start(stack.put("inputs/dup.fasta", body))
    (notice,) = stack.notices()
    assert "PATIENT" not in notice["Message"] and "PATIENT" not in notice["Subject"]
    assert "records 1 and 2" in notice["Message"]


def test_more_than_26_chains_start_when_the_stack_allows_them(stack, start, monkeypatch):
    monkeypatch.setenv("FOLDLINE_MAX_CHAINS", "30")
    monkeypatch.setenv("FOLDLINE_MAX_RESIDUES", "2500")
    body = "".join(f">c{i}\n{SEQ[i : i + 40]}\n" for i in range(27)).encode()
    assert start(stack.put("inputs/27mer.fasta", body)) == {"batchItemFailures": []}

    (execution,) = stack.executions()
    listed = stack.sagemaker.list_pipeline_parameters_for_execution(
        PipelineExecutionArn=execution["PipelineExecutionArn"]
    )["PipelineParameters"]
    params = {p["Name"]: p["Value"] for p in listed}
    assert params["ModelPreset"] == "multimer"
    query_key = msa_cache.key_of_uri(params["MsaCacheS3URI"])
    query = (
        stack.s3.get_object(
            Bucket=BUCKET, Key=layout.msa_cache_input_prefix(query_key) + layout.MSA_QUERY_FILE
        )["Body"]
        .read()
        .decode()
    )
    assert query.count(">") == 27 and ">chain_AA\n" in query


def _start_role_may_list_inputs() -> bool:
    """Whether the template grants the start role s3:ListBucket over inputs/."""
    from pipeline import embedded
    from tests.infra.conftest import TEMPLATE
    from tests.infra.test_iam import _as_list, identity_statements

    for role, statement in identity_statements(embedded.load_template(TEMPLATE)):
        if role == "StartPipelineFunctionRole" and "s3:ListBucket" in _as_list(statement["Action"]):
            prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", [])
            if any(p.startswith(layout.INPUTS) for p in _as_list(prefixes)):
                return True
    return False


class StartRolesS3:
    """S3 as it answers the start role: HeadObject on a missing key is 403 (AccessDenied),
    not 404, to a role that may not list the bucket there (S3's documented behaviour,
    which moto does not model), on top of moto's real objects."""

    def __init__(self, client, may_list: bool) -> None:
        import boto3

        self.admin = boto3.client("s3")
        self.may_list = may_list
        self.asked: list[str] = []
        client.meta.events.register("before-parameter-build.s3.HeadObject", self)

    def __call__(self, params=None, **kwargs):
        self.asked.append(params["Key"])
        if self.may_list:
            return
        try:
            self.admin.head_object(Bucket=params["Bucket"], Key=params["Key"])
        except ClientError:
            raise ClientError(
                {
                    "Error": {"Code": "403", "Message": "Forbidden"},
                    "ResponseMetadata": {"HTTPStatusCode": 403},
                },
                "HeadObject",
            ) from None
        return


@pytest.mark.parametrize(
    "encoded",
    ["inputs/my+target%2B1+%CE%B1.fasta", "inputs%2Fmy+target%2B1+%CE%B1.fasta"],
    ids=["s3-encoding", "slash-encoded-too"],
)
def test_url_encoded_keys_are_decoded_before_head_object(stack, start, encoded):
    events = stack.put("inputs/my target+1 α.fasta", FASTA_6KWC)
    events[0]["detail"]["object"]["key"] = encoded
    s3 = StartRolesS3(start.app.start_context().s3, _start_role_may_list_inputs())

    assert start(events) == {"batchItemFailures": []}

    (execution,) = stack.executions()
    assert execution["PipelineExecutionDisplayName"].startswith("my-target-1-")
    assert s3.asked[0] == "inputs/my target+1 α.fasta"  # decoded first


def test_a_key_with_a_real_plus_sign_still_starts(stack, start):
    events = stack.put("inputs/a+b.fasta", FASTA_6KWC)  # moto: the event holds the raw key
    start(events)
    (execution,) = stack.executions()
    assert execution["PipelineExecutionDisplayName"].startswith("a-b-")
