"""The report's downloads: what the page carries, and what it leaves beside it."""

from __future__ import annotations

import base64
import gzip
import random
import re

from foldline.analysis import analyze
from foldline.analysis.downloads import plan_downloads


def test_files_are_carried_until_the_budget_is_spent_smallest_first(tmp_path):
    (tmp_path / "metrics.json").write_text('{"a": 1}\n')
    (tmp_path / "small.pdb").write_text("ATOM  small\n" * 10)
    big = random.Random(0).randbytes(20_000)  # does not compress: its base64 is over the budget
    (tmp_path / "big.pdb").write_bytes(big)
    (tmp_path / "plot.png").write_bytes(b"\x89PNG shown")
    names = ["big.pdb", "small.pdb", "plot.png", "metrics.json"]
    downloads, payload = plan_downloads(
        tmp_path, names, {"per_residue": "plot.png"}, shown={"per_residue"}, budget=10_000
    )
    assert {n: d.embedded for n, d in downloads.items()} == {
        "big.pdb": False,
        "small.pdb": True,
        "plot.png": True,
        "metrics.json": True,
    }
    assert payload["plot.png"] == {"type": "image/png", "image": "fl-plot-per_residue"}
    assert "big.pdb" not in payload
    carried = gzip.decompress(base64.b64decode(payload["small.pdb"]["gzip"]))
    assert carried == (tmp_path / "small.pdb").read_bytes()
    assert payload["small.pdb"]["type"] == "chemical/x-pdb"
    assert payload["metrics.json"]["type"] == "application/json"


def test_a_file_too_large_to_carry_keeps_its_link_and_says_where_it_is(
    alphafold_dir, openfold_dir, tmp_path, monkeypatch
):
    from foldline.analysis import downloads

    monkeypatch.setattr(downloads, "EMBED_BUDGET", 20_000)  # metrics.json fits, no model
    out = tmp_path / "report"
    metrics = analyze(alphafold_dir, openfold_dir, out, context={"run_id": "run-9"})
    page = (out / "report.html").read_text()
    carried = set(re.findall(r'data-fl-file="([^"]+)"', page))
    models = set(metrics["files"]["models"].values())
    assert not models & carried and "metrics.json" in carried
    for name in models:  # the relative link stays, with the reason beside it
        assert f'<a href="{name}" download="{name}">' in page
    assert "too large to carry in this page" in page and "foldline results run-9" in page
