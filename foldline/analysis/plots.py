"""PNG plots with matplotlib's Agg canvas (no display, no pyplot state).

``matplotlib.figure.Figure`` with ``FigureCanvasAgg`` skips pyplot's import and global
figure registry: cheaper in a Lambda, and safe when several analyses share a process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["ENGINE_COLOURS", "plot_pae", "plot_plddt"]

ENGINE_COLOURS = {"alphafold": "#1f4e9c", "openfold": "#d1495b"}
_BAND_COLOURS = ((90, 100, "#0053d6"), (70, 90, "#65cbf3"), (50, 70, "#ffdb13"), (0, 50, "#ff7d45"))
_DPI = 100
_PAE_CELLS = 300  # heatmap cells per axis at most (the image is ~300 px wide)


def _save(fig: Figure, path: Path) -> Path:
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=_DPI)
    return path


def plot_plddt(
    series: dict[str, np.ndarray],
    labels: dict[str, str],
    chain_breaks: list[tuple[int, str]],
    path: Path,
) -> Path:
    """pLDDT per residue for both engines on one axis, with the four bands shaded.

    Parameters
    ----------
    series : dict
        slot ("alphafold"/"openfold") -> pLDDT per residue, in the same residue order.
    labels : dict
        slot -> legend text (names the engine that really ran).
    chain_breaks : list of (index, chain name)
        First residue index of each chain, for multimers.
    """
    fig = Figure(figsize=(9, 3.4))
    fig.subplots_adjust(left=0.07, right=0.99, top=0.86, bottom=0.14)  # fixed: no layout engine
    ax = fig.add_subplot()
    for low, high, colour in _BAND_COLOURS:
        ax.axhspan(low, high, color=colour, alpha=0.12, lw=0)
    for slot, values in series.items():
        x = np.arange(1, len(values) + 1)
        ax.plot(x, values, lw=1.2, color=ENGINE_COLOURS.get(slot), label=labels.get(slot, slot))
    for index, name in chain_breaks[1:]:
        ax.axvline(index + 0.5, color="0.4", lw=0.8, ls="--")
    if len(chain_breaks) > 1:
        for index, name in chain_breaks:
            ax.text(index + 2, 2, f"chain {name}", fontsize=8, color="0.3")
    ax.set_xlim(0.5, max(len(v) for v in series.values()) + 0.5)
    ax.set_ylim(0, 100)
    ax.set_xlabel("residue (reference order)")
    ax.set_ylabel("pLDDT")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False, ncols=2)
    return _save(fig, path)


def _block_mean(matrix: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Average ``matrix`` down to at most ``size`` x ``size`` cells; returns it and the factor."""
    n = matrix.shape[0]
    factor = int(np.ceil(n / size))
    if factor <= 1:
        return matrix, 1.0
    m = -(-n // factor) * factor
    padded = np.full((m, m), np.nan)
    padded[:n, :n] = matrix
    return np.nanmean(padded.reshape(m // factor, factor, m // factor, factor), axis=(1, 3)), float(
        factor
    )


def plot_pae(pae: np.ndarray, title: str, path: Path, chain_breaks: list[tuple[int, str]]) -> Path:
    """Predicted aligned error heatmap (Å), scored residue on x, aligned residue on y.

    Matrices larger than the image's pixels are block-averaged to ~300 x 300 first:
    what the eye can see anyway, at a fraction of matplotlib's resampling cost.
    """
    n = pae.shape[0]
    shown, _ = _block_mean(np.asarray(pae, dtype=np.float64), _PAE_CELLS)
    fig = Figure(figsize=(4.8, 3.6))
    fig.subplots_adjust(left=0.15, right=0.78, top=0.92, bottom=0.14)
    ax = fig.add_subplot()
    image = ax.imshow(
        shown,
        cmap="Greens_r",
        vmin=0,
        vmax=max(30.0, float(np.max(pae))),
        interpolation="nearest",
        extent=(0.5, n + 0.5, n + 0.5, 0.5),
    )
    for index, _ in chain_breaks[1:]:
        ax.axvline(index + 0.5, color="k", lw=0.6)
        ax.axhline(index + 0.5, color="k", lw=0.6)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("scored residue")
    ax.set_ylabel("aligned residue")
    cax = fig.add_axes((0.81, 0.14, 0.03, 0.78))
    bar = fig.colorbar(image, cax=cax)
    bar.set_label("expected position error (Å)", fontsize=8)
    return _save(fig, path)
