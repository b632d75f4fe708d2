"""A stop of the local runtime loses nothing, in-process: queued uploads, runs cut short,
the concurrency gate, upload identity, the state's paths, one runtime per work folder, and
a notice SNS refuses for good (issue 16). The same cases as processes, with real signals
and ``kill -9``, are in ``test_stop_signals.py``."""

from __future__ import annotations

import json
import time

import pytest

from foldline.intake.concurrency import GATE_KEY
from foldline.local.outbox import read_notice
from foldline.local.runtime import WorkdirBusy
from foldline.runs.table import EXECUTING
from foldline.spec import layout

from .conftest import DNA_FASTA, EXAMPLE


def notices(work) -> list:
    return [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]


def _wait_for(predicate, timeout: float = 120, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_uploads_still_queued_when_the_runtime_stops_run_after_a_restart(make_runtime, tmp_path):
    work = tmp_path / "work"
    files = []
    for i in range(3):
        path = tmp_path / f"dna{i}.fasta"
        path.write_text(DNA_FASTA)
        files.append(path)
    held = make_runtime(work, dispatch=False)  # the queue is never read: every upload waits
    submissions = [held.upload(f) for f in files]
    assert all(held.run(s.run_id) is None for s in submissions)
    held.stop()

    runtime = make_runtime(work)

    assert sorted(runtime.recovered.redriven) == sorted(s.key for s in submissions)
    items = runtime.wait([s.run_id for s in submissions], timeout=120)
    assert {i["status"] for i in items.values()} == {"Rejected"}
    by_run = [n.run_id for n in notices(work) if n.status == "rejected"]
    assert sorted(by_run) == sorted(s.run_id for s in submissions)  # one notice each


def test_a_run_cut_short_is_announced_and_started_again(make_runtime, tmp_path):
    work = tmp_path / "work"
    first = make_runtime(work)
    submission = first.upload(EXAMPLE)
    _wait_for(
        lambda: (first.run(submission.run_id) or {}).get("status") == EXECUTING,
        what="the run to execute",
    )
    first.stop()  # as Ctrl-C does: the execution is stopped, nothing records its end

    runtime = make_runtime(work)

    assert runtime.recovered.resumed == [submission.run_id]
    item = runtime.wait([submission.run_id], timeout=300)[submission.run_id]
    assert item["status"] == "Succeeded"
    statuses = [(n.status, n.run_id) for n in notices(work)]
    assert ("interrupted", submission.run_id) in statuses
    assert ("succeeded", submission.run_id) in statuses
    (interrupted,) = [n for n in notices(work) if n.status == "interrupted"]
    assert "started again" in interrupted.subject and interrupted.attributes["restarted"] == "true"


def test_a_run_whose_upload_is_gone_is_failed_and_announced(make_runtime, tmp_path):
    work = tmp_path / "work"
    first = make_runtime(work, dispatch=False)
    first.runs_table().put(
        "ghost-0123456789abcdef0123456789abcdef",
        status=EXECUTING,
        key="inputs/ghost.fasta",
        target="ghost",
    )
    first.stop()

    runtime = make_runtime(work)

    assert runtime.recovered.lost == ["ghost-0123456789abcdef0123456789abcdef"]
    item = runtime.run("ghost-0123456789abcdef0123456789abcdef")
    assert (item["status"], item["code"]) == ("Failed", "interrupted")
    runtime.wait(["ghost-0123456789abcdef0123456789abcdef"], timeout=60)
    (notice,) = notices(work)
    assert notice.status == "interrupted" and "upload the file again" in notice.body.lower()


def test_no_slot_survives_a_restart(make_runtime, tmp_path):
    work = tmp_path / "work"
    first = make_runtime(work, dispatch=False)
    first.runs_table().connection.put(
        {
            "run_id": GATE_KEY,
            "slots": {
                f"run{i}-0123456789abcdef0123456789abcdef": "2026-12-01T00:00:00.000000Z"
                for i in range(10)
            },
        }
    )
    first.stop()

    runtime = make_runtime(work)

    assert runtime.runs_table().connection.get(GATE_KEY)["slots"] == {}


def test_an_upload_keeps_its_version_and_run_id_across_a_restart(make_runtime, tmp_path, dna_fasta):
    work = tmp_path / "work"
    first = make_runtime(work, dispatch=False)
    submission = first.upload(dna_fasta)
    version = first.cloud.client("s3").head_object(Bucket=first.bucket, Key=submission.key)
    first.stop()

    runtime = make_runtime(work)

    head = runtime.cloud.client("s3").head_object(Bucket=runtime.bucket, Key=submission.key)
    assert head["VersionId"] == version["VersionId"]
    assert head["LastModified"] == version["LastModified"]
    assert runtime.wait([submission.run_id], timeout=60)[submission.run_id]["status"] == "Rejected"


HOSTILE_KEYS = [
    "notes/../../x",
    "../escape",
    "/absolute",
    "a/./b",
    "inputs/campaign/",
    "dir",
    "dir/file",
    "x" * 300,
    "a//b",
    "..",
    ".",
]


def test_saved_objects_stay_inside_the_work_folder_whatever_their_keys(make_runtime, tmp_path):
    work = tmp_path / "work"
    runtime = make_runtime(work, dispatch=False)
    s3 = runtime.cloud.client("s3")
    keys = HOSTILE_KEYS
    for key in keys:
        s3.put_object(Bucket=runtime.bucket, Key=key, Body=f"body of {key}".encode())
    runtime.save()
    runtime.stop()

    state = (work / "state").resolve()
    outside = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and not p.resolve().is_relative_to(work.resolve())
    ]
    assert outside == []
    assert not (tmp_path / "x").exists() and not (work / "x").exists()
    bucket_dir = state / "s3" / runtime.bucket
    for entry in json.loads((bucket_dir / "index.json").read_text()).values():
        assert (bucket_dir / entry["file"]).resolve().is_relative_to(bucket_dir)

    restarted = make_runtime(work, dispatch=False)
    s3 = restarted.cloud.client("s3")
    for key in keys:
        body = s3.get_object(Bucket=restarted.bucket, Key=key)["Body"].read()
        assert body == f"body of {key}".encode(), key


def test_a_saved_index_pointing_outside_is_not_followed(make_runtime, tmp_path):
    work = tmp_path / "work"
    runtime = make_runtime(work, dispatch=False)
    bucket = runtime.bucket
    runtime.stop()
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the bucket")
    index = work / "state" / "s3" / bucket / "index.json"
    index.parent.mkdir(parents=True, exist_ok=True)
    index.write_text(json.dumps({"stolen": {"file": "../../../../secret.txt", "etag": "x"}}))

    restarted = make_runtime(work, dispatch=False)

    listed = restarted.cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix="stolen")
    assert listed.get("KeyCount", 0) == 0


def test_a_second_runtime_on_the_same_work_folder_is_refused(make_runtime, tmp_path):
    work = tmp_path / "work"
    first = make_runtime(work)
    state_file = (work / "local-cloud.json").read_text()
    from foldline.local.runtime import LocalRuntime

    with pytest.raises(WorkdirBusy, match="in use by another"):
        LocalRuntime(work, databases=first.databases).start()

    assert (work / "local-cloud.json").read_text() == state_file  # the first one's, untouched
    assert first.cloud.client("s3").head_bucket(Bucket=first.bucket)  # and it still serves


def test_sns_down_for_good_ends_in_the_failures_queue_and_the_redrive_sends_the_notice(
    make_runtime, tmp_path
):
    """The topic is gone while a run ends: the analysis fails its tries, its on-failure
    destination (notify) fails its own, and the record waits in FunctionFailuresQueue;
    `foldline redrive --queue functions` then sends the notice the analysis kept."""
    from typer.testing import CliRunner

    from foldline.cli.app import app

    work = tmp_path / "work"
    runtime = make_runtime(work, retry_delay=0)
    sns, sqs = runtime.cloud.client("sns"), runtime.cloud.client("sqs")
    topic = runtime.topic_arn
    sns.delete_topic(TopicArn=topic)  # SNS refuses every publish from now on
    submission = runtime.upload(EXAMPLE)
    failures = sqs.get_queue_url(
        QueueName=runtime.cloud.stack.physical_name("FunctionFailuresQueue")
    )["QueueUrl"]

    def waiting() -> int:
        attrs = sqs.get_queue_attributes(
            QueueUrl=failures, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    _wait_for(waiting, timeout=300, what="the record in FunctionFailuresQueue")
    item = runtime.run(submission.run_id)
    assert (item["status"], item["analysis_status"]) == ("Succeeded", "Succeeded")
    assert item["report_uri"] and item["pending_notice"]
    assert notices(work) == []

    sns.create_topic(Name=topic.rsplit(":", 1)[-1])  # SNS is back (the same ARN)
    runtime.outbox.subscribe()
    result = CliRunner().invoke(
        app, ["redrive", "--queue", "functions", "--local", "--workdir", str(work)]
    )
    assert result.exit_code == 0, result.output

    _wait_for(
        lambda: [n for n in notices(work) if n.status == "succeeded"],
        timeout=60,
        what="the success notice",
    )
    item = runtime.run(submission.run_id)
    assert item["notice_message_id"] and "pending_notice" not in item
    assert (item["status"], item["analysis_status"]) == ("Succeeded", "Succeeded")
    assert [n.status for n in notices(work)] == ["succeeded"]
    assert layout.report_prefix(submission.run_id) in item["report_uri"]


def test_saving_the_state_again_reads_no_unchanged_object(make_runtime, tmp_path):
    """The runtime saves its state every few seconds: objects unchanged since the last
    save are neither downloaded nor copied (moto's ListObjectVersions would deep-copy
    every body; over GBs of step outputs that grew the process by GBs)."""
    import tracemalloc

    runtime = make_runtime(tmp_path / "work", dispatch=False)
    s3 = runtime.cloud.client("s3")
    big = bytes(range(256)) * (128 * 1024)  # 32 MiB of step output
    s3.put_object(Bucket=runtime.bucket, Key="runs/r-1/alphafold/job/output/model.tar.gz", Body=big)
    runtime.state.save(runtime.cloud)  # written once
    tracemalloc.start()
    try:
        runtime.state.save(runtime.cloud)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"a save of unchanged objects peaked at {peak / 1e6:.0f} MB"
    saved = runtime.state.saved_objects(runtime.bucket)
    assert saved["runs/r-1/alphafold/job/output/model.tar.gz"]["size"] == len(big)

    s3.put_object(
        Bucket=runtime.bucket, Key="runs/r-1/alphafold/job/output/model.tar.gz", Body=b"x"
    )
    runtime.state.save(runtime.cloud)  # a changed object is saved again
    saved = runtime.state.saved_objects(runtime.bucket)
    assert saved["runs/r-1/alphafold/job/output/model.tar.gz"]["size"] == 1
