"""The documentation's commands are run here, so its help and examples cannot rot.

- docs/cli.md is exactly what docs/make_cli_reference.py writes from the real ``--help``
  of every command (regenerate it; never edit it by hand).
- Every ```console block of README.md and docs/usage.md is a session: ``$ foldline ...``
  lines run through the real typer app, in order, against a moto stack named ``foldline``
  (the default) holding the seeded runs, in a terminal 200 columns wide; the lines after
  a command are its expected output, compared doctest-style (``...`` matches anything,
  runs of whitespace are equal). ``foldline local run`` sessions run in
  tests/local/test_readme_walkthrough.py instead (a real local run).
- README stays a front page (at most 20 kB), and every relative link in README.md and
  docs/ names a file that exists.
"""

from __future__ import annotations

import doctest
import importlib.util
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import EXAMPLE_FASTA, OUTPUTS_DIR, invoke

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
SESSION_DOCS = [README, DOCS / "usage.md"]
#: a terminal 200 columns wide without colour or styles (rich: TTY_COMPATIBLE, TERM=dumb)
# a wide terminal, whatever runs the tests: rich takes a dumb TERM's 80x25 unless both
# COLUMNS and LINES are set
TERMINAL = {
    "COLUMNS": "200",
    "LINES": "50",
    "TTY_COMPATIBLE": "1",
    "TERM": "dumb",
    "NO_COLOR": "1",
}
README_LIMIT = 20_000
_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Example:
    command: str
    expected: str


def examples(text: str) -> list[Example]:
    found = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.DOTALL):
        command, lines = None, []
        for line in block.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    found.append(Example(command, "\n".join(lines)))
                command, lines = line[2:], []
            else:
                lines.append(line)
        if command is not None:
            found.append(Example(command, "\n".join(lines)))
    return found


def _reference_module():
    spec = importlib.util.spec_from_file_location(
        "make_cli_reference", DOCS / "make_cli_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_is_the_real_help_of_every_command(monkeypatch):
    reference = _reference_module()
    for name, value in reference.HELP_ENV.items():
        monkeypatch.setenv(name, value)
    assert (DOCS / "cli.md").read_text() == reference.reference(), (
        "docs/cli.md is out of date: run .venv/bin/python docs/make_cli_reference.py"
    )
    shown = {e.command for e in examples((DOCS / "cli.md").read_text())}
    expected = {"foldline --help"} | {
        f"foldline {c} --help"
        for c in (
            "validate",
            "analyze",
            "local run",
            "local serve",
            "submit",
            "status",
            "results",
            "compare",
            "redrive",
            "stack",
            "setup databases",
            "setup status",
        )
    }
    assert expected <= shown


def test_readme_is_a_front_page_and_every_link_resolves():
    assert len(README.read_bytes()) <= README_LIMIT
    for doc in [README, *sorted(DOCS.glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if re.match(r"[a-z]+://", target):
                continue
            assert (doc.parent / target).exists(), (
                f"{doc.relative_to(ROOT)} links to {target}, which does not exist"
            )


@pytest.fixture
def stack_name() -> str:
    return "foldline"  # the documents' examples name no stack


@pytest.mark.parametrize("doc", SESSION_DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_documents_examples_run(doc, moto_stack, seeded, tmp_path, monkeypatch):
    session = [e for e in examples(doc.read_text()) if not e.command.startswith("foldline local ")]
    assert session, f"{doc.name} shows no command"
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLE_FASTA, "6kwc.fasta")
    shutil.copy(OUTPUTS_DIR / "6KWC_1_model_1_ptm_relaxed.pdb", "model.fasta")  # not FASTA
    for example in session:
        args = shlex.split(example.command)
        assert args[0] == "foldline", example.command
        result = invoke(*args[1:], env=TERMINAL)
        got = result.output  # stdout and stderr, interleaved as a terminal shows them
        assert _CHECKER.check_output(example.expected + "\n", got, _FLAGS), (
            f"{doc.name}: `{example.command}` printed:\n{got}\n{doc.name} says:\n{example.expected}"
        )
        failing = example.expected.startswith("error:")
        assert (result.exit_code != 0) == failing, (example.command, result.exit_code, got)
