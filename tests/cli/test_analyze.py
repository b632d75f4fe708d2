"""``foldline analyze`` writes the same report the analysis function writes."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from foldline.cli.app import app
from tests.conftest import DATA

MODELS = DATA / "analysis" / "openfold-6kwc"


def test_analyze_two_model_files_writes_the_report(tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            "--alphafold",
            str(MODELS / "6KWC_1_model_1_ptm_unrelaxed.pdb"),
            "--openfold",
            str(MODELS / "6KWC_1_model_1_ptm_relaxed.pdb"),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "TM-score" in result.output and str(out / "report.html") in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    tm = metrics["comparison"]["complex"]["tm_score"]
    assert 0.95 < tm <= 1.0
    assert (out / "report.html").stat().st_size > 1000


def test_a_missing_input_is_one_line_and_exit_2(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "analyze",
            "--alphafold",
            str(tmp_path / "nope"),
            "--openfold",
            str(tmp_path),
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    assert "no such file or folder" in result.output
