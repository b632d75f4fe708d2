"""pTM per chain and ipTM per chain pair, from a multimer prediction's aligned-error bins.

AlphaFold's pTM (``alphafold.common.confidence.predicted_tm_score``) is, over the
residues scored, ``max_i mean_j E[1 / (1 + (e_ij / d0)^2)]``: the expectation over the
predicted aligned-error bins of residue j in the frame of residue i, with
``d0 = 1.24 (max(N, 19) - 15)^(1/3) - 1.8`` for N residues; ipTM averages over j in
other chains only. Here the same formula is applied to one chain's residues (the chain's
pTM, N its length, as ColabFold's per-chain pTM) and to a chain pair's residues, pairs
across the two chains only (the pair's ipTM, N both chains' length: AlphaFold's function
on that two-chain sub-complex, the "ipTM_d0chn" of Dunbrack's ipSAE paper). For a
two-chain complex the pair's ipTM is the engine's ipTM. AlphaFold 3's ``chain_pair_iptm``
and ColabFold's ``pairwise_iptm`` keep the whole complex's N in d0, so for three or more
chains they give somewhat higher values for small pairs than this does.

The bins are AlphaFold's PAE head's: ``num_bins`` bins, the first ``num_bins - 1``
of equal width from 0, centres half a bin in, the last one bin beyond
(``_calculate_bin_centers``); the result pickle's ``max_predicted_aligned_error`` is the
last centre, which gives the width. The centres are checked against the pickle's
``predicted_aligned_error`` (which is the bins' expectation) before anything is reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ChainPairConfidence", "bin_centres", "chain_pair_confidence", "predicted_tm_term"]


def bin_centres(num_bins: int, max_error: float) -> np.ndarray:
    """AlphaFold's aligned-error bin centres, from the bin count and the last centre."""
    width = max_error / (num_bins - 0.5)
    return (np.arange(num_bins) + 0.5) * width


def _d0(n: int) -> float:
    return 1.24 * (max(n, 19) - 15) ** (1.0 / 3.0) - 1.8


def predicted_tm_term(probs: np.ndarray, centres: np.ndarray, n: int) -> np.ndarray:
    """E[1 / (1 + (e / d0(n))^2)] per residue pair of ``probs`` (..., bins)."""
    weights = 1.0 / (1.0 + np.square(centres / _d0(n)))
    return probs @ weights.astype(probs.dtype)  # no float64 copy of a large float32 block


@dataclass(frozen=True)
class ChainPairConfidence:
    chains: list[str]
    lengths: list[int]
    ptm: dict[str, float]  # chain name -> pTM of that chain alone
    iptm: dict[str, float]  # "A-B" -> ipTM of that pair

    def as_dict(self, source: str) -> dict[str, Any]:
        return {
            "source": source,
            "method": (
                "AlphaFold's predicted_tm_score formula on each chain's residues (pTM, d0 from "
                "the chain's length) and on each chain pair's residues over the pairs across the "
                "two chains (ipTM, d0 from both chains' length)"
            ),
            "chains": [{"name": c, "length": n} for c, n in zip(self.chains, self.lengths)],
            "ptm": self.ptm,
            "iptm": self.iptm,
        }


def chain_pair_confidence(
    probs: np.ndarray, centres: np.ndarray, asym_id: np.ndarray, names: list[str]
) -> ChainPairConfidence:
    """pTM per chain and ipTM per chain pair.

    ``probs``: (N, N, bins) aligned-error probabilities (AlphaFold's
    ``aligned_confidence_probs``); ``asym_id``: (N,) chain of each residue, chains in
    ``names``' order (AlphaFold numbers them 1, 2, … as it writes chains A, B, …).
    """
    probs = np.asarray(probs)
    asym_id = np.asarray(asym_id)
    order = list(dict.fromkeys(asym_id.tolist()))  # chains as they first appear
    if len(order) != len(names):
        raise ValueError(f"{len(order)} chains in asym_id, {len(names)} names")
    members = [np.flatnonzero(asym_id == a) for a in order]
    ptm, iptm = {}, {}
    for i, rows in enumerate(members):
        own = predicted_tm_term(probs[np.ix_(rows, rows)], centres, len(rows))
        ptm[names[i]] = round(float(own.mean(axis=1).max()), 4)
        for j in range(i + 1, len(members)):
            cols = members[j]
            n = len(rows) + len(cols)
            forward = predicted_tm_term(probs[np.ix_(rows, cols)], centres, n).mean(axis=1)
            backward = predicted_tm_term(probs[np.ix_(cols, rows)], centres, n).mean(axis=1)
            iptm[f"{names[i]}-{names[j]}"] = round(float(max(forward.max(), backward.max())), 4)
    return ChainPairConfidence(names, [len(m) for m in members], ptm, iptm)
