"""PNG plots with matplotlib's Agg canvas (no display, no pyplot state).

``matplotlib.figure.Figure`` with ``FigureCanvasAgg`` skips pyplot's import and global
figure registry: cheaper in a Lambda, and safe when several analyses share a process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["plot_plddt", "plot_pae", "ENGINE_COLOURS"]

ENGINE_COLOURS = {"alphafold": "#1f4e9c", "openfold": "#d1495b"}
_BAND_COLOURS = ((90, 100, "#0053d6"), (70, 90, "#65cbf3"), (50, 70, "#ffdb13"), (0, 50, "#ff7d45"))
_DPI = 100


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
    fig = Figure(figsize=(9, 3.2), layout="constrained")
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
    ax.legend(loc="lower right", fontsize=8, frameon=False, ncols=2)
    return _save(fig, path)


def plot_pae(pae: np.ndarray, title: str, path: Path, chain_breaks: list[tuple[int, str]]) -> Path:
    """Predicted aligned error heatmap (Å), scored residue on x, aligned residue on y."""
    fig = Figure(figsize=(4.2, 3.6), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(pae, cmap="Greens_r", vmin=0, vmax=max(30.0, float(np.max(pae))),
                      interpolation="nearest")  # fmt: skip
    for index, _ in chain_breaks[1:]:
        ax.axvline(index - 0.5, color="k", lw=0.6)
        ax.axhline(index - 0.5, color="k", lw=0.6)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("scored residue")
    ax.set_ylabel("aligned residue")
    fig.colorbar(image, ax=ax, label="expected position error (Å)", shrink=0.85)
    return _save(fig, path)
