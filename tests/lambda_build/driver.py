"""Runs one Lambda handler inside the stand-in runtime container, as Lambda's bootstrap does.

usage: python3.12 -I /harness/driver.py MODULE.FUNCTION  < event.json

sys.path as the python3.12 runtime lays it out: the function (/var/task), then its layers
(/opt/python/lib/python3.12/site-packages, /opt/python), then the runtime's own (the
standard library and /var/lang/lib/python3.12/site-packages with boto3). This file
imports nothing from the function's packages. It reports, after the result line that
starts with the marker: where every imported module came from, the network connections
made while the handler module was imported (Lambda's init phase: what SnapStart
snapshots), and for each imported foldline module whether a .pyc of this Python sits
beside it.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import time

MARKER = "@@foldline-result@@"
TASK, LAYER = "/var/task", "/opt/python"
VERSION = f"python{sys.version_info.major}.{sys.version_info.minor}"

connections: list[str] = []
phase = ["init"]


def _audit(event: str, args: tuple) -> None:
    if event == "socket.connect":
        connections.append(f"{phase[0]}: {args[1]!r}")


class Context:
    """The attributes Powertools and the handlers read from Lambda's context object."""

    function_name = "foldline-test"
    function_version = "1"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:foldline-test:live"
    memory_limit_in_mb = 512
    aws_request_id = "c0ffee00-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/foldline-test"
    log_stream_name = "2026/12/06/[1]0123456789abcdef"

    def __init__(self) -> None:
        self._deadline = time.monotonic() + 300

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def origin(path: str) -> str:
    for root, name in (
        (TASK, "task"),
        (f"{LAYER}/lib/{VERSION}/site-packages", "layer"),
        (LAYER, "layer"),
        (f"/var/lang/lib/{VERSION}/site-packages", "runtime"),
        (f"/var/lang/lib/{VERSION}", "stdlib"),
    ):
        if path.startswith(root + "/"):
            return name
    return "elsewhere"


def main() -> None:
    sys.path[:0] = [TASK, f"{LAYER}/lib/{VERSION}/site-packages", LAYER]
    module_name, _, function_name = sys.argv[1].rpartition(".")
    event = json.load(sys.stdin)
    sys.addaudithook(_audit)
    started = time.monotonic()
    handler = getattr(importlib.import_module(module_name), function_name)
    init_s = time.monotonic() - started
    phase[0] = "invoke"
    result = handler(event, Context())

    modules: dict[str, dict[str, str]] = {}
    bytecode: dict[str, bool] = {}
    for name, module in sorted(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or name in ("__main__", "__mp_main__"):  # this driver
            continue
        top = name.split(".")[0]
        modules.setdefault(top, {"origin": origin(path), "file": path})
        if top == "foldline" and path.endswith(".py"):
            cached = importlib.util.cache_from_source(path)
            try:
                with open(cached, "rb") as pyc:
                    bytecode[name] = pyc.read(4) == importlib.util.MAGIC_NUMBER
            except OSError:
                bytecode[name] = False
    report = {
        "python": sys.version.split()[0],
        "init_s": init_s,
        "connections": connections,
        "modules": modules,
        "foldline_bytecode": bytecode,
    }
    sys.stdout.flush()
    print("\n" + MARKER + json.dumps({"result": result, "report": report}, default=str), flush=True)


if __name__ == "__main__":
    main()
