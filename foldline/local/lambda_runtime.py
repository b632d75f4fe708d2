"""Invoking a function's handler as Lambda would: in its own process, with its environment.

The handler is the very module ``sam`` deploys (``<CodeUri>/<module>.py``). Each function
gets an execution environment of its own (:mod:`foldline.local.function_worker`): a
process started on its first event with the template's environment variables, that
imports the module once and then handles one event at a time, what it prints going to
``<workdir>/logs/<function>.log`` — the local CloudWatch Logs. Functions therefore run
side by side, as they do in Lambda: a long analysis does not hold up the progress
function. A handler that outlives the function's ``Timeout`` is killed ("Task timed
out"), a process that dies is reported and replaced on the next event, as Lambda does.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foldline.local.function_worker import WorkerSpec
from foldline.local.template import Function

#: how long a stopping runtime gives a function's process to finish before killing it
_STOP_GRACE_S = 5.0


@dataclass
class Invocation:
    """One handler call, as the dispatcher and the progress display see it."""

    function: str
    source: str
    request_id: str
    started: float
    ended: float = 0.0
    error: str | None = None
    result: Any = None


class LocalFunction:
    """A template function's execution environment: started once (then warm), invoked one
    event at a time."""

    def __init__(self, function: Function, log_dir: Path, extra_env: dict[str, str] | None = None):
        self.function = function
        self.log_path = Path(log_dir) / f"{function.logical_id}.log"
        self.extra_env = dict(extra_env or {})
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[str]:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        spec = WorkerSpec(
            function_name=self.function.name,
            function_arn=self.function.arn,
            module_path=str(self.function.module_path),
            handler_name=self.function.handler_name,
            code_uri=str(self.function.code_uri),
            memory_size=self.function.memory_size,
            timeout=self.function.timeout,
            log_path=str(self.log_path),
        )
        # until the worker takes over its descriptors, what it prints (a failed start)
        # goes to the function's log as well
        with open(self.log_path, "a") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "foldline.local.function_worker", spec.to_json()],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                env={**os.environ, **self.function.environment, **self.extra_env},
                text=True,
                bufsize=1,
            )

    def invoke(self, event: dict, source: str = "") -> Invocation:
        """Run the handler on one event; its exceptions are caught and reported, as Lambda
        does."""
        with self._lock:
            record = Invocation(self.function.logical_id, source, str(uuid.uuid4()), time.time())
            outcome = self._call({"request_id": record.request_id, "event": event})
            record.result, record.error = outcome.get("result"), outcome.get("error")
            record.ended = time.time()
            return record

    def _call(self, request: dict) -> dict:
        if self._process is None or self._process.poll() is not None:
            self._process = self._start()
        process = self._process
        try:
            process.stdin.write(json.dumps(request) + "\n")
            process.stdin.flush()
        except OSError:
            return self._lost(process)
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=self.function.timeout):
                self._kill(process)
                return {"error": f"Task timed out after {self.function.timeout:.2f} seconds"}
        reply = process.stdout.readline()
        return json.loads(reply) if reply else self._lost(process)

    def _lost(self, process: subprocess.Popen[str]) -> dict:
        code = process.wait()
        self._process = None
        return {"error": f"Runtime.ExitError: the function's process exited with status {code}"}

    def _kill(self, process: subprocess.Popen[str]) -> None:
        process.kill()
        process.wait()
        self._process = None

    def close(self) -> None:
        """End the execution environment (the next event would start a new one)."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            process.stdin.close()  # the worker's loop ends at the end of its input
        try:
            process.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        with contextlib.suppress(OSError):
            process.stdout.close()
