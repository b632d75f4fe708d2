"""Per-engine confidence: pLDDT statistics and what the result pickles add (PAE, pTM, ipTM)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["PLDDT_BANDS", "pae_summary", "plddt_summary"]

#: AlphaFold DB's four bands, as (key, label); they partition the 0-100 scale
PLDDT_BANDS = (
    ("very_high", "> 90"),
    ("confident", "70-90"),
    ("low", "50-70"),
    ("very_low", "< 50"),
)


def _band_masks(values: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "very_high": values > 90.0,
        "confident": (values >= 70.0) & (values <= 90.0),
        "low": (values >= 50.0) & (values < 70.0),
        "very_low": values < 50.0,
    }


def plddt_summary(plddt: np.ndarray) -> dict[str, Any]:
    """Mean pLDDT and the share of residues in each band.

    Bands: very high > 90, confident 70-90 (both ends included), low 50 to < 70,
    very low < 50; shares are fractions of all residues and sum to 1.
    """
    values = np.asarray(plddt, dtype=np.float64)
    values = values[np.isfinite(values)]  # NaN: no pLDDT for that residue (or the file)
    if values.size == 0:
        return {"mean": None, "min": None, "max": None, "bands": {k: None for k, _ in PLDDT_BANDS}}
    bands = {key: round(float(mask.mean()), 4) for key, mask in _band_masks(values).items()}
    return {
        "mean": round(float(values.mean()), 2),
        "min": round(float(values.min()), 2),
        "max": round(float(values.max()), 2),
        "bands": bands,
    }


def pae_summary(pae: np.ndarray) -> dict[str, Any]:
    values = np.asarray(pae, dtype=np.float64)
    return {
        "shape": list(values.shape),
        "mean": round(float(values.mean()), 3),
        "max": round(float(values.max()), 3),
    }
