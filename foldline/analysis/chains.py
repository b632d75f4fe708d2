"""Residue correspondence and chain mapping between two models of one complex.

Two engines name chains as they please and may leave residues out, so neither chain
names nor exact sequences are trusted:

1. **Residues, per chain pair.** Identical sequences pair residue i with residue i.
   Sequences that differ (a residue missing, a mutation, a trimmed tail) are aligned
   globally (Bio.Align, BLOSUM62, gap open 11 / extend 1, free end gaps); where the
   sequences are too different for that (identity below :data:`MIN_SEQUENCE_IDENTITY`
   over the shorter chain) TM-align (tmtools) aligns the two chains by structure.
2. **Chains.** The chain mapping is searched as US-align's complex mode (MM-align)
   searches it, for any number of chains: every candidate chain pair in turn anchors a
   superposition of the whole complex; in that frame each candidate pair scores the
   TM-score terms of its aligned residues, and the best one-to-one assignment of chains
   (Hungarian algorithm, scipy) is taken. The few best distinct assignments are then
   scored with the full TM-score search (:mod:`foldline.analysis.tmscore`) over all
   their residue pairs, normalised by the whole reference, and the best one wins.

Nothing is dropped silently: reference chains without a partner, mobile chains without
one, and residues that one model lacks are all reported by the caller.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from foldline.analysis.structures import ChainTrace, StructureModel
from foldline.analysis.superpose import kabsch
from foldline.analysis.tmscore import score_fixed_correspondence, tm_d0

__all__ = [
    "MIN_SEQUENCE_IDENTITY",
    "ChainMatching",
    "ChainPair",
    "ResidueAlignment",
    "align_residues",
    "match_chains",
]

#: below this identity (identical pairs / shorter chain) chains are aligned by structure
MIN_SEQUENCE_IDENTITY = 0.3
#: distinct chain assignments scored with the full TM-score search
_FINALISTS = 3
#: anchors tried at most (the longest reference chains' candidate pairs first)
_MAX_ANCHORS = 400


@dataclass(frozen=True)
class ResidueAlignment:
    """Which residues of a reference chain pair with which of a mobile chain."""

    reference_index: np.ndarray  # (k,) indices into the reference chain
    mobile_index: np.ndarray  # (k,) indices into the mobile chain
    method: str  # "identical sequences", "sequence alignment" or "structure alignment (TM-align)"
    identity: float  # identical residues among the aligned pairs / shorter chain length

    def __len__(self) -> int:
        return len(self.reference_index)


@dataclass(frozen=True)
class ChainPair:
    reference: ChainTrace
    mobile: ChainTrace
    alignment: ResidueAlignment

    @property
    def reference_ca(self) -> np.ndarray:
        return self.reference.ca[self.alignment.reference_index]

    @property
    def mobile_ca(self) -> np.ndarray:
        return self.mobile.ca[self.alignment.mobile_index]


@dataclass(frozen=True)
class ChainMatching:
    pairs: tuple[ChainPair, ...]  # in the reference model's chain order
    unmatched_reference: tuple[str, ...]
    unmatched_mobile: tuple[str, ...]
    method: str  # how chains were mapped
    reference_length: int  # residues of the whole reference (the TM-score's L)


@functools.lru_cache(maxsize=1)
def _aligner():
    from Bio.Align import PairwiseAligner, substitution_matrices

    aligner = PairwiseAligner(
        mode="global",
        substitution_matrix=substitution_matrices.load("BLOSUM62"),
        open_gap_score=-11,
        extend_gap_score=-1,
    )
    aligner.end_gap_score = 0  # a missing tail costs nothing
    return aligner


def _sequence_alignment(reference: str, mobile: str) -> tuple[np.ndarray, np.ndarray]:
    alignment = _aligner().align(reference, mobile)[0]
    ref_idx, mob_idx = [], []
    for (r0, r1), (m0, m1) in zip(*alignment.aligned):
        ref_idx.extend(range(r0, r1))
        mob_idx.extend(range(m0, m1))
    return np.asarray(ref_idx, dtype=np.int64), np.asarray(mob_idx, dtype=np.int64)


def _structure_alignment(
    reference: ChainTrace, mobile: ChainTrace
) -> tuple[np.ndarray, np.ndarray]:
    import tmtools

    result = tmtools.tm_align(
        np.ascontiguousarray(mobile.ca),
        np.ascontiguousarray(reference.ca),
        mobile.sequence,
        reference.sequence,
    )
    ref_idx, mob_idx, i, j = [], [], 0, 0
    for a, b in zip(result.seqxA, result.seqyA):  # x: mobile, y: reference
        if a != "-" and b != "-":
            mob_idx.append(i)
            ref_idx.append(j)
        i += a != "-"
        j += b != "-"
    return np.asarray(ref_idx, dtype=np.int64), np.asarray(mob_idx, dtype=np.int64)


def _identity(
    reference: ChainTrace, mobile: ChainTrace, ref_idx: np.ndarray, mob_idx: np.ndarray
) -> float:
    same = sum(reference.sequence[i] == mobile.sequence[j] for i, j in zip(ref_idx, mob_idx))
    return same / max(1, min(len(reference), len(mobile)))


def align_residues(
    reference: ChainTrace, mobile: ChainTrace, *, by_structure: bool = False
) -> ResidueAlignment:
    """The residue correspondence of two chains (see the module docstring).

    ``by_structure`` forces TM-align where the sequences are too different to align.
    """
    if reference.sequence == mobile.sequence:
        index = np.arange(len(reference), dtype=np.int64)
        return ResidueAlignment(index, index.copy(), "identical sequences", 1.0)
    ref_idx, mob_idx = _sequence_alignment(reference.sequence, mobile.sequence)
    identity = _identity(reference, mobile, ref_idx, mob_idx)
    if identity >= MIN_SEQUENCE_IDENTITY or not by_structure:
        return ResidueAlignment(ref_idx, mob_idx, "sequence alignment", identity)
    ref_idx, mob_idx = _structure_alignment(reference, mobile)
    return ResidueAlignment(
        ref_idx,
        mob_idx,
        "structure alignment (TM-align)",
        _identity(reference, mobile, ref_idx, mob_idx),
    )


def _candidates(
    reference: StructureModel, mobile: StructureModel
) -> dict[tuple[int, int], ResidueAlignment]:
    """Chain pairs that may pair: by sequence where it is similar enough; by structure
    for chains that have no such partner at all."""
    found: dict[tuple[int, int], ResidueAlignment] = {}
    for i, r in enumerate(reference.chains):
        for j, m in enumerate(mobile.chains):
            alignment = align_residues(r, m)
            if alignment.identity >= MIN_SEQUENCE_IDENTITY and len(alignment) >= 3:
                found[(i, j)] = alignment
    lonely_ref = [i for i in range(len(reference.chains)) if not any(k[0] == i for k in found)]
    lonely_mob = [j for j in range(len(mobile.chains)) if not any(k[1] == j for k in found)]
    for i in lonely_ref:
        for j in lonely_mob:
            r, m = reference.chains[i], mobile.chains[j]
            if min(len(r), len(m)) < 5:
                continue
            alignment = align_residues(r, m, by_structure=True)
            if len(alignment) >= 3:
                found[(i, j)] = alignment
    return found


def _assignments(
    reference: StructureModel,
    mobile: StructureModel,
    candidates: dict[tuple[int, int], ResidueAlignment],
    d0: float,
) -> list[tuple[float, tuple]]:
    """Distinct one-to-one chain assignments, each with its best anchored TM-sum."""
    from scipy.optimize import linear_sum_assignment

    n_ref, n_mob = len(reference.chains), len(mobile.chains)
    keys = list(candidates)
    ref_ca = {k: reference.chains[k[0]].ca[candidates[k].reference_index] for k in keys}
    mob_ca = {k: mobile.chains[k[1]].ca[candidates[k].mobile_index] for k in keys}
    anchors = sorted(keys, key=lambda k: -len(candidates[k]))[:_MAX_ANCHORS]
    best: dict[tuple, float] = {}
    for anchor in anchors:
        sup = kabsch(mob_ca[anchor], ref_ca[anchor])
        score = np.zeros((n_ref, n_mob))
        for k in keys:
            d2 = ((sup.apply(mob_ca[k]) - ref_ca[k]) ** 2).sum(1)
            score[k] = (1.0 / (1.0 + d2 / d0**2)).sum()
        rows, cols = linear_sum_assignment(-score)
        mapping = tuple(
            sorted((int(i), int(j)) for i, j in zip(rows, cols) if (i, j) in candidates)
        )
        total = float(sum(score[p] for p in mapping))
        if total > best.get(mapping, -1.0):
            best[mapping] = total
    return sorted(((total, mapping) for mapping, total in best.items()), reverse=True)


def match_chains(reference: StructureModel, mobile: StructureModel) -> ChainMatching:
    """Pair the chains of ``mobile`` with those of ``reference`` (see the module docstring).

    Returns
    -------
    ChainMatching
        Pairs in the reference's chain order with their residue correspondences, the
        names of chains left unpaired, and the whole reference's residue count.
    """
    length = reference.n_residues
    candidates = _candidates(reference, mobile)
    if not candidates:
        return ChainMatching(
            (), tuple(reference.chain_names), tuple(mobile.chain_names), "none", length
        )
    if len(reference.chains) == 1 and len(mobile.chains) == 1:
        mapping, method = tuple(candidates), "one chain each"
    else:
        finalists = _assignments(reference, mobile, candidates, tm_d0(length))[:_FINALISTS]
        scored = []
        for _, mapping in finalists:
            ref_ca = np.concatenate(
                [reference.chains[i].ca[candidates[(i, j)].reference_index] for i, j in mapping]
            )
            mob_ca = np.concatenate(
                [mobile.chains[j].ca[candidates[(i, j)].mobile_index] for i, j in mapping]
            )
            tm = score_fixed_correspondence(mob_ca, ref_ca, normalising_length=length).tm_score
            scored.append((tm, mapping))
        mapping = max(scored)[1]
        method = (
            "chain mapping searched over superpositions anchored on each candidate chain pair "
            f"(Hungarian assignment; {len(finalists)} assignment(s) scored by complex TM-score)"
        )
    pairs = tuple(
        ChainPair(reference.chains[i], mobile.chains[j], candidates[(i, j)]) for i, j in mapping
    )
    paired_ref = {i for i, _ in mapping}
    paired_mob = {j for _, j in mapping}
    return ChainMatching(
        pairs=pairs,
        unmatched_reference=tuple(
            c.name for i, c in enumerate(reference.chains) if i not in paired_ref
        ),
        unmatched_mobile=tuple(c.name for j, c in enumerate(mobile.chains) if j not in paired_mob),
        method=method,
        reference_length=length,
    )
