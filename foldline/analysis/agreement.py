"""Compare two models: per matched chain and for the whole complex.

Same sequence (the normal case: two engines, one target): chains are paired by sequence
(:mod:`foldline.analysis.chains`), residue i pairs with residue i, and TM-score, RMSD,
GDT (:mod:`foldline.analysis.tmscore`) and CA-lDDT (biotite) are computed with that fixed
correspondence. Different sequences (a model against an experimental structure or
another target): TM-align (tmtools) finds the alignment, and the TM-score is normalised
by the model's length.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from foldline.analysis.chains import ChainMatching, match_chains
from foldline.analysis.structures import StructureModel
from foldline.analysis.superpose import Superposition
from foldline.analysis.tmscore import FixedScores, score_fixed_correspondence

__all__ = [
    "PairScores",
    "Comparison",
    "compare_models",
    "ca_lddt",
    "tm_align",
    "TMAlignScores",
]

LDDT_INCLUSION_RADIUS = 15.0  # Å; the CA-only lDDT radius (Mariani et al. 2013)


def ca_lddt(reference_ca: np.ndarray, model_ca: np.ndarray, chain_index: np.ndarray | None = None) -> float:
    """Global CA-lDDT of ``model_ca`` against ``reference_ca`` (same order), with biotite.

    Superposition-free: it compares each residue's CA distances to the CAs within 15 Å
    in the reference, at tolerances 0.5, 1, 2 and 4 Å.
    """
    import biotite.structure as struc  # imported here: ~0.1 s, only the scores need it

    n = len(reference_ca)
    atoms = struc.AtomArray(n)
    atoms.coord = np.asarray(reference_ca, dtype=np.float32)
    atoms.res_id = np.arange(1, n + 1)  # unique per residue across chains
    atoms.chain_id = (
        np.asarray([str(i) for i in chain_index]) if chain_index is not None else np.full(n, "A")
    )
    atoms.res_name = np.full(n, "GLY")
    atoms.atom_name = np.full(n, "CA")
    atoms.element = np.full(n, "C")
    return float(
        struc.lddt(
            atoms,
            np.asarray(model_ca, dtype=np.float32),
            inclusion_radius=LDDT_INCLUSION_RADIUS,
        )
    )


@dataclass(frozen=True)
class PairScores:
    """Scores for one matched chain pair or for the complex."""

    reference_chains: tuple[str, ...]
    mobile_chains: tuple[str, ...]
    scores: FixedScores
    lddt: float

    def as_dict(self) -> dict:
        s = self.scores
        return {
            "reference_chains": list(self.reference_chains),
            "mobile_chains": list(self.mobile_chains),
            "n_aligned": s.n_aligned,
            "tm_score": round(s.tm_score, 4),
            "normalising_length": s.normalising_length,
            "d0": round(s.d0, 3),
            "rmsd": round(s.rmsd, 3),
            "gdt_ts": round(s.gdt_ts, 4),
            "gdt_ha": round(s.gdt_ha, 4),
            "gdt_shares": {k: round(v, 4) for k, v in s.gdt_shares.items()},
            "lddt": round(self.lddt, 4),
        }


@dataclass(frozen=True)
class Comparison:
    """The result of comparing ``mobile`` against ``reference``."""

    method: str  # "fixed_correspondence" or "tm_align"
    matching: ChainMatching | None
    complex: PairScores | None
    per_chain: tuple[PairScores, ...]
    superposition: Superposition  # moves the mobile model onto the reference
    tm_align: TMAlignScores | None = None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TMAlignScores:
    tm_score: float  # normalised by the first structure's ("model") length
    tm_score_other: float  # normalised by the second structure's length
    normalising_length: int
    rmsd: float
    n_aligned: int
    superposition: Superposition  # moves the FIRST structure onto the second


def tm_align(model_ca: np.ndarray, model_seq: str, other_ca: np.ndarray, other_seq: str) -> TMAlignScores:
    """TM-align (tmtools) for structures whose sequences differ.

    The returned ``tm_score`` is normalised by the model's (first argument's) length.
    """
    import tmtools

    result = tmtools.tm_align(
        np.ascontiguousarray(model_ca, dtype=np.float64),
        np.ascontiguousarray(other_ca, dtype=np.float64),
        model_seq,
        other_seq,
    )
    # tmtools: chain1 @ u.T + t superposes chain 1 onto chain 2
    aligned = sum(1 for a, b in zip(result.seqxA, result.seqyA) if a != "-" and b != "-")
    return TMAlignScores(
        tm_score=float(result.tm_norm_chain1),
        tm_score_other=float(result.tm_norm_chain2),
        normalising_length=len(model_seq),
        rmsd=float(result.rmsd),
        n_aligned=aligned,
        superposition=Superposition(np.asarray(result.u).T, np.asarray(result.t)),
    )


def _pair_scores(ref_names, mob_names, ref_ca, mob_ca, chain_index=None) -> PairScores:
    scores = score_fixed_correspondence(mob_ca, ref_ca, normalising_length=len(ref_ca))
    return PairScores(tuple(ref_names), tuple(mob_names), scores, ca_lddt(ref_ca, mob_ca, chain_index))


def compare_models(reference: StructureModel, mobile: StructureModel) -> Comparison:
    """Compare ``mobile`` against ``reference`` (e.g. OpenFold's model against AlphaFold's).

    Chains are matched by sequence; each matched pair and the complex of all matched
    pairs get TM-score (normalised by the reference's matched length), RMSD, GDT-TS/HA
    and CA-lDDT with residue i paired with residue i. Models that share no chain
    sequence are compared with TM-align over all their residues instead.
    """
    matching = match_chains(reference, mobile)
    notes: list[str] = []
    if not matching.pairs:
        ref_ca = np.concatenate([c.ca for c in reference.chains])
        mob_ca = np.concatenate([c.ca for c in mobile.chains])
        aligned = tm_align(
            mob_ca, "".join(c.sequence for c in mobile.chains),
            ref_ca, "".join(c.sequence for c in reference.chains),
        )  # fmt: skip
        notes.append("no chain sequence is shared: TM-align alignment, not fixed correspondence")
        return Comparison("tm_align", matching, None, (), aligned.superposition, aligned, tuple(notes))

    per_chain = tuple(
        _pair_scores([p.reference.name], [p.mobile.name], p.reference.ca, p.mobile.ca)
        for p in matching.pairs
    )
    if len(matching.pairs) == 1:
        complex_scores = per_chain[0]
    else:
        ref_ca = np.concatenate([p.reference.ca for p in matching.pairs])
        mob_ca = np.concatenate([p.mobile.ca for p in matching.pairs])
        chain_index = np.concatenate([np.full(len(p.reference), i) for i, p in enumerate(matching.pairs)])
        complex_scores = _pair_scores(
            [p.reference.name for p in matching.pairs],
            [p.mobile.name for p in matching.pairs],
            ref_ca,
            mob_ca,
            chain_index,
        )
    if matching.unmatched_reference or matching.unmatched_mobile:
        notes.append(
            "chains without a same-sequence partner were left out: "
            f"reference {list(matching.unmatched_reference)}, mobile {list(matching.unmatched_mobile)}"
        )
    return Comparison(
        "fixed_correspondence",
        matching,
        complex_scores,
        per_chain,
        complex_scores.scores.superposition,
        None,
        tuple(notes),
    )
