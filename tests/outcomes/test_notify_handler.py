"""The notify function under moto: Failed/Stopped runs and given-up analyses -> one notice.

moto lacks ListPipelineExecutionSteps: that call goes through botocore's Stubber on a
SageMaker client (the context's ``list_steps``), everything else through moto.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import partial

import boto3
import pytest
from botocore.stub import Stubber

from foldline.events.pipeline import list_execution_steps
from foldline.outcomes.failed import step_reports, training_log_links
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_ENGINE, MSA_STEP, OPENFOLD_STEP
from tests.conftest import load_handler
from tests.moto_stack import BUCKET
from tests.pipeline_runs import EVENTS, job_name, set_execution_status

OOM = (
    "AlgorithmError: RuntimeError: CUDA out of memory. Tried to allocate 2.41 GiB "
    "(GPU 0; 22.05 GiB total capacity), exit code: 1"
)
T0 = dt.datetime(2026, 11, 26, 14, 4, tzinfo=dt.UTC)


@pytest.fixture
def notify(ended_run, lambda_context):
    app = load_handler("notify")
    app.notify_context.cache_clear()

    def invoke(event: dict) -> dict:
        return app.lambda_handler(event, lambda_context)

    invoke.app = app
    return invoke


def training_job_arn(run, step) -> str:
    return (
        "arn:aws:sagemaker:us-east-1:123456789012:training-job/"
        + job_name(run.execution_arn, step).lower()
    )


def failed_steps_response(run) -> dict:
    """ListPipelineExecutionSteps for a run whose OpenFold step ran out of GPU memory."""

    def step(s, status, **extra):
        return {
            "StepName": s.name,
            "StepStatus": status,
            "StartTime": T0,
            "EndTime": T0,
            "Metadata": {"TrainingJob": {"Arn": training_job_arn(run, s)}},
            **extra,
        }

    return {
        "PipelineExecutionSteps": [
            step(MSA_STEP, "Succeeded"),
            step(ALPHAFOLD_STEP, "Succeeded"),
            step(OPENFOLD_STEP, "Failed", FailureReason=OOM),
        ]
    }


@pytest.fixture
def steps_stub(ended_run, notify):
    """A Stubber-backed ListPipelineExecutionSteps wired into the notify context."""
    client = boto3.client("sagemaker")
    stub = Stubber(client)
    notify.app.notify_context().list_steps = partial(list_execution_steps, client)
    with stub:
        yield stub


def test_a_failed_run_is_one_notice_naming_the_step_its_reason_and_logs(
    ended_run, notify, steps_stub
):
    run = ended_run
    set_execution_status(run, "Failed")
    steps_stub.add_response(
        "list_pipeline_execution_steps",
        failed_steps_response(run),
        {"PipelineExecutionArn": run.execution_arn, "SortOrder": "Ascending"},
    )

    result = notify(run.event("pipeline-failed.json"))

    steps_stub.assert_no_pending_responses()
    assert result["action"] == "notified" and result["failed_step"] == "RunOpenFold"
    (notice,) = run.notices()
    assert notice["Subject"].startswith("foldline: 6kwc failed at RunOpenFold: AlgorithmError")
    assert len(notice["Subject"]) < 100
    body = notice["Message"]
    assert f"Reason: {OOM}" in body
    job = job_name(run.execution_arn, OPENFOLD_STEP).lower()
    assert f"aws logs tail /aws/sagemaker/TrainingJobs --log-stream-name-prefix {job}" in body
    assert "logsV2:log-groups/log-group/$252Faws$252Fsagemaker$252FTrainingJobs" in body
    assert "Step RunAlphaFold: Succeeded" in body and run.execution_arn in body
    # the engine the run asked for, read from the execution's own parameters
    assert f"MSA engine (MsaEngine): {run.item()['parameters'][MSA_ENGINE.name]}" in body
    attributes = {k: v["Value"] for k, v in notice["MessageAttributes"].items()}
    assert attributes == {
        "status": "failed",
        "target": "6kwc",
        "run_id": run.run_id,
        "failed_step": "RunOpenFold",
    }
    item = run.item()
    assert (item["status"], item["failed_step"], item["failure_reason"]) == (
        "Failed",
        "RunOpenFold",
        OOM,
    )


def test_the_same_failed_event_twice_is_one_notice(ended_run, notify, steps_stub):
    run = ended_run
    steps_stub.add_response("list_pipeline_execution_steps", failed_steps_response(run))
    event = run.event("pipeline-failed.json")

    first = notify(event)
    second = notify(event)

    assert second == first
    assert len(run.notices()) == 1


def test_a_stopped_run_is_noticed_even_without_step_details(ended_run, notify):
    run = ended_run  # moto: ListPipelineExecutionSteps is not there at all
    set_execution_status(run, "Stopped")

    result = notify(run.event("pipeline-stopped.json"))

    assert result["status"] == "Stopped"
    (notice,) = run.notices()
    assert notice["Subject"] == f"foldline: 6kwc stopped (run {run.run_id})"
    assert "could not be listed" in notice["Message"]
    assert run.item()["status"] == "Stopped"


def test_an_analysis_that_gave_up_says_the_models_are_still_there(ended_run, notify):
    run = ended_run
    keys = run.place_outputs()
    record = json.loads((EVENTS / "analysis-on-failure.json").read_text())
    record["requestPayload"] = run.event("pipeline-succeeded.json")

    notify(record)
    notify(record)  # a redelivered destination record

    (notice,) = run.notices()
    assert "analysis failed" in notice["Subject"]
    body = notice["Message"]
    assert "Error: CorruptOutput: alphafold.model.tar.gz: not a gzip file" in body
    assert "failed after 3 attempts" in body
    for step in ("alphafold", "openfold"):
        assert f"s3://{BUCKET}/{keys[step]}" in body
    assert notice["MessageAttributes"]["status"]["Value"] == "analysis-failed"
    item = run.item()
    assert item["analysis_status"] == "Failed" and item["status"] == "Succeeded"


def test_a_succeeded_execution_is_not_for_notify(ended_run, notify):
    assert notify(ended_run.event("pipeline-succeeded.json"))["action"] == "ignored"
    assert ended_run.notices() == []


def test_log_links_point_at_the_jobs_streams():
    console, cli = training_log_links("pipelines-abc-RunOpenFold-X1", "eu-west-1")
    assert console.startswith(
        "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#"
    )
    assert console.endswith("$3FlogStreamNameFilter$3Dpipelines-abc-RunOpenFold-X1")
    assert cli == (
        "aws logs tail /aws/sagemaker/TrainingJobs --log-stream-name-prefix "
        "pipelines-abc-RunOpenFold-X1 --region eu-west-1"
    )


def test_step_reports_take_the_job_name_with_its_case_from_describe_training_job():
    client = boto3.client("sagemaker", region_name="us-east-1")
    arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/pipelines-abc-runopenfold-x1"
    listed = [
        {
            "StepName": "RunOpenFold",
            "StepStatus": "Failed",
            "Metadata": {"TrainingJob": {"Arn": arn}},
        }
    ]
    with Stubber(client) as stub:
        stub.add_response(
            "describe_training_job",
            {
                "TrainingJobName": "pipelines-abc-RunOpenFold-X1",
                "TrainingJobArn": arn,
                "TrainingJobStatus": "Failed",
                "FailureReason": "AlgorithmError: from the job",
                "ModelArtifacts": {"S3ModelArtifacts": ""},
                "AlgorithmSpecification": {"TrainingInputMode": "File", "TrainingImage": "img"},
                "ResourceConfig": {"VolumeSizeInGB": 50},
                "StoppingCondition": {},
                "CreationTime": T0,
                "SecondaryStatus": "Failed",
            },
            {"TrainingJobName": "pipelines-abc-runopenfold-x1"},
        )
        (report,) = step_reports(client, listed, "us-east-1")
    assert report.training_job == "pipelines-abc-RunOpenFold-X1"
    assert report.failure_reason == "AlgorithmError: from the job"  # the step gave none
    assert report.log_links[1].endswith(
        "--log-stream-name-prefix pipelines-abc-RunOpenFold-X1 --region us-east-1"
    )
