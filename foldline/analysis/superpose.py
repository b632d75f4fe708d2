"""Least-squares superposition (Kabsch), vectorised over many point subsets at once.

Convention: row vectors. A superposition is ``(R, t)`` and moves ``mobile`` onto
``fixed`` as ``mobile @ R + t``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Superposition", "kabsch", "kabsch_from_sums", "rmsd_after_superposition"]


@dataclass(frozen=True)
class Superposition:
    """A rigid-body transform ``x @ rotation + translation``."""

    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)

    def apply(self, coords: np.ndarray) -> np.ndarray:
        return coords @ self.rotation + self.translation

    @classmethod
    def identity(cls) -> Superposition:
        return cls(np.eye(3), np.zeros(3))


def kabsch_from_sums(
    count: np.ndarray, sum_x: np.ndarray, sum_y: np.ndarray, sum_xy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Optimal rotations and translations from per-subset sums (batched Kabsch).

    Parameters
    ----------
    count : ndarray, shape (b,)
        Number of point pairs in each subset.
    sum_x, sum_y : ndarray, shape (b, 3)
        Sums of mobile (x) and fixed (y) coordinates over each subset.
    sum_xy : ndarray, shape (b, 3, 3)
        Sums of the outer products ``x_i y_i^T`` over each subset.

    Returns
    -------
    rotation : ndarray, shape (b, 3, 3)
    translation : ndarray, shape (b, 3)
        ``x @ rotation[k] + translation[k]`` is subset k's least-squares fit onto y.
    """
    count = count.astype(np.float64)
    cx = sum_x / count[:, None]
    cy = sum_y / count[:, None]
    # covariance of the centred sets: sum (x - cx)^T (y - cy)
    h = sum_xy - count[:, None, None] * cx[:, :, None] * cy[:, None, :]
    u, _, vt = np.linalg.svd(h)
    # a reflection is not a rigid motion: flip the weakest axis where det < 0
    sign = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    sign[sign == 0] = 1.0
    u[:, :, 2] *= sign[:, None]
    rotation = u @ vt
    translation = cy - np.einsum("bi,bij->bj", cx, rotation)
    return rotation, translation


def kabsch(mobile: np.ndarray, fixed: np.ndarray) -> Superposition:
    """Least-squares rigid superposition of ``mobile`` onto ``fixed`` (both (n, 3))."""
    mobile = np.asarray(mobile, dtype=np.float64)
    fixed = np.asarray(fixed, dtype=np.float64)
    if mobile.shape != fixed.shape or mobile.ndim != 2 or mobile.shape[1] != 3:
        raise ValueError(
            f"expected two arrays of shape (n, 3), got {mobile.shape} and {fixed.shape}"
        )
    rotation, translation = kabsch_from_sums(
        np.array([len(mobile)]),
        mobile.sum(0)[None],
        fixed.sum(0)[None],
        (mobile.T @ fixed)[None],
    )
    return Superposition(rotation[0], translation[0])


def rmsd_after_superposition(mobile: np.ndarray, fixed: np.ndarray) -> tuple[float, Superposition]:
    """CA RMSD (Å) after the least-squares superposition of all pairs, and that superposition."""
    sup = kabsch(mobile, fixed)
    diff = sup.apply(np.asarray(mobile, dtype=np.float64)) - fixed
    return float(np.sqrt((diff * diff).sum(1).mean())), sup
