"""Shared fixtures: one search per preset over the bundled example databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from foldline.intake.fasta import decide
from foldline.steps.engines.msa_search import run_msa_search

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
DATABASES = EXAMPLES / "databases"


def chains_of(name: str):
    decision = decide((EXAMPLES / name).read_bytes())
    assert decision.accepted, decision.reason
    return decision.chains


class SearchRun:
    def __init__(self, out: Path, chains, timings: dict):
        self.out = out
        self.msas = out / "msas"
        self.chains = chains
        self.timings = timings
        self.notes = json.loads((out / "msa_search.json").read_text())


def _search(tmp_path_factory, fasta: str, **kwargs) -> SearchRun:
    out = tmp_path_factory.mktemp(fasta.split(".")[0])
    chains = chains_of(fasta)
    timings = run_msa_search(chains, DATABASES, out, cpus=2, **kwargs)
    return SearchRun(out, chains, timings)


@pytest.fixture(scope="session")
def monomer_search(tmp_path_factory) -> SearchRun:
    return _search(
        tmp_path_factory,
        "xylanase.fasta",
        db_preset="reduced_dbs",
        model_preset="monomer",
        max_template_date="2025-01-01",
    )


@pytest.fixture(scope="session")
def multimer_search(tmp_path_factory) -> SearchRun:
    return _search(
        tmp_path_factory,
        "multimer.fasta",
        db_preset="full_dbs",
        model_preset="multimer",
        max_template_date="",
    )
