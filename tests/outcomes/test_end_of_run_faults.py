"""Faults at the end of a run, through the real analysis, notify and progress handlers:
late and contradictory events, SNS down for good, and malformed events."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.exceptions import ClientError

from foldline.spec import layout
from tests.conftest import load_handler
from tests.moto_stack import BUCKET
from tests.pipeline_runs import EVENTS, IDEMPOTENCY_TABLE, set_execution_status


@pytest.fixture
def handlers(ended_run, lambda_context):
    """The three end-of-run functions, each loaded as Lambda loads it."""
    loaded = {}
    for name, cached in (
        ("analysis", "analysis_context"),
        ("notify", "notify_context"),
        ("progress", "clients"),
    ):
        app = load_handler(name)
        getattr(app, cached).cache_clear()
        loaded[name] = app

    def invoke(name: str, event: object) -> dict:
        return loaded[name].lambda_handler(event, lambda_context)

    invoke.apps = loaded
    return invoke


class SnsDown:
    """SNS refusing every Publish of one client (a botocore before-call hook)."""

    def __init__(self, client) -> None:
        self.client, self.calls = client, 0
        client.meta.events.register("before-call.sns.Publish", self)

    def __call__(self, **kwargs):
        self.calls += 1
        raise ClientError(
            {
                "Error": {"Code": "InternalError", "Message": "SNS is down"},
                "ResponseMetadata": {"HTTPStatusCode": 500},
            },
            "Publish",
        )

    def recover(self) -> None:
        self.client.meta.events.unregister("before-call.sns.Publish", self)


def on_failure_record(run, error: str = "ClientError: SNS is down") -> dict:
    """What Lambda hands the analysis function's on-failure destination (the notify function)."""
    record = json.loads((EVENTS / "analysis-on-failure.json").read_text())
    record["requestPayload"] = run.event("pipeline-succeeded.json")
    record["responsePayload"] = {"errorType": "ClientError", "errorMessage": error}
    return record


# -- a late Failed after Succeeded ----------------------------------------------------------


def test_a_late_failed_event_after_succeeded_changes_nothing_and_sends_nothing(ended_run, handlers):
    run = ended_run
    run.place_outputs()
    set_execution_status(run, "Succeeded")
    assert handlers("analysis", run.event("pipeline-succeeded.json"))["action"] == "reported"
    (_success,) = run.notices()
    before = run.item()

    result = handlers("notify", run.event("pipeline-failed.json"))

    assert result["action"] == "stale"
    assert run.notices() == []
    after = run.item()
    assert (after["status"], after["analysis_status"]) == ("Succeeded", "Succeeded")
    assert (
        after.get("failed_step") is None
        and after["notice_message_id"] == before["notice_message_id"]
    )


def _forget_idempotency(run) -> None:
    """As if a day had passed: the idempotency records (24 h) are gone."""
    table = run.stack.dynamodb.Table(IDEMPOTENCY_TABLE)
    for record in table.scan()["Items"]:
        table.delete_item(Key={"id": record["id"]})


def test_a_late_stopped_after_failed_is_stale_but_sagemaker_decides(ended_run, handlers):
    run = ended_run
    set_execution_status(run, "Failed")
    assert handlers("notify", run.event("pipeline-failed.json"))["action"] == "notified"
    assert len(run.notices()) == 1

    # within a day the idempotency record answers (one notice per execution)...
    assert handlers("notify", run.event("pipeline-stopped.json"))["action"] == "notified"
    _forget_idempotency(run)  # ... and after it, the runs table and SageMaker do
    assert handlers("notify", run.event("pipeline-stopped.json"))["action"] == "stale"
    assert run.notices() == [] and run.item()["status"] == "Failed"

    set_execution_status(run, "Stopped")  # where SageMaker says so, the record follows
    _forget_idempotency(run)
    assert handlers("notify", run.event("pipeline-stopped.json"))["action"] == "notified"
    assert run.item()["status"] == "Stopped"


def test_a_late_succeeded_after_a_failure_sagemaker_confirms_is_stale(ended_run, handlers):
    run = ended_run
    run.place_outputs()
    set_execution_status(run, "Failed")
    handlers("notify", run.event("pipeline-failed.json"))
    run.notices()

    assert handlers("analysis", run.event("pipeline-succeeded.json"))["action"] == "stale"
    assert run.notices() == [] and run.item()["status"] == "Failed"
    assert run.stack.keys(layout.report_prefix(run.run_id)) == []


# -- SNS down for good --------------------------------------------------------------------------


def test_sns_down_for_good_keeps_the_notice_for_the_redrive_and_the_status_true(
    ended_run, handlers
):
    run = ended_run
    run.place_outputs()
    event = run.event("pipeline-succeeded.json")
    analysis_sns = SnsDown(handlers.apps["analysis"].analysis_context().sns)
    notify_sns = SnsDown(handlers.apps["notify"].notify_context().sns)

    for _ in range(3):  # the first try and Lambda's two retries
        with pytest.raises(ClientError, match="SNS is down"):
            handlers("analysis", event)
    with pytest.raises(ClientError, match="SNS is down"):  # the on-failure destination
        handlers(
            "notify", on_failure_record(run)
        )  # raises: Lambda puts it in FunctionFailuresQueue

    item = run.item()
    assert (item["status"], item["analysis_status"]) == ("Succeeded", "Succeeded")
    assert item["report_uri"] and item["pending_notice"]["status"] == "succeeded"
    assert "report.html" in {
        k.rsplit("/", 1)[-1] for k in run.stack.keys(layout.report_prefix(run.run_id))
    }
    assert run.notices() == [] and analysis_sns.calls == 3 and notify_sns.calls == 1

    analysis_sns.recover()
    notify_sns.recover()
    result = handlers("notify", on_failure_record(run))  # `foldline redrive --queue functions`

    assert result["action"] == "notified" and result["status"] == "Succeeded"
    (notice,) = run.notices()
    assert "succeeded" in notice["Subject"] and "TM-score:" in notice["Message"]
    item = run.item()
    assert (item["status"], item["analysis_status"]) == ("Succeeded", "Succeeded")
    assert item["notice_message_id"] and "pending_notice" not in item
    handlers("notify", on_failure_record(run))  # redriven twice: idempotent
    _forget_idempotency(run)
    assert handlers("notify", on_failure_record(run))["action"] == "duplicate"
    assert handlers("analysis", event)["action"] == "duplicate"
    assert run.notices() == []


def test_the_analysis_retry_sends_the_kept_notice_without_analysing_again(ended_run, handlers):
    run = ended_run
    run.place_outputs()
    event = run.event("pipeline-succeeded.json")
    sns = SnsDown(handlers.apps["analysis"].analysis_context().sns)
    with pytest.raises(ClientError):
        handlers("analysis", event)
    page = layout.report_prefix(run.run_id) + "report.html"
    written = run.stack.s3.head_object(Bucket=BUCKET, Key=page)["VersionId"]
    sns.recover()

    assert handlers("analysis", event)["action"] == "reported"

    (notice,) = run.notices()
    assert "TM-score:" in notice["Message"]
    listed = run.stack.s3.list_object_versions(Bucket=BUCKET, Prefix=page)
    assert [v["VersionId"] for v in listed["Versions"]] == [written]  # not written again


def test_a_failed_run_with_sns_down_keeps_its_status_for_the_redrive(ended_run, handlers):
    run = ended_run
    set_execution_status(run, "Failed")
    sns = SnsDown(handlers.apps["notify"].notify_context().sns)
    with pytest.raises(ClientError):
        handlers("notify", run.event("pipeline-failed.json"))
    assert run.item()["status"] == "Failed" and run.notices() == []
    sns.recover()
    assert handlers("notify", run.event("pipeline-failed.json"))["action"] == "notified"
    assert len(run.notices()) == 1


# -- malformed events are logged and dropped ---------------------------------------------------

ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/proteinfoldworkflow/execution/k3v9q2x8m1za"


def _malformed(base: dict) -> list[object]:
    """Variants of a real event, each broken in one way."""

    def changed(**detail) -> dict:
        event = copy.deepcopy(base)
        event["detail"].update(detail)
        return event

    def without(name: str) -> dict:
        event = copy.deepcopy(base)
        event["detail"].pop(name, None)
        return event

    execution = "currentPipelineExecutionStatus" in base["detail"]
    status_key = "currentPipelineExecutionStatus" if execution else "currentStepStatus"
    time_key = "executionStartTime" if execution else "stepStartTime"
    return [
        {},
        [],
        "an event",
        None,
        42,
        [base],
        {"source": "aws.sagemaker"},
        {**base, "detail": None},
        {**base, "detail": "text"},
        {**base, "detail": []},
        {**base, "detail": {}},
        changed(pipelineExecutionArn=12345),
        changed(pipelineExecutionArn="not-an-arn"),
        changed(pipelineExecutionArn=ARN + "/extra"),
        without(status_key),
        changed(**{status_key: {"nested": True}}),
        changed(pipelineArn=["x"]),
        changed(**{time_key: "yesterday"}),
        changed(**({"pipelineExecutionDisplayName": 7} if execution else {"stepName": 7})),
    ]


@pytest.mark.parametrize(
    "function, sample",
    [
        ("analysis", "pipeline-succeeded.json"),
        ("notify", "pipeline-failed.json"),
        ("progress", "step-failed.json"),
    ],
)
def test_malformed_events_are_logged_and_dropped(ended_run, handlers, function, sample):
    import logging

    from tests.intake.test_security import Capture

    base = ended_run.event(sample)
    capture = Capture()
    logging.getLogger("foldline").addHandler(capture)
    try:
        for event in _malformed(base):
            result = handlers(function, event)
            assert result["action"] == "ignored", (event, result)
    finally:
        logging.getLogger("foldline").removeHandler(capture)
    assert ended_run.notices() == []
    ignored = [line for line in capture.above_debug() if line["message"] == "ignored"]
    assert len(ignored) == len(_malformed(base)) and all(line["reason"] for line in ignored)


def test_malformed_step_details_are_dropped(ended_run, handlers):
    base = ended_run.event("step-failed.json")
    for broken in (
        {"metadata": "x"},
        {"metadata": {"trainingJob": "x"}},
        {"metadata": {"trainingJob": {"arn": 5}}},
        {"cacheHitResult": []},
        {"stepName": None},
        {"failureReason": {"a": 1}},
    ):
        event = copy.deepcopy(base)
        event["detail"].update(broken)
        assert handlers("progress", event)["action"] == "ignored", broken


def test_malformed_on_failure_records_are_dropped(ended_run, handlers):
    run = ended_run
    good = on_failure_record(run)
    failed_payload = copy.deepcopy(good)
    failed_payload["requestPayload"] = run.event("pipeline-failed.json")
    for record in (
        {"requestPayload": None},
        {"requestPayload": "x"},
        {"requestPayload": []},
        {**good, "requestPayload": {"detail": {}}},
        failed_payload,
    ):
        assert handlers("notify", record)["action"] == "ignored", record
    odd = {**good, "responsePayload": "text", "requestContext": "text"}  # still a real record
    assert handlers("notify", odd)["action"] == "notified"


@pytest.mark.parametrize(
    "function, sample",
    [
        ("analysis", "pipeline-succeeded.json"),
        ("notify", "pipeline-failed.json"),
        ("progress", "step-failed.json"),
    ],
)
def test_an_event_for_an_execution_sagemaker_does_not_know_is_dropped(
    ended_run, handlers, function, sample
):
    event = ended_run.event(sample)
    event["detail"]["pipelineExecutionArn"] = ARN.replace("k3v9q2x8m1za", "nosuchexecution")
    event["detail"].pop("pipelineExecutionDisplayName", None)
    assert handlers(function, event)["action"] == "ignored"
    assert ended_run.notices() == []
