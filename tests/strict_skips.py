"""A skip for a missing tool fails where every tool must be installed.

A test skips where a tool it needs is missing (Docker, Chromium, HMMER, the SDK
and checkov virtualenvs...), with the command that installs it. Where every tool must be
there (CI: .ci/run installs them all and sets this), such a skip fails instead, so a
missing install step cannot hide behind it. Skips for what no install changes (the
platform, a checkout without git) say so with PLATFORM_SKIP and stay skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REQUIRE_TOOLS_ENV = "FOLDLINE_TESTS_REQUIRE_TOOLS"
PLATFORM_SKIP = "platform: "


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or os.environ.get(REQUIRE_TOOLS_ENV) != "1":
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if reason.removeprefix("Skipped: ").startswith(PLATFORM_SKIP):
        return
    report.outcome = "failed"
    report.longrepr = f"skipped, but {REQUIRE_TOOLS_ENV}=1 requires every tool: {reason}"


def project_tool(env_var: str, default: Path, install: str) -> str:
    """The tool at ``$env_var`` or ``default`` (a virtualenv of the project's own); a skip
    that says ``install`` where neither exists (a failure where every tool is required)."""
    for candidate in (os.environ.get(env_var), str(default)):
        if candidate and Path(candidate).exists():
            return candidate
    pytest.skip(f"not installed: {install} (or set {env_var})")
