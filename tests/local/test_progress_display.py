"""``foldline local run`` in an 80-column terminal: the live board ``foldline submit
--wait`` shows too (foldline.cli.progress), whole at 80 columns, with the multimer's
skipped OpenFold step said as such, and no log line of the runtime in it."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.cli.views import short_ids

from .conftest import ROOT

MULTIMER = ROOT / "examples" / "multimer.fasta"
#: a terminal 80 columns wide (rich's TTY_COMPATIBLE: as if stdout were one), no colour
TERMINAL_80 = {"COLUMNS": "80", "LINES": "40", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}


def test_the_board_at_80_columns_says_skipped_and_holds_no_log_lines(tmp_path):
    result = CliRunner().invoke(
        app, ["local", "run", str(MULTIMER), "--workdir", str(tmp_path / "work")], env=TERMINAL_80
    )
    assert result.exit_code == 0, result.output
    output = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.output)
    (run_id,) = re.findall(r"^run id: (\S+)$", output, re.MULTILINE)
    board = output[output.rindex("foldline local —") : output.index("─ multimer.fasta")]
    lines = board.rstrip().splitlines()
    assert max(len(line) for line in output.splitlines()) <= 80
    header = next(line for line in lines if line.startswith("Run "))
    assert header.split() == ["Run", "Status", "MSA", "AlphaFold", "OpenFold", "Elapsed"]
    row = next(line for line in lines if line.startswith("multimer.fasta"))
    cells = {n: row[header.index(n) :][:9].strip() for n in ("Status", "AlphaFold", "OpenFold")}
    assert cells["Status"] == "Succeeded" and cells["AlphaFold"].startswith("✓")
    assert cells["OpenFold"] == "skipped"  # not a tick
    assert short_ids([run_id])[run_id] in board
    # the runtime's own logging stays in its logs: no level names, no step program output
    assert not re.search(r"\b(INFO|WARNING|DEBUG)\b|\[foldline\]", output)
