"""CI's rule that a skip for a missing tool fails (tests/strict_skips.py), run on a small
test file by a pytest of its own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.infra.conftest import ROOT
from tests.strict_skips import REQUIRE_TOOLS_ENV

SAMPLE = """
import pytest
from tests.strict_skips import PLATFORM_SKIP

@pytest.mark.skipif(True, reason="needs a tool: apt-get install it")
def test_needs_a_tool():
    pass

def test_needs_another_platform():
    pytest.skip(PLATFORM_SKIP + "x86-64 only")

def test_runs():
    pass
"""


def run_sample(tmp_path, required: str | None) -> str:
    (tmp_path / "test_sample.py").write_text(SAMPLE)
    env = {k: v for k, v in os.environ.items() if k != REQUIRE_TOOLS_ENV}
    if required is not None:
        env[REQUIRE_TOOLS_ENV] = required
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "tests.strict_skips",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            str(tmp_path / "test_sample.py"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("required", [None, "0"])
def test_a_tool_skip_is_a_skip_by_default(tmp_path, required):
    assert "1 passed, 2 skipped" in run_sample(tmp_path, required)


def test_a_tool_skip_fails_where_every_tool_is_required(tmp_path):
    summary = run_sample(tmp_path, "1")
    # a skipif mark acts in the setup phase, so pytest counts its failure as an error
    assert summary.startswith("1 passed, 1 skipped, 1 error"), summary


def test_ci_requires_every_tool():
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"export {REQUIRE_TOOLS_ENV}=1" in ci
