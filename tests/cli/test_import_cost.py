"""The command's start stays cheap: heavy libraries load only in the commands that use them.

Every ``foldline`` invocation imports :mod:`foldline.cli.app` and with it every command
module. Each check runs in a fresh interpreter and reads ``sys.modules`` afterwards, so a
module-level import of boto3, moto (the local cloud), numpy (the analysis) or Bio.SeqIO
that creeps back into a command module fails here. Timings live in ``bench/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.cli.conftest import EXAMPLE_FASTA, HELP_ENV

#: what importing the command and drawing its help must not load
HEAVY = (
    "boto3",
    "botocore",
    "moto",
    "numpy",
    "matplotlib",
    "gemmi",
    "biotite",
    "Bio",
    "yaml",
    "foldline.analysis",
    "foldline.local.cloud",
    "foldline.local.runtime",
    "foldline.runs.table",
    "foldline.intake.fasta",
)
#: ``validate`` reads FASTA with Bio.SeqIO (which brings numpy); nothing AWS or analysis
NOT_FOR_VALIDATE = (
    "boto3",
    "botocore",
    "moto",
    "matplotlib",
    "gemmi",
    "biotite",
    "foldline.analysis",
    "foldline.local.cloud",
    "foldline.local.runtime",
)

#: runs the command once per argument list in this interpreter, then prints the outputs,
#: exit codes and the modules loaded, as JSON
SCRIPT = """
import contextlib, io, json, sys
from foldline.cli.app import app
runs = []
for args in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            app(args, prog_name="foldline")
            code = 0
        except SystemExit as end:
            code = end.code
    runs.append({"args": args, "code": code, "out": out.getvalue()})
print(json.dumps({"runs": runs, "modules": sorted(sys.modules)}))
"""


def run_fresh(*invocations: list[str]) -> dict:
    env = {**os.environ, **HELP_ENV}
    for name in ("FOLDLINE_LOCAL", "FOLDLINE_DEBUG", "AWS_ENDPOINT_URL"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(list(invocations))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_importing_the_command_loads_no_heavy_library():
    result = run_fresh()
    assert "foldline.cli.local" in result["modules"]  # every command module was imported
    assert loaded(result["modules"], HEAVY) == []


def test_help_of_every_command_loads_no_heavy_library():
    commands = [
        "validate",
        "submit",
        "status",
        "results",
        "compare",
        "redrive",
        "stack",
        "analyze",
        "local",
        "local run",
        "local serve",
    ]
    result = run_fresh(["--help"], *[[*c.split(), "--help"] for c in commands])
    for run in result["runs"]:
        assert run["code"] == 0, run
        assert "Usage: foldline" in run["out"], run
    assert loaded(result["modules"], HEAVY) == []


def test_validate_loads_the_fasta_reader_but_no_aws_or_analysis():
    result = run_fresh(["validate", str(EXAMPLE_FASTA)])
    (run,) = result["runs"]
    assert run["code"] == 0 and ": accepted" in run["out"], run
    assert "Bio.SeqIO" in result["modules"]
    assert loaded(result["modules"], NOT_FOR_VALIDATE) == []
