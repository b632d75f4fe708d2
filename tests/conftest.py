"""Shared fixtures: AWS under moto, and the Lambda handlers loaded as `sam` deploys them."""

from __future__ import annotations

import http.server
import importlib.util
import io
import json
import os
import sys
import tarfile
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"

# programs run inside the step images (they import the engines: jax, openmm), not test
# modules: --doctest-modules (pyproject) must not import them here
collect_ignore_glob = ["containers/in_image/*.py"]

# Never reach a real account from a test, whatever the developer's shell holds.
for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_NAMESPACE="foldline-test",
)


def load_handler(function_dir: str):
    """Import ``functions/<dir>/app.py`` under a unique name (every function has an app.py)."""
    path = ROOT / "functions" / function_dir / "app.py"
    name = f"foldline_function_{function_dir}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


class LambdaContext:
    """The attributes Powertools reads from a Lambda context."""

    function_name = "test-function"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/test-function"
    log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


def sqs_batch(bodies: list[dict]) -> dict:
    """An SQS event as Lambda delivers it, wrapping EventBridge events."""
    return {
        "Records": [
            {
                "messageId": f"msg-{i}",
                "receiptHandle": f"handle-{i}",
                "body": json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:StartQueue",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def tar_bytes(members: dict[str, bytes], mode: str = "w:gz") -> bytes:
    """A tar archive of ``members`` (name -> bytes) in memory; ``mode`` "w" for no gzip."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def web(tmp_path):
    """A local web server over a folder: ``(folder, base URL)``."""
    root = tmp_path / "web"
    root.mkdir()
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **kw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


# template.yaml's stack under moto, for the tests of the handlers (tests/moto_stack.py), and
# an ended pipeline run in it (tests/pipeline_runs.py): fixtures, offered to every test
from tests.moto_stack import stack  # noqa: F401
from tests.pipeline_runs import ended_run  # noqa: F401

# a tool's skip fails where FOLDLINE_TESTS_REQUIRE_TOOLS=1 (CI): tests/strict_skips.py
from tests.strict_skips import pytest_runtest_makereport  # noqa: F401
