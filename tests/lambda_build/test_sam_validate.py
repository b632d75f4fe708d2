"""`sam validate --lint` on the real template, with the SAM CLI the build uses (.venv-sam)."""

from __future__ import annotations

import os
import subprocess

from tests.lambda_build import harness


def test_sam_validate_with_lint_passes():
    assert harness.SAM.is_file(), f"{harness.SAM} is missing: run tests/lambda_build/setup.sh"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}  # dummy credentials: tests/conftest.py
    done = subprocess.run(
        [str(harness.SAM), "validate", "--lint", "--template-file", "template.yaml"],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "is a valid SAM Template" in done.stdout + done.stderr
