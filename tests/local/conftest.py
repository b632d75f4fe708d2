"""Fixtures for the local runtime: a started LocalRuntime in a temporary work folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.local.runtime import DEFAULT_DATABASES, LocalRuntime
from foldline.steps.engines.mmseqs_search import CACHE_ENV

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "xylanase.fasta"
TEMPLATE = ROOT / "template.yaml"

# A DNA "FASTA": the start function must reject it (a nucleotide sequence).
DNA_FASTA = ">not-a-protein\nATGGCGTACGTTAGCATCGATCGATCGGCTAGCTAGCATCG\n"


@pytest.fixture
def dna_fasta(tmp_path: Path) -> Path:
    path = tmp_path / "dna.fasta"
    path.write_text(DNA_FASTA)
    return path


@pytest.fixture
def make_runtime(tmp_path: Path):
    """Start LocalRuntimes in tmp_path (stopped at the end of the test)."""
    started: list[LocalRuntime] = []

    def make(workdir: Path | None = None, **kwargs) -> LocalRuntime:
        kwargs.setdefault("databases", DEFAULT_DATABASES)
        runtime = LocalRuntime(workdir or tmp_path / "work", **kwargs)
        runtime.start()
        started.append(runtime)
        return runtime

    yield make
    for runtime in started:
        runtime.stop()


def local_run_with_mmseqs_cache(root: Path, *args: str):
    """``foldline local run *args`` in ``root/work``, its MMseqs2 databases built in
    ``root/mmseqs-cache`` (the step jobs inherit the variable)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CACHE_ENV, str(root / "mmseqs-cache"))
        return CliRunner().invoke(app, ["local", "run", *args, "--workdir", str(root / "work")])
