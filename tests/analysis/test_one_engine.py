"""One engine's report: a slot whose step skipped (OpenFold 1.0.1 on a multimer) or left no
model. The other engine is reported alone; neither slot with a model is still an error."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from foldline.analysis import METRICS_SCHEMA, analyze, headline
from foldline.outcomes import across_runs as compare
from foldline.outcomes.notices import succeeded_notice
from foldline.outcomes.succeeded import summary_from_metrics, tracked_metrics, tracked_parameters
from foldline.steps.openfold import MULTIMER_UNSUPPORTED

from .conftest import write_manifest


def _validate(metrics):
    jsonschema.validate(json.loads(json.dumps(metrics)), METRICS_SCHEMA)


def _step_folder(folder, step: str, engine: str, status: str, notes: list[str]):
    """A step's model dir holding only its foldline-step.json (what a skipped step leaves)."""
    folder.mkdir()
    write_manifest(folder, step, engine, "1.0.1", 3)
    manifest = json.loads((folder / "foldline-step.json").read_text())
    manifest.update(status=status, notes=notes)
    (folder / "foldline-step.json").write_text(json.dumps(manifest))
    return folder


@pytest.fixture
def skipped_openfold(tmp_path):
    """What the OpenFold step leaves for a multimer: the manifest, status skipped, no model."""
    return _step_folder(
        tmp_path / "openfold", "RunOpenFold", "openfold", "skipped", [MULTIMER_UNSUPPORTED]
    )


def _page_text(path) -> str:
    page = path.read_text()
    return re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", page, flags=re.DOTALL)


def test_openfold_skipped_gives_the_alphafold_slot_report(
    alphafold_dir, skipped_openfold, tmp_path
):
    out = tmp_path / "report"
    metrics = analyze(alphafold_dir, skipped_openfold, out, context={"target": "par3"})

    _validate(metrics)
    assert json.loads((out / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert metrics["comparison"] is None
    assert metrics["comparison_skipped"] == f"OpenFold skipped: {MULTIMER_UNSUPPORTED}"
    assert metrics["absent_engines"] == {
        "openfold": {
            "engine": "openfold",
            "engine_version": "1.0.1",
            "status": "skipped",
            "output": str(skipped_openfold),
            "reason": MULTIMER_UNSUPPORTED,
        }
    }
    assert metrics["engines"]["openfold"] is None
    assert not metrics["warnings"], metrics["warnings"]  # a skip is not a problem

    # the engine that ran: its confidence as in a two-engine report
    af = metrics["engines"]["alphafold"]
    assert af["model_file"] == "ranked_0.pdb" and af["relaxed"] is True
    assert len(af["plddt"]["per_residue"]) == 191
    assert sum(af["plddt"]["bands"].values()) == pytest.approx(1.0, abs=1e-3)
    assert af["ptm"] == pytest.approx(0.87)
    assert af["pae"]["shape"] == [191, 191]

    # the skipped step's runtime is still there, with its status
    steps = metrics["runtimes"]["steps"]
    assert steps["RunAlphaFold"]["seconds"] == 95.0
    assert steps["RunOpenFold"]["status"] == "skipped" and steps["RunOpenFold"]["seconds"] == 3.0

    files = metrics["files"]
    assert files["models"] == {"alphafold": "alphafold_ranked_0.pdb"}
    assert set(files["plots"]) == {"plddt", "per_residue", "pae_alphafold"}
    for name in [files["report"], *files["plots"].values(), *files["models"].values()]:
        assert (out / name).is_file(), name
    assert (out / "alphafold_ranked_0.pdb").read_bytes() == (
        alphafold_dir / "ranked_0.pdb"
    ).read_bytes()

    mean = af["plddt"]["mean"]
    assert (
        metrics["headline"]
        == headline(metrics)
        == (
            f"OpenFold skipped (OpenFold 1.0.1 has no multimer model); "
            f"mean pLDDT openfold (AlphaFold slot) {mean:.1f}, pTM 0.87"
        )
    )
    assert "TM-score" not in metrics["headline"]

    page = (out / "report.html").read_text()
    text = _page_text(out / "report.html")
    assert "OpenFold 1.0.1 was skipped" in text and "OpenFold 1.0.1 has no multimer model" in text
    assert "No comparison" in text and "TM-score" not in re.sub(r"There is no TM-score", "", text)
    assert "both models superposed" not in text
    assert (
        page.count("data:image/png;base64,") == 2
    )  # per residue (pLDDT) and PAE of the one engine
    payload = json.loads(re.search(r'id="fl-viewer-data">(.*?)</script>', page, re.DOTALL).group(1))
    assert [m["file"] for m in payload["models"]] == ["alphafold_ranked_0.pdb"]
    assert sum(line[12:16] == " CA " for line in payload["models"][0]["text"].splitlines()) == 191


def test_the_stand_in_alone_is_never_called_alphafold(alphafold_dir, skipped_openfold, tmp_path):
    manifest = json.loads((alphafold_dir / "foldline-step.json").read_text())
    manifest["engine"] = "template-cpu"
    (alphafold_dir / "foldline-step.json").write_text(json.dumps(manifest))
    metrics = analyze(alphafold_dir, skipped_openfold, tmp_path / "out")
    assert "template-cpu (AlphaFold slot)" in metrics["headline"]
    text = _page_text(tmp_path / "out" / "report.html")
    assert "template-cpu (AlphaFold slot)" in text
    assert re.findall(r"(?<!Run)AlphaFold(?! slot)", text) == []
    assert re.findall(r"(?<!Run)AlphaFold(?! slot)", metrics["headline"]) == []


def test_an_alphafold_slot_without_a_model_reports_openfold_alone(openfold_dir, tmp_path):
    # not skipped: the step says it succeeded but left nothing. Reported, with a warning.
    empty = _step_folder(tmp_path / "alphafold", "RunAlphaFold", "alphafold", "succeeded", [])
    metrics = analyze(empty, openfold_dir, tmp_path / "out")
    _validate(metrics)
    assert metrics["engines"]["alphafold"] is None
    assert metrics["comparison"] is None
    assert metrics["comparison_skipped"].startswith("AlphaFold left no model: no model in ")
    of = metrics["engines"]["openfold"]
    assert of["model_file"] == "predictions/6KWC_1_model_1_ptm_relaxed.pdb"  # relaxed preferred
    assert of["engine_version"] == "2.2.0" and of["ptm"] is None and of["pae"] is None
    assert metrics["files"]["models"] == {"openfold": "openfold_6KWC_1_model_1_ptm_relaxed.pdb"}
    assert set(metrics["files"]["plots"]) == {"plddt", "per_residue"}
    assert any("alphafold: the step left no model" in w for w in metrics["warnings"])
    assert metrics["headline"].startswith("AlphaFold left no model; mean pLDDT OpenFold ")
    assert "AlphaFold left no model" in _page_text(tmp_path / "out" / "report.html")


def test_neither_slot_with_a_model_is_still_an_error(skipped_openfold, tmp_path):
    empty = _step_folder(tmp_path / "alphafold", "RunAlphaFold", "alphafold", "succeeded", [])
    with pytest.raises(FileNotFoundError, match="neither engine left a model"):
        analyze(empty, skipped_openfold, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_schema_refuses_a_null_comparison_without_a_reason(
    alphafold_dir, skipped_openfold, tmp_path
):
    metrics = json.loads(json.dumps(analyze(alphafold_dir, skipped_openfold, tmp_path / "out")))
    for broken in ({**metrics, "comparison_skipped": None}, {**metrics, "absent_engines": {}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, METRICS_SCHEMA)


def test_the_notice_the_tracker_and_compare_handle_one_engine(
    alphafold_dir, skipped_openfold, tmp_path
):
    metrics = analyze(alphafold_dir, skipped_openfold, tmp_path / "out", context={"target": "par3"})
    mean = metrics["engines"]["alphafold"]["plddt"]["mean"]

    head = summary_from_metrics(metrics, {"RunOpenFold": 3.0})
    assert head.tm_score is None and head.rmsd is None
    assert head.absent == {"OpenFold skipped": MULTIMER_UNSUPPORTED}
    assert head.plddt_mean == {"openfold (AlphaFold slot)": pytest.approx(mean)}
    notice = succeeded_notice(
        target="par3",
        run_id="par3-abc",
        summary=head,
        report_url="https://example/report.html",
        report_uri="s3://b/runs/par3-abc/report/",
        link_expires_at="2026-12-03 17:57 UTC",
        model_uris={"RunAlphaFold": "s3://b/a.tar.gz", "RunOpenFold": "s3://b/o.tar.gz"},
    )
    assert notice.subject == "foldline: par3 succeeded, OpenFold skipped (run par3-abc)"
    assert f"OpenFold skipped: {MULTIMER_UNSUPPORTED}" in notice.body
    assert "TM-score:" not in notice.body and "RMSD (CA" not in notice.body
    assert f"Mean pLDDT: openfold (AlphaFold slot) {mean:.1f}" in notice.body

    tracked = tracked_metrics(metrics, head)
    assert "tm_score" not in tracked and "plddt_mean_openfold" not in tracked
    assert tracked["plddt_mean_alphafold"] == pytest.approx(mean)
    params = tracked_parameters({}, metrics)
    assert params["openfold_engine"] == "openfold" and params["openfold_model"] == "none (skipped)"

    run = compare.run_metrics("par3-abc", metrics)
    assert run.method == "none" and run.tm_score is None
    assert run.engines == {"alphafold": "openfold (AlphaFold slot)", "openfold": "OpenFold skipped"}
    assert run.plddt["openfold"] is None and run.plddt["alphafold"] == pytest.approx(mean)
    assert run.n_residues == 191
    headings, (cells,) = compare.shown_columns([run])
    assert cells[headings.index("TM-score")] == "-†"
    assert compare.no_comparison_note([run]) == (
        f"† no comparison (one engine left no model): par3-abc: OpenFold skipped: {MULTIMER_UNSUPPORTED}"
    )
    assert compare.tracked_comparison([run], {}).metrics[
        "plddt_mean_alphafold_mean"
    ] == pytest.approx(mean)
    compare.plot_comparison([run], tmp_path / "comparison.png")
    assert (tmp_path / "comparison.png").is_file()
