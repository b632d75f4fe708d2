"""Invoking a function's handler as Lambda would: its module, its environment, a context.

The handler is the very module ``sam`` deploys (``<CodeUri>/<module>.py``), imported
under a unique module name. While it is imported and while it runs, the function's
environment variables from the template are set and what it prints (Powertools logs,
EMF metrics) goes to ``<workdir>/logs/<function>.log`` — the local CloudWatch Logs.
Invocations are serialised (one at a time per process) because the environment is
process-wide.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from foldline.local.template import Function

_invoke_lock = threading.RLock()
_sink = threading.local()


class _RoutingStream(io.TextIOBase):
    """sys.stdout/stderr stand-in: writes go to the current thread's function log, if any."""

    def __init__(self, original: Any):
        self.original = original

    def _target(self) -> Any:
        return getattr(_sink, "stream", None) or self.original

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return self.original.isatty()

    def fileno(self) -> int:
        return self.original.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")


def install_log_routing() -> None:
    """Route handler output to per-function logs (idempotent)."""
    if not isinstance(sys.stdout, _RoutingStream):
        sys.stdout = _RoutingStream(sys.stdout)
    if not isinstance(sys.stderr, _RoutingStream):
        sys.stderr = _RoutingStream(sys.stderr)


def uninstall_log_routing() -> None:
    if isinstance(sys.stdout, _RoutingStream):
        sys.stdout = sys.stdout.original
    if isinstance(sys.stderr, _RoutingStream):
        sys.stderr = sys.stderr.original


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
    """A template function, loaded once (a warm execution environment) and invoked."""

    def __init__(self, function: Function, log_dir: Path, extra_env: dict[str, str] | None = None):
        self.function = function
        self.log_path = Path(log_dir) / f"{function.logical_id}.log"
        self.extra_env = dict(extra_env or {})
        self._handler: Callable[[dict, Any], Any] | None = None
        self._log = None

    @contextlib.contextmanager
    def _environment(self):
        env = {**self.function.environment, **self.extra_env}
        saved = {k: os.environ.get(k) for k in env}
        if self._log is None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_path, "a", buffering=1)  # noqa: SIM115 - kept open
        previous = getattr(_sink, "stream", None)
        os.environ.update(env)
        _sink.stream = self._log
        try:
            yield
        finally:
            _sink.stream = previous
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _load(self) -> Callable[[dict, Any], Any]:
        path = self.function.module_path
        if not path.is_file():
            raise FileNotFoundError(
                f"{self.function.logical_id}: handler module {path} does not exist"
            )
        name = f"foldline_local_fn_{self.function.logical_id}"
        spec = importlib.util.spec_from_file_location(name, path)
        module: ModuleType = importlib.util.module_from_spec(spec)
        code_dir = str(self.function.code_uri)
        sys.path.insert(0, code_dir)  # Lambda puts the code folder on the path
        try:
            sys.modules[name] = module
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(code_dir)
        return getattr(module, self.function.handler_name)

    def invoke(self, event: dict, source: str = "") -> Invocation:
        """Run the handler on one event; exceptions are caught and reported, as Lambda does."""
        with _invoke_lock, self._environment():
            context = LambdaContext(
                function_name=self.function.name,
                invoked_function_arn=self.function.arn,
                memory_limit_in_mb=self.function.memory_size,
                timeout_s=self.function.timeout,
            )
            record = Invocation(
                self.function.logical_id, source, context.aws_request_id, time.time()
            )
            try:
                if self._handler is None:
                    self._handler = self._load()
                record.result = self._handler(event, context)
            except Exception as err:  # noqa: BLE001 - a failed invocation, reported
                record.error = f"{type(err).__name__}: {err}"
                print(traceback.format_exc(), file=self._log)
            record.ended = time.time()
            return record
