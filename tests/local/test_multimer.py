"""``foldline local run`` on the multimer example: OpenFold 1.0.1 has no multimer model, so
its step skips; the run still succeeds with a report of the AlphaFold slot's engine alone.

And the summary's verdict: a run whose pipeline succeeded but whose analysis failed is
not shown as "Succeeded" and makes ``foldline local run`` exit non-zero.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.local.display import RunBoard, outcome, summary
from foldline.local.outbox import read_notice
from foldline.local.runtime import Submission

from .conftest import ROOT

MULTIMER = ROOT / "examples" / "multimer.fasta"
BARE_ALPHAFOLD = re.compile(r"(?<!Run)AlphaFold(?! slot)")  # "AlphaFold" not as a slot or step


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    work = tmp_path_factory.mktemp("multimer") / "work"
    result = CliRunner().invoke(app, ["local", "run", str(MULTIMER), "--workdir", str(work)])
    return work, result


def test_the_run_succeeds_with_a_report(finished):
    work, result = finished
    assert result.exit_code == 0, result.output
    assert "multimer.fasta: Succeeded" in result.output
    assert "no comparison: OpenFold skipped" in " ".join(result.output.split())
    # the progress lines never show the skipped step as done
    assert "RunOpenFold skipped" in result.output and "RunOpenFold ✓" not in result.output
    (report,) = (work / "reports").iterdir()
    assert (report / "report.html").is_file() and (report / "plddt.png").is_file()
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["comparison"] is None
    assert metrics["comparison_skipped"].startswith(
        "OpenFold skipped: OpenFold 1.0.1 has no multimer model"
    )
    assert metrics["engines"]["openfold"] is None
    af = metrics["engines"]["alphafold"]
    assert af["engine"] == "template-cpu"
    assert [c["length"] for c in af["chains"]] == [84, 84]
    assert len(af["plddt"]["per_residue"]) == 168
    assert metrics["runtimes"]["steps"]["RunOpenFold"]["status"] == "skipped"


def test_the_notice_says_openfold_was_skipped_and_never_calls_the_stand_in_alphafold(finished):
    work, _ = finished
    (notice,) = [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]
    assert notice.status == "succeeded"
    assert "OpenFold skipped" in notice.subject and "TM-score" not in notice.subject
    assert "OpenFold skipped: OpenFold 1.0.1 has no multimer model" in notice.body
    assert "TM-score:" not in notice.body
    assert "template-cpu (AlphaFold slot)" in notice.body
    assert BARE_ALPHAFOLD.findall(notice.subject + "\n" + notice.body) == []
    (report,) = (work / "reports").iterdir()
    page = (report / "report.html").read_text()
    text = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page, flags=re.DOTALL)
    assert "OpenFold was skipped" in text and "template-cpu (AlphaFold slot)" in text
    assert BARE_ALPHAFOLD.findall(text) == []
    metrics = json.loads((report / "metrics.json").read_text())
    assert BARE_ALPHAFOLD.findall(metrics["headline"] + metrics["comparison_skipped"]) == []


# the summary's verdict, without a run ---------------------------------------------------


@pytest.mark.parametrize(
    ("item", "shown", "ok"),
    [
        ({"status": "Succeeded", "analysis_status": "Succeeded"}, "Succeeded", True),
        (
            {"status": "Succeeded", "analysis_status": "Failed"},
            "analysis Failed (the pipeline succeeded)",
            False,
        ),
        (
            {"status": "Succeeded", "analysis_status": "Retrying"},
            "analysis Retrying (the pipeline succeeded)",
            False,
        ),
        ({"status": "Succeeded"}, "analysis not run (the pipeline succeeded)", False),
        ({"status": "Failed"}, "Failed", False),
        ({}, "unknown", False),
    ],
)
def test_outcome(item, shown, ok):
    assert outcome(item) == (shown, ok)


def test_a_failed_analysis_is_not_reported_as_succeeded(tmp_path):
    sub = Submission(Path("multimer.fasta"), "inputs/multimer.fasta", "multimer-1")
    runtime = SimpleNamespace(workdir=tmp_path, download_report=lambda run_id: None)
    board = RunBoard(runtime, [sub])
    board.notices = [
        SimpleNamespace(
            run_id="multimer-1",
            subject="foldline: multimer analysis failed; models available",
            path="x.eml",
        )
    ]
    item = {
        "status": "Succeeded",
        "analysis_status": "Failed",
        "analysis_error": "FileNotFoundError: neither engine left a model",
    }
    console = Console(record=True, width=200)

    assert summary(console, runtime, board, {"multimer-1": item}) is False

    text = console.export_text()
    assert "multimer.fasta: Succeeded" not in text
    assert "multimer.fasta: analysis Failed (the pipeline succeeded)" in text
    assert "analysis error: FileNotFoundError: neither engine left a model" in text
