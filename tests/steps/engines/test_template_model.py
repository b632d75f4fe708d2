"""The template-cpu stand-in on the bundled example's real search results."""

from __future__ import annotations

import io
from dataclasses import replace

import gemmi
import numpy as np
import pytest
import tmtools
from Bio.PDB import PDBParser

from foldline.steps.engines.template_model import ENGINE, predict

from .conftest import DATABASES

TEMPLATE_CIF = DATABASES / "pdb_mmcif" / "mmcif_files"


def _chains(pdb_text: str) -> list[tuple[str, str, np.ndarray]]:
    st = gemmi.read_pdb_string(pdb_text)
    out = []
    for chain in st[0]:
        sequence = gemmi.one_letter_code([r.name for r in chain])
        ca = np.array([r["CA"][0].pos.tolist() for r in chain])
        out.append((chain.name, sequence, ca))
    return out


def _template_ca(pdb_id: str, chain: str) -> tuple[str, np.ndarray]:
    st = gemmi.read_structure(str(TEMPLATE_CIF / f"{pdb_id}.cif"))
    st.remove_ligands_and_waters()
    residues = [r for ch in st[0] if ch.name == chain for r in ch if r.find_atom("CA", "*")]
    return (
        gemmi.one_letter_code([r.name for r in residues]),
        np.array([r.find_atom("CA", "*").pos.tolist() for r in residues]),
    )


@pytest.fixture(scope="module")
def models(monomer_search):
    return {
        variant: predict(
            monomer_search.chains,
            monomer_search.msas,
            DATABASES,
            variant=variant,
            max_template_date="2025-01-01",
        )
        for variant in ("profile", "pairwise")
    }


@pytest.mark.parametrize("variant", ["profile", "pairwise"])
def test_model_is_the_query_and_parses(models, monomer_search, variant):
    best = models[variant][0]
    query = monomer_search.chains[0].sequence
    [(_name, sequence, ca)] = _chains(best.pdb_text)
    assert sequence == query and len(ca) == len(query)
    assert len(best.plddt) == len(query)
    assert all(0 <= x <= 100 for x in best.plddt)
    bfactors = [a.b_iso for r in gemmi.read_pdb_string(best.pdb_text)[0][0] for a in r]
    assert all(0 <= b <= 100 for b in bfactors)
    structure = PDBParser(QUIET=True).get_structure("m", io.StringIO(best.pdb_text))
    assert len(list(structure.get_residues())) == len(query)
    remarks = [line for line in best.pdb_text.splitlines() if line.startswith("REMARK")]
    assert any(ENGINE in line for line in remarks)
    assert any(f"VARIANT {variant}" in line for line in remarks)
    assert any("TEMPLATE 6kwc_A" in line for line in remarks)
    assert best.template == "6kwc_A" and best.engine == ENGINE
    assert 0.5 < best.identity < 0.8  # the query is 62 % identical to 6KWC
    assert best.ranking_confidence == pytest.approx(np.mean(best.plddt))


@pytest.mark.parametrize("variant", ["profile", "pairwise"])
def test_model_has_the_template_fold(models, variant):
    [(_, sequence, ca)] = _chains(models[variant][0].pdb_text)
    template_sequence, template_ca = _template_ca("6kwc", "A")
    result = tmtools.tm_align(ca, template_ca, sequence, template_sequence)
    assert result.tm_norm_chain2 > 0.9, result.tm_norm_chain2


def test_variants_differ_but_agree(models):
    [(_, _, profile)] = _chains(models["profile"][0].pdb_text)
    [(_, sequence, pairwise)] = _chains(models["pairwise"][0].pdb_text)
    assert not np.allclose(profile, pairwise)
    assert models["profile"][0].plddt != models["pairwise"][0].plddt
    result = tmtools.tm_align(profile, pairwise, sequence, sequence)
    assert result.tm_norm_chain1 > 0.85


def test_unaligned_residues_are_low_confidence(models):
    best = models["profile"][0]
    structure = gemmi.read_pdb_string(best.pdb_text)
    ca_only = [i for i, r in enumerate(structure[0][0]) if len(r) == 1]
    assert ca_only, "the profile alignment leaves the query's first residues unaligned"
    assert all(best.plddt[i] < 30 for i in ca_only)
    backbone = [i for i, r in enumerate(structure[0][0]) if len(r) > 1]
    assert min(best.plddt[i] for i in backbone) >= 35


def test_template_after_cutoff_gives_no_model(monomer_search):
    assert (
        predict(
            monomer_search.chains,
            monomer_search.msas,
            DATABASES,
            variant="profile",
            max_template_date="2024-05-02",
        )
        == []
    )


def test_unknown_variant_is_refused(monomer_search):
    with pytest.raises(ValueError, match="variant"):
        predict(
            monomer_search.chains,
            monomer_search.msas,
            DATABASES,
            variant="alphafold",
            max_template_date="",
        )


def test_the_querys_own_pdb_entries_are_rejected_as_duplicates(multimer_search):
    # multimer.fasta is 3ZEE's sequence: 3ZEE and 4I6P (the same protein) are the query
    # itself, which AlphaFold's template prefilter rejects; nothing else is a homologue
    rejected: list[str] = []
    assert (
        predict(
            multimer_search.chains,
            multimer_search.msas,
            DATABASES,
            variant="pairwise",
            max_template_date="",
            rejections=rejected,
        )
        == []
    )
    assert {r.split(":")[0] for r in rejected} == {"3zee_A", "4i6p_A", "4i6p_B"}
    assert all("a duplicate of the query" in r for r in rejected)


def test_a_template_covering_a_sliver_of_the_query_is_rejected():
    from foldline.steps.engines.template_model import prefilter_rejection

    query = "A" * 100
    assert "AlphaFold rejects <= 10%" in prefilter_rejection(query, "-" * 90 + "A" * 10)
    assert prefilter_rejection(query, "-" * 89 + "A" * 11) is None
    assert "duplicate" in prefilter_rejection(query, "A" * 96 + "----")
    assert prefilter_rejection(query, "A" * 95 + "-----") is None  # 95 % is not > 95 %


def test_multimer_keeps_the_complex_template_placement(multimer_search):
    # a double point mutant of the query (E3K, R12K) is no duplicate of 3ZEE or 4I6P
    mutant = [
        replace(c, sequence=c.sequence[:2] + "K" + c.sequence[3:11] + "K" + c.sequence[12:])
        for c in multimer_search.chains
    ]
    [best] = predict(
        mutant, multimer_search.msas, DATABASES, variant="pairwise", max_template_date=""
    )
    assert best.template == "4i6p_A,4i6p_B"
    assert "multi-chain template 4i6p" in best.pdb_text
    chains = _chains(best.pdb_text)
    assert [c[0] for c in chains] == ["A", "B"]
    assert all(c[1] == mutant[0].sequence for c in chains)
    model = np.vstack([c[2] for c in chains])
    _, a = _template_ca("4i6p", "A")
    _, b = _template_ca("4i6p", "B")
    # the two chains sit as in the crystal: TM-score of the complex against 4I6P
    sequence = "".join(c[1] for c in chains)
    template_sequence = _template_ca("4i6p", "A")[0] + _template_ca("4i6p", "B")[0]
    result = tmtools.tm_align(model, np.vstack([a, b]), sequence, template_sequence)
    assert result.tm_norm_chain1 > 0.9
