"""Failures take the same event path as success: a failing step, a bad message, retries."""

from __future__ import annotations

import json
import time

from foldline.local.outbox import read_notice
from foldline.spec.parameters import MSA_STEP

from .conftest import EXAMPLE


def test_a_failing_step_ends_in_a_failure_notice(make_runtime, tmp_path):
    broken = tmp_path / "databases"  # no uniref90/, mgnify/, ...: the MSA step cannot search
    broken.mkdir()
    runtime = make_runtime(databases=broken)
    submission = runtime.upload(EXAMPLE)
    item = runtime.wait([submission.run_id], timeout=300)[submission.run_id]

    assert item["status"] == "Failed"
    sagemaker = runtime.cloud.client("sagemaker")
    described = sagemaker.describe_pipeline_execution(PipelineExecutionArn=item["execution_arn"])
    assert described["PipelineExecutionStatus"] == "Failed"
    assert described["FailureReason"]
    steps = runtime.steps(item["execution_arn"])
    assert [(s["StepName"], s["StepStatus"]) for s in steps] == [(MSA_STEP.name, "Failed")]
    reason = steps[0]["FailureReason"]
    assert reason.startswith("AlgorithmError:") and "uniref90" in reason
    job = steps[0]["Metadata"]["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
    assert sagemaker.describe_training_job(TrainingJobName=job)["TrainingJobStatus"] == "Failed"
    assert (runtime.workdir / "jobs" / job / "training.log").is_file()

    notices = [read_notice(p) for p in sorted((runtime.workdir / "outbox").glob("*.eml"))]
    assert [n.status for n in notices] == ["failed"]
    assert notices[0].run_id == submission.run_id
    assert MSA_STEP.name in notices[0].body and "uniref90" in notices[0].body
    # local: the log on this machine and its last lines, not the AWS console
    body, log = notices[0].body, runtime.workdir.resolve() / "jobs" / job / "training.log"
    assert "console.aws.amazon.com" not in body and f"    {log}\n" in body
    last = [line for line in log.read_text().splitlines() if line.strip()][-1]
    assert f"    | {last}" in body


def test_only_failed_records_of_a_batch_return_and_end_in_the_dead_letter_queue(make_runtime):
    runtime = make_runtime(retry_delay=0)
    sqs = runtime.cloud.client("sqs")
    route = next(
        r for r in runtime.cloud.routes if r.function.logical_id == "StartPipelineFunction"
    )
    dlq = json.loads(
        sqs.get_queue_attributes(QueueUrl=route.queue_url, AttributeNames=["RedrivePolicy"])[
            "Attributes"
        ]["RedrivePolicy"]
    )
    dlq_url = sqs.get_queue_url(QueueName=dlq["deadLetterTargetArn"].rsplit(":", 1)[-1])["QueueUrl"]

    # one upload event the handler cannot parse, in the same queue as a real upload
    sqs.send_message(QueueUrl=route.queue_url, MessageBody="not json")
    submission = runtime.upload(EXAMPLE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        dead = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", [])
        if dead:
            break
        time.sleep(0.2)
    assert [m["Body"] for m in dead] == ["not json"]
    attempts = [i for i in runtime.dispatcher.invocations if i.function == "StartPipelineFunction"]
    failed_ids = {
        f["itemIdentifier"] for i in attempts for f in (i.result or {}).get("batchItemFailures", [])
    }
    assert len(failed_ids) == 1  # the same bad message each time, never the good one
    assert len(attempts) >= dlq["maxReceiveCount"] - 1
    item = runtime.run(submission.run_id)
    assert item is not None and item["status"] in ("Executing", "Succeeded", "Failed")
    executions = runtime.cloud.client("sagemaker").list_pipeline_executions(
        PipelineName=runtime.cloud.stack.pipelines()[0].name
    )["PipelineExecutionSummaries"]
    assert len(executions) == 1  # the good upload started exactly one run
