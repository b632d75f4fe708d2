"""The render command: offline, and what it renders is what template.yaml deploys.

The sagemaker SDK lives in its own virtualenv (it pins its own boto3 and weighs ~1 GB),
so the render runs as a subprocess of that interpreter: FOLDLINE_SDK_PYTHON, else
``.venv-sdk/bin/python`` in the repository. Without one the render tests are skipped,
except in CI (``CI`` set), where a missing SDK fails them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pipeline import embedded, render
from tests.strict_skips import project_tool

ROOT = Path(__file__).resolve().parents[2]


def sdk_python() -> str:
    return project_tool(
        "FOLDLINE_SDK_PYTHON",
        ROOT / ".venv-sdk" / "bin" / "python",
        "python3 -m venv .venv-sdk && .venv-sdk/bin/pip install -r pipeline/requirements-sdk.txt"
        " && .venv-sdk/bin/pip install --no-deps -e .",
    )


def run_render(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sdk_python(), "-m", "pipeline.render", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        # HOME elsewhere: no ~/.aws or ~/.config/sagemaker of the developer's can matter
        env={"PATH": os.environ.get("PATH", ""), "HOME": tempfile.mkdtemp(prefix="render-home-")},
        check=False,
    )


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("render") / "pipeline.json"
    result = run_render("--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no network" in result.stderr
    return json.loads(out.read_text())


def test_fresh_render_equals_the_definition_in_the_template(fresh):
    assert fresh == json.loads(embedded.definition_text())


def test_check_mode_fails_on_a_stale_copy(tmp_path):
    stale = tmp_path / "template.yaml"
    text = (ROOT / "template.yaml").read_text()
    stale.write_text(text.replace('"VolumeSizeInGB": 100', '"VolumeSizeInGB": 99', 1))
    result = run_render("--check", "--template", str(stale))
    assert result.returncode == 1
    assert "stale" in result.stderr


def test_update_template_rewrites_only_the_marked_block(tmp_path):
    original = (ROOT / "template.yaml").read_text()
    emptied = render.embed(original, "{}")
    assert emptied != original
    target = tmp_path / "template.yaml"
    target.write_text(emptied)
    result = run_render("--update-template", "--template", str(target))
    assert result.returncode == 0, result.stderr[-3000:]
    assert target.read_text() == original


def test_network_guard_refuses_connections():
    """The guard the render runs under stops a connection attempt (no SDK needed)."""
    code = (
        "import socket\n"
        "from pipeline.render import forbid_network, NetworkUsed\n"
        "forbid_network()\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except NetworkUsed:\n"
        "    print('refused')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.stdout.strip() == "refused", result.stderr
