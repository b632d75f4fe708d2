"""The Experiments tracker: create-if-absent, as AWS answers (Stubber) and as moto does."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from foldline.outcomes.tracking import SageMakerExperimentsTracker, TrackedRun, experiment_name

T0 = dt.datetime(2026, 11, 26, 14, 3, 56, tzinfo=dt.UTC)
RUN = TrackedRun(
    target="T1030 (v2)",
    run_id="T1030-v2-75408978aa678e54c65712db9deb8884",
    execution_arn="arn:aws:sagemaker:us-east-1:123456789012:pipeline/p/execution/x1",
    parameters={"ModelPreset": "monomer_ptm", "NumMultimerPredictionsPerModel": 5},
    metrics={f"m{i}": float(i) for i in range(12)},  # more than one BatchPutMetrics call
    artifacts={"report": "s3://b/runs/r/report/report.html"},
    inputs={"fasta": "s3://b/runs/r/input/T1030.fasta"},
    start_time=T0,
    end_time=T0 + dt.timedelta(hours=1),
)


def test_names_are_valid_experiment_names():
    assert experiment_name("T1030 (v2)") == "foldline-T1030-v2"
    assert len(experiment_name("x" * 500)) == 120
    assert experiment_name("+++") == "foldline"


def test_a_run_is_logged_under_moto():
    with mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        tracker = SageMakerExperimentsTracker(
            sm, boto3.client("sagemaker-metrics", region_name="us-east-1")
        )
        ref = tracker.log_run(RUN)
        component = sm.describe_trial_component(TrialComponentName=ref.trial_component)
        assert sm.describe_trial(TrialName=ref.trial)["ExperimentName"] == "foldline-T1030-v2"
        assert component["Parameters"]["NumMultimerPredictionsPerModel"] == {"NumberValue": 5.0}
        assert component["Parameters"]["ModelPreset"] == {"StringValue": "monomer_ptm"}
        assert component["OutputArtifacts"]["report"]["MediaType"] == "text/html"
        assert component["InputArtifacts"]["fasta"]["MediaType"] == "text/x-fasta"
        assert {m["MetricName"]: m["Last"] for m in component["Metrics"]} == RUN.metrics


def already_exists(stub: Stubber, operation: str, what: str) -> None:
    stub.add_client_error(operation, "ValidationException", f"{what} already exists.")


def test_logging_again_on_aws_updates_instead_of_failing():
    """AWS refuses duplicate names; the tracker then updates with the whole parameter map."""
    sm = boto3.client("sagemaker", region_name="us-east-1")
    metrics = boto3.client("sagemaker-metrics", region_name="us-east-1")
    component = f"{RUN.run_id}-comparison"
    with Stubber(sm) as stub, Stubber(metrics) as mstub:
        already_exists(stub, "create_experiment", "Experiment foldline-T1030-v2")
        already_exists(stub, "create_trial", f"Trial {RUN.run_id}")
        already_exists(stub, "create_trial_component", f"TrialComponent {component}")
        stub.add_response(
            "update_trial_component",
            {
                "TrialComponentArn": f"arn:aws:sagemaker:us-east-1:123456789012:experiment-trial-component/{component}"
            },
            {
                "TrialComponentName": component,
                "Status": ANY,
                "StartTime": T0,
                "EndTime": ANY,
                "Parameters": {
                    "ModelPreset": {"StringValue": "monomer_ptm"},
                    "NumMultimerPredictionsPerModel": {"NumberValue": 5.0},
                },
                "InputArtifacts": ANY,
                "OutputArtifacts": ANY,
            },
        )
        stub.add_client_error(
            "associate_trial_component",
            "ValidationException",
            "TrialComponent is already associated with the trial.",
        )
        mstub.add_response("batch_put_metrics", {})
        mstub.add_response("batch_put_metrics", {})

        SageMakerExperimentsTracker(sm, metrics).log_run(RUN)

        stub.assert_no_pending_responses()
        mstub.assert_no_pending_responses()


def test_other_errors_are_not_swallowed():
    sm = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sm) as stub:
        stub.add_client_error("create_experiment", "ResourceLimitExceeded", "too many experiments")
        with pytest.raises(Exception, match="ResourceLimitExceeded"):
            SageMakerExperimentsTracker(sm, None).log_run(RUN)


def test_refused_metrics_raise():
    with mock_aws():
        sm = boto3.client("sagemaker", region_name="us-east-1")
        metrics = boto3.client("sagemaker-metrics", region_name="us-east-1")
        with Stubber(metrics) as mstub:
            mstub.add_response(
                "batch_put_metrics",
                {"Errors": [{"Code": "METRIC_LIMIT_EXCEEDED", "MetricIndex": 0}]},
            )
            with pytest.raises(RuntimeError, match="METRIC_LIMIT_EXCEEDED"):
                SageMakerExperimentsTracker(sm, metrics).log_run(RUN)
