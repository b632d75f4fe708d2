"""TM-score, GDT and RMSD for two models with a known residue correspondence.

Both engines fold the same sequence, so residue i of one model corresponds to residue i
of the other: no alignment search is needed (or wanted). The score is the one CASP's
``TMscore`` program (Zhang & Skolnick, Proteins 2004 57:702) reports:

    TM = max over superpositions of  1/L * sum_i 1 / (1 + (d_i / d0)^2)
    d0 = 1.24 * (L - 15)^(1/3) - 1.8   (at least 0.5)

where L is the normalising length (the reference model's residue count) and d_i the CA
distance of pair i after superposition. The maximum is searched as ``TMscore`` does:
Kabsch superpositions on every contiguous seed fragment of lengths L, L/2, L/4, L/8,
L/16 and 4, each followed by up to 20 rounds of "superpose on the pairs closer than
d0_search + 1 Å, re-select" (the first selection uses d0_search - 1 Å, and the cut-off
grows by 0.5 Å while fewer than 3 pairs are selected; d0_search = d0 clipped to
[4.5, 8]). GDT-TS and GDT-HA are, as in ``TMscore``, the largest share of pairs within
1/2/4/8 Å (0.5/1/2/4 Å) over all superpositions that search visits.

Speed: the superpositions are scored in batches by one float32 matrix product (on
centred coordinates: distance errors ~1e-3 Å^2, far below anything that changes a
selection that matters), and a selection reached twice is extended once — its
continuation would be the same — so the search is the program's at a fraction of its
work. The reported TM-score is recomputed in float64 for the winning superposition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from foldline.analysis.superpose import Superposition, kabsch_from_sums, rmsd_after_superposition

__all__ = ["FixedScores", "score_fixed_correspondence", "tm_d0"]

N_ITERATIONS = 20  # TMscore's n_it
GDT_TS_CUTOFFS = (1.0, 2.0, 4.0, 8.0)
GDT_HA_CUTOFFS = (0.5, 1.0, 2.0, 4.0)
_ALL_CUTOFFS = (0.5, 1.0, 2.0, 4.0, 8.0)
_BATCH = 1024  # transforms scored per numpy batch (memory ~ n * 1024 * 8 B per array)


def tm_d0(length: int) -> float:
    """TM-score's distance scale d0 (Å) for a normalising length L."""
    if length <= 15:
        return 0.5
    return max(0.5, 1.24 * (length - 15) ** (1.0 / 3.0) - 1.8)


@dataclass(frozen=True)
class FixedScores:
    """Scores of ``mobile`` against ``reference`` with residue i matched to residue i."""

    tm_score: float
    normalising_length: int
    d0: float
    n_aligned: int
    rmsd: float  # after least-squares superposition of all aligned CA pairs
    gdt_ts: float
    gdt_ha: float
    gdt_shares: dict[str, float]  # cutoff (Å, as text) -> share of L within it
    superposition: Superposition  # the TM-score-maximising one: mobile @ R + t


def _schedule(n: int) -> list[int]:
    """Seed fragment lengths, exactly as TMscore builds them."""
    minimum = min(4, n)
    lengths: list[int] = []
    for i in range(5):
        length = n // 2**i
        if length <= minimum:
            lengths.append(minimum)
            return lengths
        lengths.append(length)
    lengths.append(minimum)
    return lengths


class _Search:
    """The TMscore superposition search over one pair of coordinate sets."""

    def __init__(self, mobile: np.ndarray, reference: np.ndarray, length: int):
        # centred copies keep the float32 distance algebra below accurate (~1e-3 Å^2)
        self.x_centre = mobile.mean(0)
        self.y_centre = reference.mean(0)
        self.x = mobile - self.x_centre
        self.y = reference - self.y_centre
        self.n = len(mobile)
        self.length = length
        self.d0 = tm_d0(length)
        self.d0_search = min(8.0, max(4.5, self.d0))
        self.xy = (self.x[:, :, None] * self.y[:, None, :]).reshape(self.n, 9)
        # |x R + t - y|^2 = |x|^2 + |y|^2 + |t|^2 + 2 x.(R t) - 2 y.t - 2 <x y^T, R>:
        # one float32 matrix product scores a whole batch of transforms, (b, n)
        self.features = np.hstack([self.x, self.y, self.xy]).T.astype(np.float32)  # (15, n)
        self.norms = ((self.x**2).sum(1) + (self.y**2).sum(1)).astype(np.float32)
        self.best_score = -1.0
        self.best_transform: tuple[np.ndarray, np.ndarray] | None = None
        self.best_counts = np.full(len(_ALL_CUTOFFS), -1)

    def _score(self, rotation: np.ndarray, translation: np.ndarray, cutoff: float) -> np.ndarray:
        """Score a batch of transforms; return each one's next selection mask, (b, n)."""
        weights = np.hstack(
            [
                2.0 * np.einsum("bjk,bk->bj", rotation, translation),
                -2.0 * translation,
                -2.0 * rotation.reshape(-1, 9),
            ]
        ).astype(np.float32)  # (b, 15)
        d2 = weights @ self.features
        d2 += self.norms[None, :]
        d2 += (translation**2).sum(1).astype(np.float32)[:, None]
        np.maximum(d2, 0.0, out=d2)  # rounding can dip an exact match below zero
        terms = d2 * np.float32(1.0 / self.d0**2)
        terms += 1.0
        np.reciprocal(terms, out=terms)
        scores = terms.sum(1, dtype=np.float64) / self.length
        k = int(scores.argmax())
        if scores[k] > self.best_score:
            self.best_score = float(scores[k])
            self.best_transform = (rotation[k].copy(), translation[k].copy())
        counts = [int(np.count_nonzero(d2 <= c * c, axis=1).max()) for c in _ALL_CUTOFFS]
        self.best_counts = np.maximum(self.best_counts, counts)
        # pairs closer than the cut-off; widen by 0.5 Å until at least 3 are selected
        mask = d2 < cutoff * cutoff
        if self.n > 3:
            short = np.flatnonzero(np.count_nonzero(mask, axis=1) < 3)
            if len(short):
                third = np.sqrt(np.partition(d2[short], 2, axis=1)[:, 2])
                cut = cutoff + 0.5 * (np.floor((third - cutoff) / 0.5) + 1)
                mask[short] = d2[short] < (cut * cut)[:, None]
        return mask

    def _score_batches(self, rotation, translation, cutoff) -> np.ndarray:
        masks = [
            self._score(rotation[i : i + _BATCH], translation[i : i + _BATCH], cutoff)
            for i in range(0, len(rotation), _BATCH)
        ]
        return np.concatenate(masks) if masks else np.zeros((0, self.n), bool)

    def run(self) -> None:
        n = self.n
        # seeds: contiguous fragments; their sums come from prefix sums in O(1) each
        starts, lengths = [], []
        for length in _schedule(n):
            s = np.arange(n - length + 1)
            starts.append(s)
            lengths.append(np.full(len(s), length))
        start = np.concatenate(starts)
        size = np.concatenate(lengths)
        zero = np.zeros((1, 3))
        px = np.concatenate([zero, np.cumsum(self.x, 0)])
        py = np.concatenate([zero, np.cumsum(self.y, 0)])
        pxy = np.concatenate([np.zeros((1, 9)), np.cumsum(self.xy, 0)])
        end = start + size
        rotation, translation = kabsch_from_sums(
            size,
            px[end] - px[start],
            py[end] - py[start],
            (pxy[end] - pxy[start]).reshape(-1, 3, 3),
        )
        masks = self._score_batches(rotation, translation, self.d0_search - 1.0)

        # extension: superpose on the selection, re-select with d0_search + 1 Å
        seen: set[bytes] = set()
        frontier = self._new(masks, seen)
        for _ in range(N_ITERATIONS):
            if not len(frontier):
                break
            w = frontier.astype(np.float64)
            rotation, translation = kabsch_from_sums(
                w.sum(1), w @ self.x, w @ self.y, (w @ self.xy).reshape(-1, 3, 3)
            )
            masks = self._score_batches(rotation, translation, self.d0_search + 1.0)
            frontier = self._new(masks, seen)

    @staticmethod
    def _new(masks: np.ndarray, seen: set[bytes]) -> np.ndarray:
        """Selections not extended before (a repeated selection would repeat its path)."""
        keep = []
        for i, key in enumerate(np.packbits(masks, axis=1)):
            b = key.tobytes()
            if b not in seen:
                seen.add(b)
                keep.append(i)
        return masks[keep]


def score_fixed_correspondence(
    mobile: np.ndarray, reference: np.ndarray, *, normalising_length: int | None = None
) -> FixedScores:
    """TM-score, GDT and RMSD of ``mobile`` against ``reference``, pair i with pair i.

    Parameters
    ----------
    mobile, reference : ndarray, shape (n, 3)
        CA coordinates in Å, already in corresponding order.
    normalising_length : int, optional
        L for TM-score and GDT; defaults to n. Pass the reference's full length when
        some of its residues have no partner.

    Examples
    --------
    >>> import numpy as np
    >>> ca = np.cumsum(np.random.default_rng(0).normal(size=(50, 3)), 0) * 2
    >>> round(score_fixed_correspondence(ca, ca).tm_score, 6)
    1.0
    """
    x = np.asarray(mobile, dtype=np.float64)
    y = np.asarray(reference, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 2 or x.shape[1] != 3:
        raise ValueError(
            f"expected two (n, 3) arrays in corresponding order, got {x.shape}, {y.shape}"
        )
    n = len(x)
    if n < 3:
        raise ValueError(f"need at least 3 residue pairs to superpose, got {n}")
    length = normalising_length or n
    search = _Search(x, y, length)
    search.run()
    rotation, translation_centred = search.best_transform
    # back to the input frame: (x - cx) R + t_c + cy = x R + (t_c - cx R + cy)
    translation = translation_centred - search.x_centre @ rotation + search.y_centre
    d = np.linalg.norm(x @ rotation + translation - y, axis=1)
    tm = float((1.0 / (1.0 + (d / search.d0) ** 2)).sum() / length)
    rmsd, _ = rmsd_after_superposition(x, y)
    shares = {f"{c:g}": float(k) / length for c, k in zip(_ALL_CUTOFFS, search.best_counts)}
    return FixedScores(
        tm_score=tm,
        normalising_length=length,
        d0=search.d0,
        n_aligned=n,
        rmsd=rmsd,
        gdt_ts=float(np.mean([shares[f"{c:g}"] for c in GDT_TS_CUTOFFS])),
        gdt_ha=float(np.mean([shares[f"{c:g}"] for c in GDT_HA_CUTOFFS])),
        gdt_shares=shares,
        superposition=Superposition(rotation, translation),
    )
