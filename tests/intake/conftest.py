"""The intake tests' start function: the real handler, loaded as Lambda loads it."""

from __future__ import annotations

import pytest

from tests.conftest import load_handler, sqs_batch


@pytest.fixture
def start(stack, lambda_context):
    """Invoke the start function on S3 events, as its SQS batch (``start.app``: its module)."""
    app = load_handler("start_pipeline")
    app.start_context.cache_clear()

    def invoke(events: list[dict]) -> dict:
        return app.lambda_handler(sqs_batch(events), lambda_context)

    invoke.app = app
    return invoke
