"""README's section on the command is run here, so its help and examples cannot rot.

Every ```console block of the section is a session: ``$ foldline ...`` lines are run
through the real typer app, in order, against a moto stack named ``foldline`` (the
default) holding the seeded runs; the lines after a command are its expected output.
``--help`` output must match exactly (at the 100 columns README shows); other output is
compared doctest-style, ``...`` matching anything and runs of whitespace equal.
"""

from __future__ import annotations

import doctest
import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ENV, EXAMPLE_FASTA, HELP_ENV, OUTPUTS_DIR, invoke

README = Path(__file__).resolve().parents[2] / "README.md"
_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@dataclass(frozen=True)
class Example:
    command: str
    expected: str


def cli_section(text: str) -> str:
    start = text.index("<!-- section: cli -->")
    end = text.find("\n## ", start)
    return text[start : end if end != -1 else len(text)]


def examples(section: str) -> list[Example]:
    found = []
    for block in re.findall(r"```console\n(.*?)```", section, flags=re.DOTALL):
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


def _tidy(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


SECTION = cli_section(README.read_text())
EXAMPLES = examples(SECTION)
HELP = [e for e in EXAMPLES if e.command.endswith("--help")]
SESSION = [e for e in EXAMPLES if not e.command.endswith("--help")]


def test_the_section_shows_the_help_of_the_command_and_of_each_command():
    shown = {e.command for e in HELP}
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
    assert len(SESSION) >= 8


@pytest.mark.parametrize("example", HELP, ids=[e.command for e in HELP])
def test_help_in_readme_is_the_real_help(example):
    args = shlex.split(example.command)
    assert args[0] == "foldline"
    result = invoke(*args[1:], env=HELP_ENV)
    assert result.exit_code == 0
    assert _tidy(result.output) == _tidy(example.expected), (
        "README's help is out of date; regenerate it with COLUMNS=100 TERMINAL_WIDTH=100"
    )


@pytest.fixture
def stack_name() -> str:
    return "foldline"  # README's examples name no stack


def test_readme_examples_run(moto_stack, seeded, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(EXAMPLE_FASTA, "6kwc.fasta")
    shutil.copy(OUTPUTS_DIR / "6KWC_1_model_1_ptm_relaxed.pdb", "model.fasta")  # not FASTA
    for example in SESSION:
        args = shlex.split(example.command)
        assert args[0] == "foldline", example.command
        result = invoke(*args[1:], env=ENV)
        got = result.output  # stdout and stderr, interleaved as a terminal shows them
        assert _CHECKER.check_output(example.expected + "\n", got, _FLAGS), (
            f"README example `{example.command}` printed:\n{got}\nREADME says:\n{example.expected}"
        )
        failing = example.expected.startswith("error:")
        assert (result.exit_code != 0) == failing, (example.command, result.exit_code, got)
