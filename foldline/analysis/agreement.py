"""Compare two models: per matched chain and for the whole complex.

Chains are mapped and residues paired by :mod:`foldline.analysis.chains` (identical
sequences residue i to residue i; differing ones by sequence alignment, or by TM-align
where they are too different; the chain mapping searched as US-align's complex mode
does). Every metric is then computed on that correspondence, whatever produced it:
TM-score, RMSD and GDT (:mod:`foldline.analysis.tmscore`) and CA-lDDT (biotite).

Normalisation is by the **reference** always: a chain's scores by the reference chain's
length, the complex's by all the reference's residues, its unmatched chains included.
Residues (and chains) the other model lacks therefore lower the TM-score, GDT and
CA-lDDT instead of vanishing from them.

GDT is the ``TMscore`` program's (:data:`GDT_METHOD`): for each cut-off the largest
share of residues within it over the superpositions the TM-score search visits. LGA
searches superpositions for each cut-off separately and can find more.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from foldline.analysis.chains import ChainMatching, ChainPair, match_chains
from foldline.analysis.structures import StructureModel
from foldline.analysis.superpose import Superposition
from foldline.analysis.tmscore import FixedScores, score_fixed_correspondence

__all__ = [
    "GDT_METHOD",
    "Comparison",
    "PairScores",
    "TMAlignScores",
    "ca_lddt",
    "compare_models",
    "tm_align",
]

LDDT_INCLUSION_RADIUS = 15.0  # Å; the CA-only lDDT radius (Mariani et al. 2013)
#: what GDT here is, for metrics.json and the report
GDT_METHOD = (
    "the TMscore program's GDT: for each cut-off the largest share of reference residues "
    "within it over the superpositions of the TM-score search (LGA searches each cut-off "
    "separately and can find more)"
)


def ca_lddt(
    reference_ca: np.ndarray, model_ca: np.ndarray, chain_index: np.ndarray | None = None
) -> float:
    """Global CA-lDDT of ``model_ca`` against ``reference_ca`` (same order), with biotite.

    Superposition-free: it compares each residue's CA distances to the CAs within 15 Å
    in the reference, at tolerances 0.5, 1, 2 and 4 Å. A model residue given as NaN (no
    partner of that reference residue) preserves none of its distances.
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
    ca_lddt: float
    correspondence: str  # how residues were paired
    sequence_identity: float | None  # per chain pair; None for the complex
    reference_residues: int  # residues of the reference chain(s): L

    def as_dict(self) -> dict:
        s = self.scores
        identity = self.sequence_identity
        return {
            "reference_chains": list(self.reference_chains),
            "mobile_chains": list(self.mobile_chains),
            "correspondence": self.correspondence,
            "sequence_identity": None if identity is None else round(identity, 4),
            "n_aligned": s.n_aligned,
            "reference_residues_unaligned": self.reference_residues - s.n_aligned,
            "tm_score": round(s.tm_score, 4),
            "normalising_length": s.normalising_length,
            "d0": round(s.d0, 3),
            "rmsd": round(s.rmsd, 3),
            "gdt_ts": round(s.gdt_ts, 4),
            "gdt_ha": round(s.gdt_ha, 4),
            "gdt_shares": {k: round(v, 4) for k, v in s.gdt_shares.items()},
            "ca_lddt": round(self.ca_lddt, 4),
        }


@dataclass(frozen=True)
class Comparison:
    """The result of comparing ``mobile`` against ``reference``."""

    matching: ChainMatching
    complex: PairScores | None  # None only where no chain pair could be aligned
    per_chain: tuple[PairScores, ...]
    superposition: Superposition  # moves the mobile model onto the reference
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TMAlignScores:
    tm_score: float  # normalised by the first structure's ("model") length
    tm_score_other: float  # normalised by the second structure's length
    normalising_length: int
    rmsd: float
    n_aligned: int
    superposition: Superposition  # moves the FIRST structure onto the second


def tm_align(
    model_ca: np.ndarray, model_seq: str, other_ca: np.ndarray, other_seq: str
) -> TMAlignScores:
    """TM-align (tmtools) of two single chains; ``tm_score`` is normalised by the model's
    (first argument's) length, ``tm_score_other`` by the other's."""
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


def _full_coords(
    reference_chains, pairs: tuple[ChainPair, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference CAs of the given chains, the mobile CAs paired with them (NaN where the
    mobile model has no partner residue), and each residue's chain index."""
    ref, mob, index = [], [], []
    by_name = {p.reference.name: p for p in pairs}
    for k, chain in enumerate(reference_chains):
        coords = np.full((len(chain), 3), np.nan)
        pair = by_name.get(chain.name)
        if pair is not None:
            coords[pair.alignment.reference_index] = pair.mobile.ca[pair.alignment.mobile_index]
        ref.append(chain.ca)
        mob.append(coords)
        index.append(np.full(len(chain), k))
    return np.concatenate(ref), np.concatenate(mob), np.concatenate(index)


def _pair_note(pair: ChainPair) -> str | None:
    a = pair.alignment
    if a.method == "identical sequences":
        return None
    missing = len(pair.reference) - len(a)
    return (
        f"chain {pair.reference.name} ↔ {pair.mobile.name}: sequences differ ({len(pair.reference)} "
        f"and {len(pair.mobile)} residues, {a.identity:.0%} identical); residues paired by "
        f"{a.method}: {len(a)} pairs"
        + (
            f", {missing} reference residue(s) without a partner (they score zero)"
            if missing
            else ""
        )
    )


def compare_models(reference: StructureModel, mobile: StructureModel) -> Comparison:
    """Compare ``mobile`` against ``reference`` (e.g. OpenFold's model against AlphaFold's).

    Each matched chain pair and the complex get TM-score, RMSD, GDT-TS/HA and CA-lDDT on
    the residue correspondence of :func:`~foldline.analysis.chains.match_chains`, all
    normalised by the reference (see the module docstring). ``notes`` names every chain
    and residue left without a partner.
    """
    matching = match_chains(reference, mobile)
    notes: list[str] = []
    if matching.unmatched_reference:
        notes.append(
            f"reference chain(s) {', '.join(matching.unmatched_reference)} have no partner in "
            "the other model: their residues count in L and score zero"
        )
    if matching.unmatched_mobile:
        notes.append(
            f"chain(s) {', '.join(matching.unmatched_mobile)} of the superposed model have no "
            "partner in the reference: left out of every score"
        )
    if not matching.pairs:
        notes.append(
            "no chain of one model could be aligned with any chain of the other: nothing scored"
        )
        return Comparison(matching, None, (), Superposition.identity(), tuple(notes))

    per_chain = []
    for pair in matching.pairs:
        note = _pair_note(pair)
        if note:
            notes.append(note)
        scores = score_fixed_correspondence(
            pair.mobile_ca, pair.reference_ca, normalising_length=len(pair.reference)
        )
        ref_ca, mob_ca, _ = _full_coords([pair.reference], (pair,))
        per_chain.append(
            PairScores(
                (pair.reference.name,),
                (pair.mobile.name,),
                scores,
                ca_lddt(ref_ca, mob_ca),
                pair.alignment.method,
                pair.alignment.identity,
                len(pair.reference),
            )
        )

    if len(reference.chains) == 1:
        complex_scores = per_chain[0]
    else:
        ref_ca = np.concatenate([p.reference_ca for p in matching.pairs])
        mob_ca = np.concatenate([p.mobile_ca for p in matching.pairs])
        scores = score_fixed_correspondence(
            mob_ca, ref_ca, normalising_length=matching.reference_length
        )
        full_ref, full_mob, chain_index = _full_coords(reference.chains, matching.pairs)
        complex_scores = PairScores(
            tuple(p.reference.name for p in matching.pairs),
            tuple(p.mobile.name for p in matching.pairs),
            scores,
            ca_lddt(full_ref, full_mob, chain_index),
            ", ".join(sorted({p.alignment.method for p in matching.pairs})),
            None,
            matching.reference_length,
        )
    return Comparison(
        matching,
        complex_scores,
        tuple(per_chain),
        complex_scores.scores.superposition,
        tuple(notes),
    )
