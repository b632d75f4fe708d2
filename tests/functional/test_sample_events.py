"""The S3 sample events in events/ drive the start function as delivered (direct and via SQS).

(The pipeline sample events drive their functions in test_analysis_handler,
test_notify_handler and test_progress_handler.)
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import DATA, load_handler, sqs_batch
from tests.functional.conftest import BUCKET
from tests.functional.pipeline_runs import EVENTS

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
