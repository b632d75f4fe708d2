"""Which weights made each engine's model: recorded by the step, shown by report and notice.

The steps write ``weights`` into ``foldline-step.json`` (foldline.steps.manifest); the
analysis carries it into ``metrics.json``, the report's confidence table and title, the
one-line headline, the success notice and the tracked parameters. "AlphaFold vs OpenFold"
where OpenFold ran AlphaFold's params says so in every one of them.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from foldline.analysis import analyze
from foldline.analysis.schema import METRICS_SCHEMA
from foldline.outcomes.notices import succeeded_notice
from foldline.outcomes.succeeded import summary_from_metrics, tracked_parameters
from tests.analysis.conftest import write_manifest

AF_PARAMS = {
    "kind": "alphafold",
    "name": "AlphaFold params model_1_ptm",
    "source": "/opt/ml/input/data/databases/params",
    "files": ["params_model_1_ptm.npz"],
}
OF_RUNNING_AF = {
    "kind": "alphafold",
    "name": "AlphaFold params model_1_ptm, run by OpenFold",
    "source": "/opt/ml/input/data/databases/params",
    "files": ["params_model_1_ptm.npz"],
    "channel": "databases",
    "requested": "FOLDLINE_OPENFOLD_WEIGHTS=alphafold-params",
}
OF_CHECKPOINT = {
    "kind": "openfold",
    "name": "OpenFold checkpoint finetuning_ptm_2.pt",
    "source": "/opt/ml/input/data/databases/openfold_params",
    "files": ["finetuning_ptm_2.pt"],
    "channel": "databases",
    "requested": "FOLDLINE_OPENFOLD_WEIGHTS=openfold",
}
RANDOM = {
    "kind": "random",
    "name": "random test weights (haiku init, seed 0)",
    "source": None,
    "files": ["params_model_1_ptm.npz"],
}


def manifest(folder: Path, step: str, engine: str, weights: dict | None) -> None:
    write_manifest(folder, step, engine, "test", 60)
    record = json.loads((folder / "foldline-step.json").read_text())
    if weights is not None:
        record["weights"] = weights
    (folder / "foldline-step.json").write_text(json.dumps(record))


def run(
    alphafold_dir,
    openfold_dir,
    tmp_path,
    af_weights,
    of_weights,
    *,
    af_engine="alphafold",
    of_engine="openfold",
):
    manifest(alphafold_dir, "RunAlphaFold", af_engine, af_weights)
    manifest(openfold_dir, "RunOpenFold", of_engine, of_weights)
    out = tmp_path / "report"
    metrics = analyze(
        alphafold_dir, openfold_dir, out, context={"run_id": "r1", "target": "6KWC_1"}
    )
    jsonschema.validate(metrics, METRICS_SCHEMA)
    return metrics, (out / "report.html").read_text()


def notice_body(metrics) -> str:
    headline = summary_from_metrics(metrics, {})
    return succeeded_notice(
        target="6KWC_1",
        run_id="r1",
        summary=headline,
        report_url="https://example.invalid/r",
        report_uri="s3://b/r/",
        link_expires_at="2026-12-07T00:00:00Z",
        model_uris={},
    ).body


def test_openfold_running_alphafolds_params_is_said_plainly(alphafold_dir, openfold_dir, tmp_path):
    metrics, page = run(alphafold_dir, openfold_dir, tmp_path, AF_PARAMS, OF_RUNNING_AF)
    assert metrics["engines"]["alphafold"]["weights"] == AF_PARAMS
    assert metrics["engines"]["openfold"]["weights"] == {
        k: OF_RUNNING_AF[k] for k in ("kind", "name", "source", "files")
    }
    same = (
        "The OpenFold slot ran AlphaFold's params (params_model_1_ptm.npz), not an OpenFold "
        "checkpoint: both models come from AlphaFold's weights, so this compares two "
        "implementations of one set of weights, not two trained models."
    )
    assert metrics["warnings"][0] == same
    assert "mean pLDDT AlphaFold " in metrics["headline"]
    assert ", OpenFold running AlphaFold's params " in metrics["headline"]
    assert "<title>6KWC_1 — AlphaFold vs OpenFold running AlphaFold&#39;s params</title>" in page
    assert "<td>AlphaFold params model_1_ptm, run by OpenFold</td>" in page
    assert same.replace("'", "&#39;") in page

    body = notice_body(metrics)
    assert (
        "Weights: AlphaFold: AlphaFold params model_1_ptm; OpenFold running AlphaFold's "
        "params: AlphaFold params model_1_ptm, run by OpenFold"
    ) in body
    assert same in body
    tracked = tracked_parameters({}, metrics)
    assert (tracked["alphafold_weights"], tracked["openfold_weights"]) == ("alphafold", "alphafold")


def test_openfolds_own_checkpoint_is_named(alphafold_dir, openfold_dir, tmp_path):
    metrics, page = run(alphafold_dir, openfold_dir, tmp_path, AF_PARAMS, OF_CHECKPOINT)
    assert "<title>6KWC_1 — AlphaFold vs OpenFold</title>" in page
    assert "<td>OpenFold checkpoint finetuning_ptm_2.pt</td>" in page
    assert not any("weights" in w for w in metrics["warnings"])
    body = notice_body(metrics)
    assert (
        "Weights: AlphaFold: AlphaFold params model_1_ptm; OpenFold: OpenFold checkpoint "
        "finetuning_ptm_2.pt"
    ) in body
    assert "one set of weights" not in body
    assert tracked_parameters({}, metrics)["openfold_weights"] == "openfold"


def test_random_test_weights_are_never_shown_as_a_model(alphafold_dir, openfold_dir, tmp_path):
    metrics, page = run(alphafold_dir, openfold_dir, tmp_path, RANDOM, OF_CHECKPOINT)
    assert "AlphaFold with random test weights vs OpenFold" in page
    assert (
        "The AlphaFold slot's model was made with random test weights: its structure and "
        "confidence mean nothing."
    ) in metrics["warnings"]
    assert (
        "Weights: AlphaFold with random test weights: random test weights (haiku init, seed 0)"
        in (notice_body(metrics))
    )


def test_stand_in_and_unrecorded_weights(alphafold_dir, openfold_dir, tmp_path):
    """The CPU stand-in has no weights (said even where its manifest predates the record);
    a manifest without the record says nothing, and the report says "not recorded"."""
    metrics, page = run(alphafold_dir, openfold_dir, tmp_path, None, None, af_engine="template-cpu")
    assert metrics["engines"]["alphafold"]["weights"] == {
        "kind": "none",
        "name": "none (template-cpu: no model weights)",
        "source": None,
        "files": [],
    }
    assert metrics["engines"]["openfold"]["weights"] is None
    assert "<td>none (template-cpu: no model weights)</td>" in page
    assert "<td>not recorded</td>" in page
    assert (
        "Weights: template-cpu (AlphaFold slot): none (template-cpu: no model weights); "
        "OpenFold: not recorded"
    ) in notice_body(metrics)
    assert tracked_parameters({}, metrics)["openfold_weights"] == "not recorded"
