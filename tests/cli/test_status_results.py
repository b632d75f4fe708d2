"""``foldline status`` and ``foldline results`` against a moto stack with seeded runs."""

from __future__ import annotations

import json
import re

from foldline.spec import layout

from .conftest import invoke


def _table_rows(output: str) -> list[list[str]]:
    """Body rows of a table as the command writes it when piped: tab-separated, after a
    header line."""
    lines = [line.split("\t") for line in output.splitlines() if "\t" in line]
    return lines[1:]


#: a terminal 80 columns wide (rich's TTY_COMPATIBLE: as if stdout were one), no colour
TERMINAL_80 = {"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}


def test_status_at_80_columns_shows_every_column_whole(moto_stack, seeded):
    result = invoke("status", env=TERMINAL_80)
    assert result.exit_code == 0, result.stderr
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.output)  # bold headers: no colour, still styles
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in output
    assert [h.strip() for h in lines[0].split("┃")] == [
        "Run id",
        "Target",
        "Status",
        "Step",
        "Duration",
        "TM-score",
    ]
    rows = [[c.strip() for c in line.split("│")] for line in lines if "│" in line]
    assert len(rows) == len(seeded)  # one line each: nothing wrapped
    for row in rows:
        item = next(i for i in seeded if i["run_id"].startswith(row[0]))
        assert row[1:3] == [item["target"], item["status"]]
        assert row[5] == ("-" if item.get("tm_score") is None else f"{item['tm_score']:.3f}")
        # the short id is a unique beginning: the command takes it as printed
        shown = invoke("status", row[0], "--json")
        assert shown.exit_code == 0 and json.loads(shown.output)["run_id"] == item["run_id"]
    assert "run ids shortened to a unique beginning" in output


def test_status_piped_is_tab_separated_and_json_has_numbers(moto_stack, seeded):
    result = invoke("status")
    header, *rows = [line.split("\t") for line in result.output.splitlines()]
    assert header == ["Run id", "Target", "Status", "Step", "Started", "Duration", "TM-score"]
    assert len(rows) == len(seeded) and all(len(row) == len(header) for row in rows)
    items = json.loads(invoke("status", "--json").output)
    scored = [i for i in items if i.get("tm_score") is not None]
    assert scored and all(isinstance(i["tm_score"], float) for i in scored)


def test_status_lists_recent_runs_newest_first_as_the_table_holds_them(moto_stack, seeded):
    result = invoke("status")
    assert result.exit_code == 0, result.stderr
    rows = _table_rows(result.output)
    newest_first = sorted(seeded, key=lambda i: i["created_at"], reverse=True)
    assert [r[0] for r in rows] == [i["run_id"] for i in newest_first]
    running = rows[0]
    assert running[1:4] == ["T1030", "Executing", "RunAlphaFold"]
    assert running[4] == "2026-11-26 09:00" and running[6] == "-"
    for row, item in zip(rows[1:], newest_first[1:]):
        assert row[1:4] == [item["target"], "Succeeded", "done"]
        assert row[5] == "1h 00m"  # started 10:00, ended 11:00
        assert row[6] == f"{item['tm_score']:.3f}"


def test_status_limit_and_json(moto_stack, seeded):
    result = invoke("status", "--limit", "2", "--json")
    assert result.exit_code == 0
    items = json.loads(result.output)
    assert [i["run_id"] for i in items] == [seeded[3]["run_id"], seeded[2]["run_id"]]
    assert items[1]["tm_score"] == seeded[2]["tm_score"]


def test_status_of_one_run_shows_steps_parameters_and_the_analysis_headline(
    moto_stack, seeded, reports
):
    item = seeded[0]
    result = invoke("status", item["run_id"])
    assert result.exit_code == 0, result.stderr
    out = result.output
    assert f"Run id     {item['run_id']}" in out
    assert "Status     Succeeded" in out
    assert reports[0].metrics["headline"] in out
    assert f"Report     {item['report_uri']}report.html" in out
    assert "ModelPreset  monomer" in out
    steps = {
        row[0]: row[1]
        for row in (
            [c.strip() for c in line.split("│")] for line in out.splitlines() if "│" in line
        )
    }
    assert steps == {"RunMSA": "Succeeded", "RunAlphaFold": "Succeeded", "RunOpenFold": "Succeeded"}


def test_status_accepts_a_unique_beginning_of_a_run_id(moto_stack, seeded):
    running = seeded[3]["run_id"]
    result = invoke("status", "T1030", "--json")
    assert result.exit_code == 0
    assert json.loads(result.output)["run_id"] == running
    ambiguous = invoke("status", "6kwc-")
    assert ambiguous.exit_code == 6
    assert ambiguous.stderr.startswith("error: run id '6kwc-' is ambiguous: 2 runs start with it")


def test_status_with_no_runs_says_so(moto_stack):
    result = invoke("status")
    assert result.exit_code == 0
    assert result.output == f"no runs yet in {moto_stack.runs.table_name}\n"


def test_results_downloads_the_report_folder(moto_stack, seeded, reports, tmp_path):
    report = reports[1]
    target = tmp_path / "got"
    result = invoke("results", report.run_id, "--to", str(target))
    assert result.exit_code == 0, result.stderr
    expected = {
        p.relative_to(report.folder).as_posix(): p.read_bytes()
        for p in report.folder.rglob("*")
        if p.is_file()
    }
    got = {
        p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()
    }
    assert got == expected
    assert {"report.html", "metrics.json"} <= set(got)
    assert any(name.endswith(".pdb") for name in got)  # the two compared models
    assert result.output.splitlines()[0] == f"{len(expected)} files in {target}/"


def test_results_open_opens_report_html_in_the_browser(
    moto_stack, seeded, reports, tmp_path, monkeypatch
):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    monkeypatch.chdir(tmp_path)
    result = invoke("results", reports[2].run_id[:12], "--open")
    assert result.exit_code == 0, result.stderr
    page = tmp_path / reports[2].run_id / "report.html"  # default: ./<run id>/
    assert page.is_file()
    assert opened == [page.resolve().as_uri()]


def test_results_archives_downloads_the_step_archives(moto_stack, seeded, reports, tmp_path):
    run_id = reports[0].run_id
    key = f"{layout.step_output_prefix(run_id, 'alphafold')}job/output/model.tar.gz"
    moto_stack.s3.put_object(Bucket=moto_stack.bucket, Key=key, Body=b"archive bytes")
    moto_stack.runs.update(run_id, model_uris={"alphafold": layout.s3_uri(moto_stack.bucket, key)})
    result = invoke("results", run_id, "--to", str(tmp_path), "--archives")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "archives" / "alphafold" / "model.tar.gz").read_bytes() == b"archive bytes"


def test_results_of_a_run_without_a_report(moto_stack, seeded, tmp_path):
    result = invoke("results", seeded[3]["run_id"], "--to", str(tmp_path / "x"))
    assert result.exit_code == 7
    assert (
        result.stderr == f"error: run {seeded[3]['run_id']} has no report (the run is Executing)\n"
    )
    assert not (tmp_path / "x").exists()
