"""The progress function under moto: step status events -> ``steps.<StepName>`` in the
runs table.
"""

from __future__ import annotations

import pytest

from foldline.spec.parameters import ALPHAFOLD_STEP, OPENFOLD_STEP
from tests.conftest import load_handler
from tests.pipeline_runs import job_name


@pytest.fixture
def progress(ended_run, lambda_context):
    app = load_handler("progress")
    app.clients.cache_clear()

    def invoke(event: dict) -> dict:
        return app.lambda_handler(event, lambda_context)

    return invoke


def executing(event: dict) -> dict:
    """The same step's earlier "Executing" event (no end time yet)."""
    detail = event["detail"]
    detail.update(previousStepStatus="Starting", currentStepStatus="Executing")
    detail.pop("stepEndTime", None)
    detail.pop("failureReason", None)
    return event


def test_a_step_that_succeeded_is_recorded_with_times_and_job(ended_run, progress):
    run = ended_run  # the step event has no display name: the run id comes from SageMaker

    result = progress(run.event("step-succeeded.json"))

    assert result == {
        "action": "recorded",
        "run_id": run.run_id,
        "step": "RunAlphaFold",
        "status": "Succeeded",
        "cache_hit": False,
    }
    step = run.item()["steps"]["RunAlphaFold"]
    assert step["status"] == "Succeeded" and step["type"] == "Training"
    assert (step["started_at"], step["ended_at"]) == (
        "2026-11-26T14:25:02+00:00",
        "2026-11-26T15:05:47+00:00",
    )
    assert step["training_job"] == job_name(run.execution_arn, ALPHAFOLD_STEP).lower()
    assert step["cache_hit"] is False
    assert run.item()["status"] == "Executing"  # the run's own status is not progress's to set


def test_a_failed_step_keeps_its_reason_and_both_steps_are_kept(ended_run, progress):
    run = ended_run
    progress(run.event("step-succeeded.json"))
    progress(run.event("step-failed.json"))

    steps = run.item()["steps"]
    assert set(steps) == {"RunAlphaFold", "RunOpenFold"}
    assert steps["RunOpenFold"]["status"] == "Failed"
    assert "CUDA out of memory" in steps["RunOpenFold"]["failure_reason"]
    assert (
        steps["RunOpenFold"]["training_job"] == job_name(run.execution_arn, OPENFOLD_STEP).lower()
    )


def test_the_current_step_follows_live_steps(ended_run, progress):
    run = ended_run
    progress(executing(run.event("step-failed.json")))
    assert run.item()["current_step"] == "RunOpenFold"
    progress(run.event("step-failed.json"))
    assert run.item()["current_step"] == "RunOpenFold failed"


def test_a_late_executing_event_does_not_undo_a_finished_step(ended_run, progress):
    run = ended_run
    progress(run.event("step-succeeded.json"))

    late = progress(executing(run.event("step-succeeded.json")))

    assert late["action"] == "stale"
    step = run.item()["steps"]["RunAlphaFold"]
    assert step["status"] == "Succeeded" and step["ended_at"] == "2026-11-26T15:05:47+00:00"


def test_a_cache_hit_is_noted(ended_run, progress):
    run = ended_run
    event = run.event("step-succeeded.json")
    earlier = run.execution_arn.rsplit("/", 1)[0] + "/earlier00001"
    event["detail"]["cacheHitResult"] = {"sourcePipelineExecutionArn": earlier}

    assert progress(event)["cache_hit"] is True

    step = run.item()["steps"]["RunAlphaFold"]
    assert step["cache_hit"] is True and step["cache_source_execution_arn"] == earlier


def test_the_same_event_twice_leaves_the_same_record(ended_run, progress):
    run = ended_run
    event = run.event("step-failed.json")
    progress(event)
    first = run.item()["steps"]
    progress(event)
    assert run.item()["steps"] == first


def test_execution_events_are_not_for_progress(ended_run, progress):
    assert progress(ended_run.event("pipeline-succeeded.json"))["action"] == "ignored"
    assert "steps" not in ended_run.item()
