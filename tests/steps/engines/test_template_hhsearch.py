"""The template-cpu stand-in on HHsearch's hits (``pdb_hits.hhr``), as AlphaFold's monomer
data pipeline leaves them: the OpenFold slot runs it as a local process next to an MSA
step that ran in its image (``foldline local run --containers --no-container RunOpenFold``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from Bio import SearchIO

from foldline.steps.engines.template_model import HHSEARCH_HITS, predict

from .conftest import DATABASES, chains_of

HHR = Path(__file__).resolve().parents[2] / "data" / "hhsearch" / "xylanase_pdb_hits.hhr"


@pytest.fixture
def hhsearch_msas(tmp_path) -> Path:
    msas = tmp_path / "msas"
    msas.mkdir()
    shutil.copy(HHR, msas / HHSEARCH_HITS)
    return msas


def test_hhsearch_hits_make_the_template_model(hhsearch_msas):
    chains = chains_of("xylanase.fasta")
    (reported,) = [h for h in SearchIO.read(HHR, "hhsuite3-text") if h.id == "6kwc_A"]
    for variant in ("profile", "pairwise"):
        best = predict(
            chains, hhsearch_msas, DATABASES, variant=variant, max_template_date="2025-01-01"
        )[0]
        assert best.template == "6kwc_A" and not best.notes
        assert len(best.plddt) == len(chains[0].sequence)
    # the profile variant keeps HHsearch's own alignment: its identity and coverage
    hsp = reported.hsps[0]
    profile = predict(
        chains, hhsearch_msas, DATABASES, variant="profile", max_template_date="2025-01-01"
    )[0]
    identical = sum(q == t for q, t in zip(str(hsp.query.seq), str(hsp.hit.seq)) if q != "-")
    aligned = sum(q != "-" and t != "-" for q, t in zip(str(hsp.query.seq), str(hsp.hit.seq)))
    assert profile.identity == pytest.approx(identical / aligned)
    assert profile.coverage == pytest.approx(aligned / len(chains[0].sequence))


def test_templates_after_the_cutoff_are_not_used_and_short_hits_fail_alphafolds_prefilter(
    hhsearch_msas,
):
    # 6KWC's mmCIF is dated 2024-05-03: a cut-off before it leaves only hits that align
    # 6-14 of the query's 188 residues, which AlphaFold's prefilter rejects (<= 10 %)
    rejected: list[str] = []
    models = predict(
        chains_of("xylanase.fasta"),
        hhsearch_msas,
        DATABASES,
        variant="pairwise",
        max_template_date="2024-01-01",
        rejections=rejected,
    )
    assert models == []
    assert {r.split(":")[0] for r in rejected} == {"4zey_A", "2q2k_A", "2q2k_B", "3u8v_A", "3u8v_B"}
    assert all("AlphaFold rejects <= 10%" in r for r in rejected)
