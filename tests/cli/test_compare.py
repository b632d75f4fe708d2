"""``foldline compare`` over three runs: the table, the plot, the Experiments record."""

from __future__ import annotations

import json
import re

import boto3

from foldline.outcomes import across_runs as comparison
from foldline.spec import layout

from .conftest import invoke


def _whole(metrics: dict) -> dict:
    return metrics["comparison"]["complex"] or metrics["comparison"]["tm_align"]


def _expected_row(report) -> dict[str, str]:
    """What the table must show for a run, read straight from its metrics.json."""
    m, whole = report.metrics, _whole(report.metrics)
    star = "*" if m["comparison"]["method"] == "tm_align" else ""
    return {
        "Run id": report.run_id,
        "Target": report.target,
        "TM-score": f"{whole['tm_score']:.3f}{star}",
        "RMSD Å": f"{whole['rmsd']:.2f}",
        "pLDDT AF": f"{m['engines']['alphafold']['plddt']['mean']:.1f}",
        "pLDDT OF": f"{m['engines']['openfold']['plddt']['mean']:.1f}",
    }


def test_compare_defaults_to_the_last_reported_runs(moto_stack, seeded, reports, tmp_path):
    plot = tmp_path / "cmp.png"
    result = invoke("compare", "--last", "3", "--plot", str(plot), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.output)
    runs = data["runs"]
    # the executing run has no report: the three reported ones, oldest first
    assert [run["run_id"] for run in runs] == [r.run_id for r in reports]
    for run, report in zip(runs, reports):  # numbers as numbers, as metrics.json has them
        whole = _whole(report.metrics)
        assert run["tm_score"] == whole["tm_score"] and run["rmsd"] == whole["rmsd"]
        assert run["plddt"]["alphafold"] == report.metrics["engines"]["alphafold"]["plddt"]["mean"]
    # the run with step manifests has runtimes, the others none
    assert (
        runs[0]["runtimes_s"]["RunAlphaFold"]
        == reports[0].metrics["runtimes"]["steps"]["RunAlphaFold"]["seconds"]
    )
    assert runs[1]["runtimes_s"] == {}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ident = comparison.comparison_id([r.run_id for r in reports])
    assert data["comparison_id"] == ident
    assert moto_stack.keys(layout.comparison_prefix(ident)) == [
        layout.comparison_prefix(ident) + "comparison.json",
        layout.comparison_prefix(ident) + "comparison.png",
    ]


def test_compare_prints_the_table_and_logs_to_experiments(moto_stack, seeded, reports, tmp_path):
    ids = [r.run_id for r in reports]
    result = invoke("compare", *ids, "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 0, result.stderr
    # piped: tab-separated, every value whole
    lines = [line.split("\t") for line in result.output.splitlines() if "\t" in line]
    headings, rows = lines[0], lines[1:]
    assert len(rows) == 3 and "…" not in result.output
    for row, report in zip(rows, reports):
        shown = dict(zip(headings, row))
        assert {k: shown[k] for k in _expected_row(report)} == _expected_row(report)
    # 2.x: the ERR550519 run (two different proteins) is scored like any other pair, by the
    # reference, on a TM-align residue correspondence: no 1.x TM-align row
    assert comparison.TM_ALIGN_NOTE not in result.output
    ident = comparison.comparison_id(ids)
    assert (
        f"SageMaker Experiments: experiment foldline-comparisons, trial {ident}, "
        f"trial component {ident}-comparison"
    ) in result.output

    sagemaker = boto3.client("sagemaker")
    component = sagemaker.describe_trial_component(TrialComponentName=f"{ident}-comparison")
    params = {
        k: v.get("StringValue", v.get("NumberValue")) for k, v in component["Parameters"].items()
    }
    assert [params[f"run_{i:02d}"] for i in (1, 2, 3)] == ids
    assert params["runs"] == 3
    metrics = {m["MetricName"]: m["Last"] for m in component["Metrics"]}
    for report in reports:
        assert metrics[f"tm_score/{report.run_id}"] == _whole(report.metrics)["tm_score"]
    scores = [_whole(r.metrics)["tm_score"] for r in reports]
    assert metrics["tm_score_min"] == min(scores) and metrics["tm_score_max"] == max(scores)
    assert component["OutputArtifacts"]["plot"]["Value"].endswith(f"{ident}/comparison.png")
    trials = sagemaker.list_trials(ExperimentName="foldline-comparisons")["TrialSummaries"]
    assert [t["TrialName"] for t in trials] == [ident]


def test_compare_again_updates_the_same_record(moto_stack, seeded, reports, tmp_path):
    ids = [r.run_id for r in reports]
    for order in (ids, list(reversed(ids))):
        result = invoke("compare", *order, "--plot", str(tmp_path / "p.png"))
        assert result.exit_code == 0, result.stderr
    components = boto3.client("sagemaker").list_trial_components()["TrialComponentSummaries"]
    assert len(components) == 1


def test_compare_no_track_logs_nothing(moto_stack, seeded, reports, tmp_path):
    result = invoke("compare", reports[0].run_id, "--no-track", "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 0, result.stderr
    assert "SageMaker Experiments" not in result.output
    assert boto3.client("sagemaker").list_experiments()["ExperimentSummaries"] == []


def test_compare_a_run_without_a_report(moto_stack, seeded, tmp_path):
    result = invoke("compare", seeded[3]["run_id"], "--plot", str(tmp_path / "p.png"))
    assert result.exit_code == 7
    assert (
        result.stderr
        == f"error: run {seeded[3]['run_id']} has no metrics.json (status Executing)\n"
    )


def test_compare_with_no_reported_runs(moto_stack):
    result = invoke("compare")
    assert result.exit_code == 7
    assert result.stderr == f"error: no run in {moto_stack.runs.table_name} has a report yet\n"


def test_the_plot_names_engines_only_where_they_ran(reports):
    """A stand-in's runs (template-cpu, or models of unknown origin) are plotted as slots,
    never as "AlphaFold vs OpenFold"."""
    runs = [comparison.run_metrics(r.run_id, r.metrics) for r in reports]
    assert any(run.engines["alphafold"] != "AlphaFold" for run in runs)  # the fixtures' case
    assert comparison._versus(runs) == "AlphaFold slot vs OpenFold slot"
    real = [
        comparison.RunMetrics(
            **{**run.__dict__, "engines": {"alphafold": "AlphaFold", "openfold": "OpenFold"}}
        )
        for run in runs
    ]
    assert comparison._versus(real) == "AlphaFold vs OpenFold"


def test_compare_at_80_columns_cuts_no_value(moto_stack, seeded, reports, tmp_path):
    result = invoke(
        "compare",
        *[r.run_id for r in reports],
        "--plot",
        str(tmp_path / "p.png"),
        "--no-track",
        env={"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"},
    )
    assert result.exit_code == 0, result.stderr
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.output)  # bold names: no colour, still styles
    assert "…" not in output and max(len(line) for line in output.splitlines()) <= 80
    # more columns than 80 characters hold: one block per run, every column named, whole
    blocks = [
        dict(
            line.split(None, 1)
            if not line.startswith(("Run id", "TM-score", "RMSD Å", "pLDDT", "pTM"))
            else line.rsplit(None, 1)
            for line in block.splitlines()
        )
        for block in output.split("\n\n")
        if block.startswith("Run id")
    ]
    assert len(blocks) == 3
    for block, report in zip(blocks, reports):
        expected = _expected_row(report)
        assert {k: block[k].strip() for k in expected} == expected
