"""Screening mode through the real start function under moto: one drop, one run per record."""

from __future__ import annotations

import json

import pytest

from foldline.intake.concurrency import (
    DEFERRALS_ATTRIBUTE,
    Backoff,
    ConcurrencyGate,
    release_slot,
)
from foldline.intake.run_identity import member_run_id
from foldline.runs.campaigns import Campaigns
from foldline.runs.table import RunsTable
from tests.conftest import DATA, load_handler, sqs_batch
from tests.moto_stack import RUNS_TABLE

SEQ_6KWC = "".join((DATA / "openfold-6kwc" / "6kwc.fasta").read_text().splitlines()[1:])
#: distinct real-looking monomers: pieces of 6KWC's chain (any protein letters fold here)
PIECES = [SEQ_6KWC[i : i + 60] for i in range(0, 180, 30)]


def screen_fasta(records: list[tuple[str, str]]) -> bytes:
    return "".join(f">{name} a record\n{seq}\n" for name, seq in records).encode()


#: six records: four distinct sequences, one repeated twice (one in lower case), one DNA
SCREEN = [
    ("p1", PIECES[0]),
    ("p2", PIECES[1]),
    ("p1_again", PIECES[0].lower()),
    ("dna", "ATGGCGTACGATCGATCGATCGTAGCTAGCTAG"),
    ("p3", PIECES[2]),
    ("p2_again", PIECES[1]),
]


def campaign_of(stack, events) -> tuple[str, dict]:
    from foldline.intake.run_identity import run_id_for, upload_version

    detail = events[0]["detail"]
    head = stack.s3.head_object(Bucket=detail["bucket"]["name"], Key=detail["object"]["key"])
    campaign_id = run_id_for(
        detail["bucket"]["name"],
        detail["object"]["key"],
        upload_version(head.get("VersionId"), head["ETag"]),
    )
    item = Campaigns(RunsTable(RUNS_TABLE, stack.dynamodb)).get(campaign_id)
    return campaign_id, item


def test_a_screen_becomes_one_run_per_record_and_a_bad_record_sinks_nothing(stack, start):
    events = stack.put("inputs/screen.fasta", screen_fasta(SCREEN), tags="Mode=screen")
    assert start(events) == {"batchItemFailures": []}

    executions = stack.executions()
    assert len(executions) == 5  # every good record, repeats included
    campaign_id, campaign = campaign_of(stack, events)
    assert [m["record_id"] for m in campaign["members"]] == [name for name, _ in SCREEN]
    assert campaign["expected"] == 6 and campaign["unique_sequences"] == 3
    runs = RunsTable(RUNS_TABLE, stack.dynamodb)
    members = {m["record_id"]: runs.get(m["run_id"]) for m in campaign["members"]}
    assert {r: i["status"] for r, i in members.items()} == {
        "p1": "Executing",
        "p2": "Executing",
        "p1_again": "Executing",
        "dna": "Rejected",
        "p3": "Executing",
        "p2_again": "Executing",
    }
    assert "nucleotide" in members["dna"]["reason"] and members["dna"]["campaign_record"] == 4
    assert {e["PipelineExecutionDisplayName"] for e in executions} == {
        i["run_id"] for i in members.values() if i["status"] == "Executing"
    }
    # repeated chains share one MSA cache key (the MSA step searches each key once)
    assert members["p1"]["msa_cache_key"] == members["p1_again"]["msa_cache_key"]
    assert members["p2"]["msa_cache_key"] == members["p2_again"]["msa_cache_key"]
    assert members["p1"]["msa_cache_key"] != members["p2"]["msa_cache_key"]
    assert campaign["ended"] == {members["dna"]["run_id"]}  # the refused record has ended
    assert stack.notices() == []  # no notice per refused record; the summary names it
    assert stack.keys("rejected/") == []  # the drop itself is not rejected

    # the same event again (SQS redelivery, a Lambda retry): nothing new
    assert start(events) == {"batchItemFailures": []}
    assert len(stack.executions()) == 5
    assert Campaigns(runs).get(campaign_id)["ended"] == campaign["ended"]
    assert members["p1"]["run_id"] == member_run_id(campaign_id, 1, "p1")


def test_a_drop_over_the_limit_is_rejected_whole_with_the_limit_named(stack, start, monkeypatch):
    monkeypatch.setenv("FOLDLINE_MAX_SCREEN_SEQUENCES", "3")
    events = stack.put("inputs/big.fasta", screen_fasta(SCREEN), tags="Mode=screen")
    start(events)
    assert stack.executions() == []
    (notice,) = stack.notices()
    assert "6 sequences in one screening drop; the limit is 3" in notice["Message"]
    assert stack.keys("rejected/") == ["rejected/big.fasta", "rejected/big.fasta.reason.json"]


def test_an_unknown_mode_is_refused_rather_than_folded_as_one_run(stack, start):
    events = stack.put("inputs/odd.fasta", screen_fasta(SCREEN[:1]), tags="Mode=batch")
    start(events)
    assert stack.executions() == []
    (notice,) = stack.notices()
    assert "Mode=screen" in notice["Message"]


def test_a_drop_of_only_bad_records_ends_its_campaign_at_once_with_one_summary(stack, start):
    bad = [("dna1", "ATGGCGTACGATCGATCGATCGTAGCTAGCTAG"), ("short", "MKV")]
    events = stack.put("inputs/bad.fasta", screen_fasta(bad), tags="Mode=screen")
    start(events)
    start(events)  # redelivered: still one summary
    assert stack.executions() == []
    (summary,) = stack.notices()
    assert summary["MessageAttributes"]["status"]["Value"] == "campaign-ended"
    assert "2 rejected" in summary["Subject"]
    assert "nucleotide" in summary["Message"] and "minimum is 16" in summary["Message"]


@pytest.fixture
def start_queue(stack):
    url = stack.sqs.create_queue(QueueName="StartQueue")["QueueUrl"]
    return url


def test_a_screen_waits_for_slots_part_way_and_loses_or_doubles_nothing(
    stack, start_queue, lambda_context, monkeypatch
):
    monkeypatch.setenv("FOLDLINE_MAX_CONCURRENT_EXECUTIONS", "2")
    monkeypatch.setenv("START_QUEUE_URL", start_queue)
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    app.deferrer.cache_clear()
    app.deferrer().backoff = Backoff(base_s=0, max_s=0)
    # moto's executions end at once: the gate's self-healing would free their slots
    monkeypatch.setattr(ConcurrencyGate, "reconcile", lambda self, force=False: [])

    def poll() -> list[dict]:
        got = stack.sqs.receive_message(
            QueueUrl=start_queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", [])
        for message in got:
            event = sqs_batch([json.loads(message["Body"])])
            event["Records"][0]["messageAttributes"] = {
                k: {"stringValue": v["StringValue"], "dataType": v["DataType"]}
                for k, v in (message.get("MessageAttributes") or {}).items()
            }
            assert app.lambda_handler(event, lambda_context) == {"batchItemFailures": []}
            stack.sqs.delete_message(QueueUrl=start_queue, ReceiptHandle=message["ReceiptHandle"])
        return got

    events = stack.put("inputs/screen.fasta", screen_fasta(SCREEN), tags="Mode=screen")
    stack.sqs.send_message(QueueUrl=start_queue, MessageBody=json.dumps(events[0]))
    runs = RunsTable(RUNS_TABLE, stack.dynamodb)
    rounds = 0
    while waiting := poll():
        rounds += 1
        assert rounds < 10
        (message,) = waiting
        assert len(ConcurrencyGate(runs, 2, None, "").holders()) <= 2  # the cap holds
        for execution in stack.executions():  # the slots' runs end; their end frees them
            release_slot(runs.table, execution["PipelineExecutionDisplayName"])
        if rounds > 1:  # each wait after progress starts from the shortest delay again
            deferrals = message.get("MessageAttributes", {}).get(DEFERRALS_ATTRIBUTE)
            assert deferrals is None or deferrals["StringValue"] == "1"
    names = [e["PipelineExecutionDisplayName"] for e in stack.executions()]
    assert len(names) == len(set(names)) == 5  # 0 lost, 0 duplicated
    assert rounds >= 3  # two slots: the five runs needed three rounds


def test_each_record_is_judged_as_a_file_of_its_own():
    from foldline.intake.fasta import IntakeLimits, decide, decide_each_record

    records = [
        ("a", PIECES[0]),
        ("a", PIECES[1]),  # the same id again: refused, the first stands
        ("bad", "MKV*Q" + PIECES[2]),
        ("b", PIECES[3]),
    ]
    judged, sunk = decide_each_record(screen_fasta(records))
    assert sunk is None
    assert [j.decision.accepted for j in judged] == [True, False, False, True]
    assert judged[1].decision.rejection.code == "duplicate_ids"
    # the words it would get alone, naming it by its place in the drop
    alone = decide(b">bad\nMKV*Q" + PIECES[2].encode() + b"\n")
    assert judged[2].decision.reason == alone.reason.replace("record 1", "record 3")
    assert [j.chain.number for j in judged] == [1, 2, 3, 4]
    # what sinks the whole drop
    assert decide_each_record(b"\x89PNG....")[1].code == "not_fasta"
    limits = IntakeLimits(max_screen_sequences=3)
    assert decide_each_record(screen_fasta(records), limits)[1].code == "too_many_sequences"
    # more chains and residues than one run may have: fine, each record is its own run
    many = [(f"r{i}", PIECES[i % 6] * 5) for i in range(30)]
    judged, sunk = decide_each_record(screen_fasta(many))
    assert sunk is None and all(j.decision.accepted for j in judged)
