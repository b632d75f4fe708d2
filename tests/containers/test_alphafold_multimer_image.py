"""foldline's per-chain pTM and per chain-pair ipTM against AlphaFold's own
``predicted_tm_score``, computed here in the AlphaFold image, on a real AlphaFold-Multimer
output.

The output (tests/data/analysis/alphafold-multimer, see its NOTICE.md) was made by RunMSA
and RunAlphaFold with ``ModelPreset=multimer`` in their images: three short chains from
the bundled data, ``model_1_multimer_v3`` with random parameters in the real shapes
(``in_image/make_random_params.py``), 20 recycles, relaxed. Its structure means nothing;
the confidence arithmetic on it is AlphaFold's, and foldline's must give the same numbers.
Making it again takes over an hour of CPU (the multimer model's XLA compile and 20
recycles), so the tests take the stored output; ``alphafold_figures.json`` holds the
figures this test computes, for the image-free test in tests/analysis.
"""

from __future__ import annotations

import json
import shutil

import pytest

from foldline.analysis.analyze import analyze
from tests.containers.conftest import IN_IMAGE, REPO, run_in_image

OUTPUT = REPO / "tests" / "data" / "analysis" / "alphafold-multimer"
PREDICTION = "model_1_multimer_v3_pred_0"
LENGTH = 24


def test_chain_pair_confidence_is_alphafolds_predicted_tm_score_per_chain_and_pair(
    tmp_path, images
):
    done = run_in_image(
        images["alphafold"],
        "/opt/alphafold-env/bin/python",
        "/t/chain_pair_ptm.py",
        f"/m/result_{PREDICTION}.pkl",
        "/m/features.pkl",
        mounts={IN_IMAGE: "/t:ro", OUTPUT: "/m:ro"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    alphafold = json.loads(done.stdout)
    # the bins as AlphaFold's config makes them: 0 to 31 Å in 63 edges, last centre 31.75 Å
    assert alphafold["breaks"] == [0.0, 31.0, 63]
    assert alphafold["pickle"]["max_predicted_aligned_error"] == pytest.approx(31.75)
    # the recomputation is the model's own on the whole complex
    assert alphafold["complex"]["ptm"] == pytest.approx(alphafold["pickle"]["ptm"], abs=2e-3)
    assert alphafold["complex"]["iptm"] == pytest.approx(alphafold["pickle"]["iptm"], abs=2e-3)
    recorded = json.loads((OUTPUT / "alphafold_figures.json").read_text())
    assert alphafold["ptm"] == pytest.approx(recorded["ptm"], abs=1e-6)
    assert alphafold["iptm"] == pytest.approx(recorded["iptm"], abs=1e-6)

    model = tmp_path / "alphafold"
    shutil.copytree(OUTPUT, model)
    openfold = tmp_path / "openfold-absent"
    openfold.mkdir()
    metrics = analyze(model, openfold, tmp_path / "report")
    section = metrics["engines"]["alphafold"]
    assert [c["length"] for c in section["chains"]] == [LENGTH] * 3
    found = section["chain_pair_confidence"]
    assert found["source"].startswith(f"result_{PREDICTION}.pkl")
    assert "features.pkl asym_id" in found["source"]
    assert set(found["ptm"]) == {"A", "B", "C"} and set(found["iptm"]) == {"A-B", "A-C", "B-C"}
    for chain, value in alphafold["ptm"].items():
        assert found["ptm"][chain] == pytest.approx(value, abs=1e-4), chain
    for pair, value in alphafold["iptm"].items():
        assert found["iptm"][pair] == pytest.approx(value, abs=1e-4), pair
