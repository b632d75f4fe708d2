"""README's walk-through, run as a person runs it: ``foldline local run examples/xylanase.fasta``
from the repository's folder (here a folder that holds ``examples/``), output piped.

What README shows after the command must be what it prints, doctest-style (``...``
matches anything, runs of whitespace are equal); it runs as ``python -m foldline``.
"""

from __future__ import annotations

import doctest
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def walkthrough() -> tuple[list[str], str]:
    readme = (ROOT / "README.md").read_text()
    block = next(
        b
        for b in re.findall(r"```console\n(.*?)```", readme, re.DOTALL)
        if b.startswith("$ foldline local run")
    )
    command, *expected = block.splitlines()
    return shlex.split(command[2:]), "\n".join(expected)


@pytest.mark.slow
def test_readmes_local_walkthrough_prints_what_readme_shows(tmp_path):
    args, expected = walkthrough()
    assert args[:3] == ["foldline", "local", "run"] and (ROOT / args[3]).is_file()
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FOLDLINE_"))}
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=tmp_path,
        env={**env, "NO_COLOR": "1"},
        capture_output=True,
        check=False,  # the exit status is asserted below, with the output
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    assert doctest.OutputChecker().check_output(expected + "\n", done.stdout, flags), (
        f"README shows:\n{expected}\nthe command printed:\n{done.stdout}"
    )
    (report,) = (tmp_path / "foldline-local" / "reports").glob("*/report.html")
    assert f"report: {report}" in done.stdout
