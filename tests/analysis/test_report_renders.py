"""report.html renders in headless Chromium (Debian's ``chromium`` package), offline.

Install: ``apt-get install -y chromium``. Without /usr/bin/chromium the test is skipped
and says so. The screenshot is checked for drawn content where the plots and the 3D
viewer sit, not only for a non-blank page.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from foldline.analysis import analyze

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless check needs Debian's chromium (/usr/bin/chromium): apt-get install -y chromium",
)


def screenshot(page: Path, png: Path, profile: Path, width: int = 1200, height: int = 3000) -> None:
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            "--virtual-time-budget=3000",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def test_report_renders_with_plots_and_viewer(alphafold_dir, openfold_dir, tmp_path):
    from matplotlib.image import imread

    out = tmp_path / "report"
    analyze(alphafold_dir, openfold_dir, out, context={"run_id": "run-123", "target": "6KWC_1"})
    png = tmp_path / "report.png"
    screenshot(out / "report.html", png, tmp_path / "profile")
    image = imread(str(png))[:, :, :3]
    not_white = (image < 0.94).any(axis=2)
    assert not_white.mean() > 0.05, "the page looks blank"
    # colours only the plots and the viewer draw: pLDDT bands' blue (0, 83, 214) in the
    # viewer and the engines' lines; the PAE heatmap's greens
    pixels = (image * 255).astype(int).reshape(-1, 3)

    def near(rgb, tol=40):
        return int((np.abs(pixels - np.asarray(rgb)).sum(1) < tol).sum())

    assert near((0, 83, 214), 60) > 200, "no very-high-pLDDT blue: the 3D viewer did not draw"
    assert near((31, 78, 156)) + near((209, 73, 91)) > 200, (
        "no engine lines: the pLDDT plot is missing"
    )
    greens = (pixels[:, 1] > pixels[:, 0] + 40) & (pixels[:, 1] > pixels[:, 2] + 20)
    assert greens.sum() > 2000, "no PAE heatmap"


def test_a_one_engine_report_renders(alphafold_dir, tmp_path):
    """OpenFold skipped (a multimer): the page draws the one engine's plot and model."""
    import json

    from matplotlib.image import imread

    skipped = tmp_path / "openfold"
    skipped.mkdir()
    (skipped / "foldline-step.json").write_text(
        json.dumps(
            {
                "step": "RunOpenFold",
                "engine": "openfold",
                "status": "skipped",
                "notes": ["OpenFold 1.0.1 has no multimer model"],
            }
        )
    )
    out = tmp_path / "report"
    analyze(alphafold_dir, skipped, out, context={"target": "6KWC_1"})
    png = tmp_path / "report.png"
    screenshot(out / "report.html", png, tmp_path / "profile")
    pixels = (imread(str(png))[:, :, :3] * 255).astype(int).reshape(-1, 3)

    def near(rgb, tol=40):
        return int((np.abs(pixels - np.asarray(rgb)).sum(1) < tol).sum())

    assert near((0, 83, 214), 60) > 200, "no very-high-pLDDT blue: the 3D viewer did not draw"
    assert near((31, 78, 156)) > 200, "no engine line: the pLDDT plot is missing"
