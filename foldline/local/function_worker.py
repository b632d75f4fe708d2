"""One function's execution environment: a process of its own, as Lambda gives each
function, running ``python -m foldline.local.function_worker SPEC``.

The process runs with the function's environment variables, sends what it prints (Powertools
logs, EMF metrics, a C library's output) to the function's log file, imports the handler
module once (a warm environment) and then answers invocations, one at a time: a JSON
line per event on stdin, a JSON line per outcome on the descriptor that was stdout when
it started (:class:`foldline.local.lambda_runtime.LocalFunction` is the other side).

The outcome is ``{"result": ...}`` or ``{"error": "Type: message"}``; a result that is
not JSON (a Decimal aside, written as a number) is an error, as it is for Lambda's
Python runtime.
"""

from __future__ import annotations

import decimal
import importlib.util
import json
import os
import signal
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class WorkerSpec:
    """What the worker needs to know of its function (passed as JSON on its command line)."""

    function_name: str
    function_arn: str
    module_path: str
    handler_name: str
    code_uri: str
    memory_size: int
    timeout: int
    log_path: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> WorkerSpec:
        return cls(**json.loads(text))


@dataclass
class LambdaContext:
    """The attributes and method Lambda's Python runtime gives a handler's ``context``."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _load(spec: WorkerSpec) -> Any:
    path = Path(spec.module_path)
    if not path.is_file():
        raise FileNotFoundError(f"handler module {path} does not exist")
    sys.path.insert(0, spec.code_uri)  # Lambda puts the code folder on the path
    module_spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[path.stem] = module
    module_spec.loader.exec_module(module)
    return getattr(module, spec.handler_name)


def _number(value: Any) -> float:
    """Lambda's Python runtime writes a Decimal (DynamoDB's numbers) as a JSON number."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _error(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def serve(spec: WorkerSpec) -> None:
    # a Ctrl-C in the terminal reaches the whole process group; the runtime that started
    # this process decides when it ends (it closes its input), as Lambda's service does
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    log = open(spec.log_path, "a", buffering=1)  # noqa: SIM115 - the process' whole life
    for fd in (1, 2):  # what C code and subprocesses write goes there too
        os.dup2(log.fileno(), fd)
    sys.stdout = sys.stderr = log

    handler, load_error = None, None
    try:
        handler = _load(spec)
    except Exception as err:  # noqa: BLE001 - Lambda reports an init error per invocation
        load_error = f"Runtime.ImportModuleError: {_error(err)}"
        traceback.print_exc()

    for line in sys.stdin:
        request = json.loads(line)
        if handler is None:
            reply = json.dumps({"error": load_error})
        else:
            context = LambdaContext(
                spec.function_name,
                spec.function_arn,
                spec.memory_size,
                spec.timeout,
                aws_request_id=request["request_id"],
            )
            try:
                reply = json.dumps({"result": handler(request["event"], context)}, default=_number)
            except Exception as err:  # noqa: BLE001 - a failed invocation, reported
                reply = json.dumps({"error": _error(err)})
                traceback.print_exc()
        log.flush()
        replies.write(reply + "\n")


if __name__ == "__main__":
    serve(WorkerSpec.from_json(sys.argv[1]))
