"""Pair the chains of two models by sequence, never by chain name.

Two engines name chains as they please (AlphaFold-Multimer writes A, B, ... in input
order; another tool may not), so chains are matched by identical sequence. Where a
sequence occurs more than once (a homo-oligomer), which copy pairs with which is a
choice: each copy of the longest repeated sequence in turn anchors a superposition, the
copies of every sequence are then assigned to minimise their CA deviation in that frame,
and the anchor giving the smallest total deviation wins.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from foldline.analysis.structures import ChainTrace, StructureModel
from foldline.analysis.superpose import Superposition, kabsch

__all__ = ["ChainPair", "ChainMatching", "match_chains"]

_BRUTE_FORCE_COPIES = 7  # up to 7! = 5,040 assignments per sequence; greedy beyond


@dataclass(frozen=True)
class ChainPair:
    reference: ChainTrace
    mobile: ChainTrace


@dataclass(frozen=True)
class ChainMatching:
    pairs: tuple[ChainPair, ...]  # in the reference model's chain order
    unmatched_reference: tuple[str, ...]
    unmatched_mobile: tuple[str, ...]
    method: str  # "unique sequences" or "sequence + superposition (homomer copies)"


def _msd(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a - b) ** 2).sum(1).mean())


def _assign(refs: list[ChainTrace], mobs: list[ChainTrace], moved: dict[str, np.ndarray]):
    """Best one-to-one assignment of equal-sequence copies; returns (cost, [(ref, mob)])."""
    cost = np.array([[_msd(moved[m.name], r.ca) for m in mobs] for r in refs])
    k = min(len(refs), len(mobs))
    if max(len(refs), len(mobs)) <= _BRUTE_FORCE_COPIES:
        best = None
        if len(refs) <= len(mobs):
            candidates = ((range(k), cols) for cols in itertools.permutations(range(len(mobs)), k))
        else:
            candidates = ((rows, range(k)) for rows in itertools.permutations(range(len(refs)), k))
        for rows, cols in candidates:
            total = cost[list(rows), list(cols)].sum()
            if best is None or total < best[0]:
                best = (total, list(zip(rows, cols)))
        total, pairs = best
    else:  # greedy: cheapest remaining pair first
        pairs, used_r, used_m, total = [], set(), set(), 0.0
        for flat in np.argsort(cost, axis=None):
            i, j = divmod(int(flat), len(mobs))
            if i in used_r or j in used_m:
                continue
            pairs.append((i, j))
            used_r.add(i)
            used_m.add(j)
            total += cost[i, j]
            if len(pairs) == k:
                break
    return total, [(refs[i], mobs[j]) for i, j in pairs]


def match_chains(reference: StructureModel, mobile: StructureModel) -> ChainMatching:
    """Pair each reference chain with the mobile chain of the same sequence.

    Parameters
    ----------
    reference, mobile : StructureModel
        Two models of the same target.

    Returns
    -------
    ChainMatching
        Pairs in the reference's chain order, and the names of chains left unpaired
        (a sequence one model has and the other lacks, or extra copies).
    """
    ref_groups: dict[str, list[ChainTrace]] = defaultdict(list)
    mob_groups: dict[str, list[ChainTrace]] = defaultdict(list)
    for c in reference.chains:
        ref_groups[c.sequence].append(c)
    for c in mobile.chains:
        mob_groups[c.sequence].append(c)
    shared = [s for s in ref_groups if s in mob_groups]

    homomer = any(len(ref_groups[s]) > 1 or len(mob_groups[s]) > 1 for s in shared)
    chosen: list[tuple[ChainTrace, ChainTrace]] = []
    if not homomer:
        chosen = [(ref_groups[s][0], mob_groups[s][0]) for s in shared]
        method = "unique sequences"
    else:
        anchor_seq = max(shared, key=len)
        anchor_ref = ref_groups[anchor_seq][0]
        best: tuple[float, list] | None = None
        for anchor_mob in mob_groups[anchor_seq]:
            sup: Superposition = kabsch(anchor_mob.ca, anchor_ref.ca)
            moved = {c.name: sup.apply(c.ca) for c in mobile.chains}
            total, pairs = 0.0, []
            for s in shared:
                cost, group_pairs = _assign(ref_groups[s], mob_groups[s], moved)
                total += cost
                pairs.extend(group_pairs)
            if best is None or total < best[0]:
                best = (total, pairs)
        chosen = best[1]
        method = "sequence + superposition (homomer copies)"

    order = {c.name: i for i, c in enumerate(reference.chains)}
    chosen.sort(key=lambda p: order[p[0].name])
    paired_ref = {r.name for r, _ in chosen}
    paired_mob = {m.name for _, m in chosen}
    return ChainMatching(
        pairs=tuple(ChainPair(r, m) for r, m in chosen),
        unmatched_reference=tuple(c.name for c in reference.chains if c.name not in paired_ref),
        unmatched_mobile=tuple(c.name for c in mobile.chains if c.name not in paired_mob),
        method=method,
    )
