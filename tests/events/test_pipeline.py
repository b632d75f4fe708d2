"""SageMaker pipeline status events -> records; finding the run and the steps."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from foldline.events.pipeline import (
    ENDED_STATUSES,
    NotAPipelineEvent,
    StepsUnavailable,
    execution_id,
    list_execution_steps,
    parse_execution_event,
    parse_step_event,
    pipeline_name_from_arn,
    run_id_of,
    step_training_job,
)
from foldline.intake.run_identity import is_valid_run_id

EVENTS = Path(__file__).resolve().parents[2] / "events"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/proteinfoldworkflow/execution/k3v9q2x8m1za"


def load(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("pipeline-succeeded.json", "Succeeded"),
        ("pipeline-failed.json", "Failed"),
        ("pipeline-stopped.json", "Stopped"),
    ],
)
def test_execution_events_parse_with_the_run_id_as_display_name(name, status):
    change = parse_execution_event(load(name))
    assert change.status == status
    assert status in ENDED_STATUSES
    assert change.execution_arn == ARN
    assert change.region == "us-east-1"
    assert is_valid_run_id(change.display_name)
    assert change.start_time == dt.datetime(2026, 11, 26, 14, 3, 56, tzinfo=dt.UTC)
    assert change.end_time > change.start_time
    assert pipeline_name_from_arn(change.pipeline_arn) == "proteinfoldworkflow"
    assert execution_id(change.execution_arn) == "k3v9q2x8m1za"


def test_a_failed_step_event_carries_its_reason_and_training_job():
    change = parse_step_event(load("step-failed.json"))
    assert (change.step_name, change.status, change.previous_status) == (
        "RunOpenFold",
        "Failed",
        "Executing",
    )
    assert "CUDA out of memory" in change.failure_reason
    # the ARN lower-cases the job name
    assert change.training_job_name == "pipelines-k3v9q2x8m1za-runopenfold-vb7rkw2xns"
    assert not change.cache_hit


def test_a_cache_hit_is_noticed():
    event = load("step-succeeded.json")
    source = ARN.replace("k3v9q2x8m1za", "earlier00001")
    event["detail"]["cacheHitResult"] = {"sourcePipelineExecutionArn": source}
    change = parse_step_event(event)
    assert change.cache_hit and change.cache_source_execution_arn == source
    assert change.failure_reason is None


def test_the_wrong_kind_of_event_is_refused():
    with pytest.raises(NotAPipelineEvent, match="Execution Status Change"):
        parse_execution_event(load("step-succeeded.json"))
    with pytest.raises(NotAPipelineEvent):
        parse_step_event(load("pipeline-succeeded.json"))
    with pytest.raises(NotAPipelineEvent):
        parse_execution_event(load("s3-object-created.json"))
    broken = load("pipeline-failed.json")
    del broken["detail"]["pipelineExecutionArn"]
    with pytest.raises(NotAPipelineEvent, match="pipelineExecutionArn"):
        parse_execution_event(broken)


def test_run_id_comes_from_the_display_name_or_describe():
    assert run_id_of(None, ARN, "6kwc-0123") == "6kwc-0123"
    client = boto3.client("sagemaker", region_name="us-east-1")
    other_arn = ARN.replace("k3v9q2x8m1za", "lookup000001")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_pipeline_execution",
            {"PipelineExecutionArn": other_arn, "PipelineExecutionDisplayName": "6kwc-abcd"},
            {"PipelineExecutionArn": other_arn},
        )
        assert run_id_of(client, other_arn) == "6kwc-abcd"
        assert run_id_of(client, other_arn) == "6kwc-abcd"  # remembered: one call
        stub.assert_no_pending_responses()


def test_execution_steps_are_read_across_pages():
    client = boto3.client("sagemaker", region_name="us-east-1")
    t0 = dt.datetime(2026, 11, 26, 14, 4, tzinfo=dt.UTC)
    job = "arn:aws:sagemaker:us-east-1:123456789012:training-job/pipelines-k3v9q2x8m1za-runmsa-a1"
    with Stubber(client) as stub:
        stub.add_response(
            "list_pipeline_execution_steps",
            {
                "PipelineExecutionSteps": [
                    {
                        "StepName": "RunMSA",
                        "StepStatus": "Succeeded",
                        "StartTime": t0,
                        "Metadata": {"TrainingJob": {"Arn": job}},
                    }
                ],
                "NextToken": "page-2",
            },
            {"PipelineExecutionArn": ARN, "SortOrder": "Ascending"},
        )
        stub.add_response(
            "list_pipeline_execution_steps",
            {
                "PipelineExecutionSteps": [
                    {
                        "StepName": "RunOpenFold",
                        "StepStatus": "Failed",
                        "FailureReason": "AlgorithmError: boom",
                    }
                ]
            },
            {"PipelineExecutionArn": ARN, "SortOrder": "Ascending", "NextToken": "page-2"},
        )
        steps = list_execution_steps(client, ARN)
    assert [s["StepName"] for s in steps] == ["RunMSA", "RunOpenFold"]
    assert step_training_job(steps[0]) == "pipelines-k3v9q2x8m1za-runmsa-a1"
    assert step_training_job(steps[1]) is None


def test_missing_step_listing_is_reported_not_crashed():
    with mock_aws():  # moto does not implement ListPipelineExecutionSteps
        client = boto3.client("sagemaker", region_name="us-east-1")
        with pytest.raises(StepsUnavailable):
            list_execution_steps(client, ARN)
    client = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("list_pipeline_execution_steps", "AccessDeniedException")
        with pytest.raises(StepsUnavailable, match="AccessDenied"):
            list_execution_steps(client, ARN)
