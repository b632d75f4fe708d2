"""report.html in headless Chromium (Debian's ``chromium``), driven by Playwright, offline.

Install: ``apt-get install -y chromium`` (Playwright, a dev dependency, drives that
browser; it downloads none). Without /usr/bin/chromium the tests are skipped and say so.
Every request that would leave the machine is refused and recorded; the page must make
none, log no console error, throw nothing, and draw: the 3-D view's box holds a cartoon
(in the pLDDT band colours, then in the engines' colours once "by engine" is chosen) and
every plot image has loaded.
"""

from __future__ import annotations

import io
import json
import shutil
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

VERY_HIGH_BLUE = (0, 83, 214)  # pLDDT > 90 in the viewer's confidence colours
ENGINE_RGB = {"alphafold": (31, 78, 156), "openfold": (209, 73, 91)}  # plots.ENGINE_COLOURS


class Page:
    """One report opened in Chromium, with what it logged and what it tried to fetch."""

    def __init__(self, browser, path: Path):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 1000})
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

        def refuse(route):
            self.requests.append(route.request.url)
            route.abort()

        self.page.route("http*://**/*", refuse)
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("body[data-fl-viewer=drawn]", timeout=30_000)
        self.page.wait_for_timeout(300)

    def viewer_pixels(self) -> np.ndarray:
        """The 3-D view's box as rendered, (n, 3) RGB 0-255."""
        from matplotlib.image import imread

        png = self.page.locator("#fl-viewer").screenshot()
        return (
            (imread(io.BytesIO(png), format="png")[:, :, :3] * 255)
            .round()
            .astype(int)
            .reshape(-1, 3)
        )

    def images(self) -> dict[str, int]:
        """alt text -> natural width of every <img> (0: not loaded)."""
        return self.page.eval_on_selector_all(
            "img", "els => Object.fromEntries(els.map(e => [e.alt, e.naturalWidth]))"
        )


def near(pixels: np.ndarray, rgb, tol: int = 60) -> int:
    return int((np.abs(pixels - np.asarray(rgb)).sum(1) < tol).sum())


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # software WebGL (SwiftShader): the test machines have no GPU
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        yield chromium
        chromium.close()


def test_the_report_renders_offline_with_its_viewer_and_plots(
    browser, alphafold_dir, openfold_dir, msa_dir, tmp_path
):
    out = tmp_path / "report"
    context = {
        "run_id": "run-123",
        "target": "6KWC_1",
        "parameters": {"ModelPreset": "monomer_ptm", "DbPreset": "reduced_dbs"},
    }
    metrics = analyze(alphafold_dir, openfold_dir, out, context=context, msa=msa_dir)
    page = Page(browser, out / "report.html")
    assert page.errors == [] and page.requests == []

    # every plot loaded: the per-residue stack, AlphaFold's PAE, the MSA coverage
    images = page.images()
    assert len(images) == 3 and all(width > 300 for width in images.values()), images
    assert set(metrics["files"]["plots"]) == {
        "plddt",
        "per_residue",
        "pae_alphafold",
        "msa_coverage",
    }

    # the cartoon, in confidence colours: most of 6KWC's residues are > 90
    pixels = page.viewer_pixels()
    drawn = (np.abs(pixels - 255).sum(1) > 30).mean()
    assert 0.05 < drawn < 0.9, f"{drawn:.0%} of the viewer's box differs from its white background"
    assert near(pixels, VERY_HIGH_BLUE) > 2000
    assert near(pixels, ENGINE_RGB["openfold"], 40) == 0

    # by engine: both models, each in its engine's colour; hiding one removes its colour
    page.page.check("input[name=fl-colour][value=engine]")
    pixels = page.viewer_pixels()
    assert (
        near(pixels, ENGINE_RGB["alphafold"]) > 2000 and near(pixels, ENGINE_RGB["openfold"]) > 500
    )
    assert near(pixels, VERY_HIGH_BLUE, 30) < near(pixels, ENGINE_RGB["alphafold"]) / 10
    page.page.uncheck("input[data-fl-model='1']")
    pixels = page.viewer_pixels()
    assert (
        near(pixels, ENGINE_RGB["openfold"]) == 0 and near(pixels, ENGINE_RGB["alphafold"]) > 2000
    )
    assert page.errors == [] and page.requests == []


def test_a_one_engine_report_renders(browser, alphafold_dir, tmp_path):
    """OpenFold skipped (a multimer): the page draws the one engine's plots and model."""
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
    page = Page(browser, out / "report.html")
    assert page.errors == [] and page.requests == []
    images = page.images()
    assert len(images) == 2 and all(width > 300 for width in images.values()), (
        images
    )  # per residue, PAE
    pixels = page.viewer_pixels()
    assert near(pixels, VERY_HIGH_BLUE) > 2000
    assert page.page.locator("input[data-fl-model]").count() == 1
    assert "OpenFold was skipped" in page.page.locator("#compared + p").inner_text()


def test_a_placeholder_of_ca_atoms_only_is_drawn(browser, tmp_path):
    """The CPU stand-in without a template writes CA atoms only: a thin trace, still drawn."""
    from tests.analysis.conftest import KWC_RELAXED

    model = tmp_path / "ranked_0.pdb"
    lines = KWC_RELAXED.read_text().splitlines()
    model.write_text(
        "".join(f"{line}\n" for line in lines if line.startswith("ATOM") and line[12:16] == " CA ")
    )
    out = tmp_path / "report"
    analyze(model, model, out, context={"target": "6KWC_1"})
    page = Page(browser, out / "report.html")
    assert page.errors == [] and page.requests == []
    pixels = page.viewer_pixels()
    assert (np.abs(pixels - 255).sum(1) > 30).mean() > 0.01, "the trace was not drawn"


def test_every_file_link_downloads_its_file_from_the_page_alone(
    browser, alphafold_dir, openfold_dir, msa_dir, tmp_path
):
    """Opened where nothing sits beside it (a presigned link, a downloaded copy), each link
    of the Files table still yields its file, byte for byte: models and metrics.json from
    the page's compressed copies, plots from the images it shows."""
    out = tmp_path / "report"
    metrics = analyze(alphafold_dir, openfold_dir, out, context={"run_id": "run-1"}, msa=msa_dir)
    alone = tmp_path / "downloaded"
    alone.mkdir()
    shutil.copyfile(out / "report.html", alone / "report.html")
    page = Page(browser, alone / "report.html")
    names = page.page.eval_on_selector_all(
        "a[data-fl-file]", "els => els.map(e => e.getAttribute('data-fl-file'))"
    )
    expected = {
        *metrics["files"]["plots"].values(),
        *metrics["files"]["models"].values(),
        "metrics.json",
    }
    assert set(names) == expected
    for name in names:
        with page.page.expect_download() as download:
            page.page.click(f"a[data-fl-file='{name}']")
        saved = tmp_path / "saved" / name
        download.value.save_as(saved)
        assert download.value.suggested_filename == name
        assert saved.read_bytes() == (out / name).read_bytes(), name
    assert page.errors == [] and page.requests == []
