"""The local functions' execution environments (foldline.local.lambda_runtime): a process
per function with the template's environment, warm between events, and Lambda's answers
to a handler that raises, overruns its timeout or kills its process."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from foldline.local.lambda_runtime import LocalFunction
from foldline.local.template import Function

HANDLER = """
import json, os, sys, time

LOADED_AT = time.time()  # module scope runs once per execution environment

def lambda_handler(event, context):
    action = event.get("action")
    print(f"handling {action}")  # the function's log, not the runtime's output
    if action == "raise":
        raise ValueError("bad input")
    if action == "exit":
        os._exit(3)
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "wait-for":  # until the test lets it go
        while not os.path.exists(event["path"]):
            time.sleep(0.05)
    if action == "not-json":
        return object()
    if action == "decimal":  # DynamoDB's numbers
        import decimal
        return {"count": decimal.Decimal("3"), "mean": decimal.Decimal("75.8")}
    return {
        "pid": os.getpid(),
        "table": os.environ.get("TABLE_NAME"),
        "extra": os.environ.get("FOLDLINE_LOCAL_WORKDIR"),
        "loaded_at": LOADED_AT,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "function": context.function_name,
    }
"""


def _function(tmp_path: Path, timeout: int = 30, source: str = HANDLER) -> Function:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(source)
    return Function(
        logical_id="ProbeFunction",
        name="foldline-local-ProbeFunction",
        arn="arn:aws:lambda:us-east-1:123456789012:function:foldline-local-ProbeFunction",
        code_uri=code,
        handler="app.lambda_handler",
        environment={"TABLE_NAME": "runs"},
        timeout=timeout,
        memory_size=512,
        events=(),
    )


@pytest.fixture
def local_function(tmp_path):
    made: list[LocalFunction] = []

    def make(**kwargs) -> LocalFunction:
        function = LocalFunction(
            _function(tmp_path, **kwargs),
            tmp_path / "logs",
            {"FOLDLINE_LOCAL_WORKDIR": str(tmp_path)},
        )
        made.append(function)
        return function

    yield make
    for function in made:
        function.close()


def test_a_function_runs_in_its_own_warm_process_with_its_environment(local_function, tmp_path):
    function = local_function()
    first = function.invoke({"action": "probe"}, "test")
    second = function.invoke({"action": "probe"}, "test")

    assert first.error is None and second.error is None
    assert first.result["pid"] == second.result["pid"] != os.getpid()
    assert first.result["loaded_at"] == second.result["loaded_at"]  # imported once
    assert first.result["table"] == "runs" and first.result["extra"] == str(tmp_path)
    assert "TABLE_NAME" not in os.environ  # the runtime's own environment is untouched
    assert first.result["request_id"] == first.request_id != second.request_id
    assert 0 < first.result["remaining_ms"] <= 30_000
    assert first.result["function"] == "foldline-local-ProbeFunction"
    log = (tmp_path / "logs" / "ProbeFunction.log").read_text()
    assert log.count("handling probe") == 2


def test_a_raising_handler_is_an_error_and_the_environment_stays_warm(local_function, tmp_path):
    function = local_function()
    before = function.invoke({}, "test").result["pid"]
    failed = function.invoke({"action": "raise"}, "test")
    assert failed.error == "ValueError: bad input" and failed.result is None
    assert function.invoke({}, "test").result["pid"] == before
    log = (tmp_path / "logs" / "ProbeFunction.log").read_text()
    assert "Traceback" in log and "ValueError: bad input" in log


def test_a_result_that_is_not_json_is_an_error_but_a_decimal_is_a_number(local_function):
    function = local_function()
    failed = function.invoke({"action": "not-json"}, "test")
    assert failed.error.startswith("TypeError") and "JSON" in failed.error
    assert function.invoke({"action": "decimal"}, "test").result == {"count": 3, "mean": 75.8}


def test_a_process_that_dies_is_reported_and_replaced(local_function):
    function = local_function()
    before = function.invoke({}, "test").result["pid"]
    died = function.invoke({"action": "exit"}, "test")
    assert died.error == "Runtime.ExitError: the function's process exited with status 3"
    after = function.invoke({}, "test")
    assert after.error is None and after.result["pid"] != before


def test_a_handler_past_its_timeout_is_killed(local_function):
    function = local_function(timeout=1)
    started = time.monotonic()
    late = function.invoke({"action": "sleep", "seconds": 30}, "test")
    assert late.error == "Task timed out after 1.00 seconds"
    assert time.monotonic() - started < 15
    assert function.invoke({}, "test").error is None  # a fresh environment


def test_a_module_that_fails_to_import_fails_each_invocation(local_function, tmp_path):
    function = local_function(source="import no_such_module\n")
    failed = function.invoke({}, "test")
    assert failed.error.startswith("Runtime.ImportModuleError: ModuleNotFoundError")
    assert "no_such_module" in (tmp_path / "logs" / "ProbeFunction.log").read_text()


def test_two_functions_run_side_by_side(tmp_path):
    """What the thread per route buys: one function's long event does not hold up
    another's."""
    for name in ("slow", "fast"):
        (tmp_path / name).mkdir()
    slow = LocalFunction(_function(tmp_path / "slow"), tmp_path / "logs")
    fast = LocalFunction(_function(tmp_path / "fast"), tmp_path / "logs")
    release = tmp_path / "release"
    long = threading.Thread(
        target=slow.invoke, args=({"action": "wait-for", "path": str(release)},)
    )
    try:
        long.start()
        assert fast.invoke({}, "test").error is None
        assert long.is_alive()  # the slow one is still at work
    finally:
        release.touch()
        long.join()
        slow.close()
        fast.close()
