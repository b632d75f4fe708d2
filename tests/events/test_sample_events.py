"""The S3 sample events in events/ drive the start function as delivered (direct and via SQS).

(The pipeline sample events drive their functions in test_analysis_handler,
test_notify_handler and test_progress_handler.)
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, load_handler, sqs_batch
from tests.moto_stack import BUCKET
from tests.pipeline_runs import EVENTS

FASTA = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()


def pointed_at_upload(event: dict, stack) -> dict:
    """The sample event, naming the object the test really uploaded."""
    put = stack.s3.put_object(Bucket=BUCKET, Key="inputs/6kwc.fasta", Body=FASTA)
    stack.drain(stack.s3_events_queue)
    event["detail"]["bucket"]["name"] = BUCKET
    event["resources"] = [f"arn:aws:s3:::{BUCKET}"]
    event["detail"]["object"].update(
        {"version-id": put["VersionId"], "etag": put["ETag"].strip('"'), "size": len(FASTA)}
    )
    return event


@pytest.mark.parametrize("sample", ["s3-object-created.json", "sqs-s3-object-created.json"])
def test_the_s3_sample_events_start_one_run(stack, lambda_context, sample):
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()
    raw = json.loads((EVENTS / sample).read_text())
    if "Records" in raw:  # already the SQS batch the function receives
        (record,) = raw["Records"]
        record["body"] = json.dumps(pointed_at_upload(json.loads(record["body"]), stack))
        batch = raw
    else:
        batch = sqs_batch([pointed_at_upload(raw, stack)])

    assert app.lambda_handler(batch, lambda_context) == {"batchItemFailures": []}

    (execution,) = stack.executions()
    assert execution["PipelineExecutionDisplayName"].startswith("6kwc-")


# -- routing: each sample event matches the template rule of its function, and no other --

ROUTES = {
    "s3-object-created.json": "InputsRule",
    "pipeline-succeeded.json": "AnalysisFunction",
    "pipeline-failed.json": "NotifyFunction",
    "pipeline-stopped.json": "NotifyFunction",
    "step-succeeded.json": "ProgressFunction",
    "step-failed.json": "ProgressFunction",
}


@pytest.fixture(scope="module")
def template_rules():
    from foldline.local.cloud import LOCAL_STACK_PARAMETERS
    from foldline.local.template import Stack
    from tests.conftest import ROOT

    stack = Stack.from_file(ROOT / "template.yaml", parameter_values=LOCAL_STACK_PARAMETERS)
    bucket = stack.physical_name("FoldlineBucket")
    return bucket, {rule.function or rule.logical_id: rule.pattern for rule in stack.rules()}


def matching(rules: dict, event: dict) -> set[str]:
    from moto.events.models import EventPattern

    return {
        name
        for name, pattern in rules.items()
        if EventPattern.load(json.dumps(pattern)).matches_event(event)
    }


@pytest.mark.parametrize(("sample", "target"), ROUTES.items())
def test_each_sample_event_reaches_its_function_only(template_rules, sample, target):
    bucket, rules = template_rules
    event = json.loads((EVENTS / sample).read_text())
    if event["source"] == "aws.s3":
        event["detail"]["bucket"]["name"] = bucket  # the stack's bucket, as S3 names it
    assert matching(rules, event) == {target}


@pytest.mark.parametrize("sample", [s for s in ROUTES if s.startswith(("pipeline", "step"))])
def test_another_pipelines_events_reach_nothing(template_rules, sample):
    _, rules = template_rules
    event = json.loads((EVENTS / sample).read_text())
    event["detail"]["pipelineArn"] = event["detail"]["pipelineArn"].replace(
        "proteinfoldworkflow", "someoneelsespipeline"
    )
    assert matching(rules, event) == set()
