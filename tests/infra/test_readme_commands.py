"""README's two opening commands stay true to what CI and a new user run."""

from __future__ import annotations

import re

from tests.infra.conftest import ROOT

README = (ROOT / "README.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()


def _first_block_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_setup_plus_demo_then_the_tests():
    setup, tests = _first_block_commands()
    assert "pip install -e '.[dev]'" in setup
    assert "foldline local run examples/" in setup
    assert (ROOT / setup.rsplit(" ", 1)[1]).is_file()  # the demo's FASTA is bundled
    assert "pytest" in tests


def test_ci_runs_exactly_readmes_test_command():
    _, tests = _first_block_commands()
    ci_commands = [line for line in CI.splitlines() if line and not line.startswith("#")]
    assert ci_commands[-1] == tests
