"""PNG plots with matplotlib's Agg canvas (no display, no pyplot state).

``matplotlib.figure.Figure`` with ``FigureCanvasAgg`` skips pyplot's import and global
figure registry: cheaper in a Lambda, and safe when several analyses share a process.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["ENGINE_COLOURS", "plot_msa_coverage", "plot_pae", "plot_per_residue", "plot_plddt"]

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


def _chain_lines(ax, chain_breaks: list[tuple[int, str]], label_y: float | None = None) -> None:
    for index, _ in chain_breaks[1:]:
        ax.axvline(index + 0.5, color="0.4", lw=0.8, ls="--")
    if label_y is not None and len(chain_breaks) > 1:
        for index, name in chain_breaks:
            ax.text(index + 2, label_y, f"chain {name}", fontsize=8, color="0.3")


def plot_per_residue(
    plddt: dict[str, np.ndarray],
    labels: dict[str, str],
    chain_breaks: list[tuple[int, str]],
    path: Path,
    *,
    plddt_axis_label: str = "pLDDT",
    deviation: np.ndarray | None = None,
    msa_depth: np.ndarray | None = None,
) -> Path:
    """Per residue, on one residue axis (the reference's order): pLDDT of each engine,
    then the CA distance between the superposed models, then the MSA depth.

    Where the engines disagree, where confidence drops and where the MSA thins out line
    up vertically; panels without data (one engine, no MSA) are left out.
    """
    panels = 1 + (deviation is not None) + (msa_depth is not None)
    height = 1.0 + 1.9 * panels  # inches: the panels, the legend above, the axis label below
    fig = Figure(figsize=(9, height))
    fig.subplots_adjust(
        left=0.1, right=0.99, top=1 - 0.42 / height, bottom=0.52 / height, hspace=0.12
    )
    axes = fig.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    n = max(len(v) for v in plddt.values())
    ax = axes[0]
    for low, high, colour in _BAND_COLOURS:
        ax.axhspan(low, high, color=colour, alpha=0.12, lw=0)
    for slot, values in plddt.items():
        ax.plot(
            np.arange(1, len(values) + 1),
            values,
            lw=1.2,
            color=ENGINE_COLOURS.get(slot),
            label=labels.get(slot, slot),
        )
    ax.set_ylim(0, 100)
    ax.set_ylabel(plddt_axis_label)
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=8, frameon=False, ncols=2)
    _chain_lines(ax, chain_breaks, 2)
    row = 1
    if deviation is not None:
        ax = axes[row]
        row += 1
        x = np.arange(1, len(deviation) + 1)
        ax.fill_between(
            x, 0, np.nan_to_num(deviation), step="mid", color="#7a4ea3", alpha=0.35, lw=0
        )
        ax.plot(x, deviation, lw=1.0, color="#7a4ea3", drawstyle="steps-mid")
        finite = deviation[np.isfinite(deviation)]
        ax.set_ylim(0, max(4.0, float(finite.max()) * 1.05 if finite.size else 4.0))
        ax.set_ylabel("CA distance,\nsuperposed (Å)")
        _chain_lines(ax, chain_breaks)
    if msa_depth is not None:
        ax = axes[row]
        x = np.arange(1, len(msa_depth) + 1)
        ax.fill_between(x, 0, np.nan_to_num(msa_depth), step="mid", color="0.55", alpha=0.4, lw=0)
        ax.plot(x, msa_depth, lw=1.0, color="0.15", drawstyle="steps-mid")
        ax.set_ylim(bottom=0)
        ax.set_ylabel("MSA depth\n(sequences)")
        _chain_lines(ax, chain_breaks)
    fig.align_ylabels(axes)
    ax = axes[-1]
    ax.set_xlim(0.5, n + 0.5)
    ax.set_xlabel("residue (reference order)")
    return _save(fig, path)


_COVERAGE_ROWS = 600  # image rows at most; MSA rows are sampled evenly onto them


def plot_msa_coverage(chains: list, path: Path) -> Path:
    """Sequence coverage of each chain's MSA, as ColabFold and nf-core/proteinfold draw it:
    one line per MSA row, sorted by identity to the query (highest at the top) and coloured
    by it, blank where the row has no residue; the black line is the depth (rows with a
    residue) per position. Chains sit side by side on the residue axis.

    Parameters
    ----------
    chains : list of :class:`foldline.analysis.msa_depth.ChainMsa`
    """
    from matplotlib import colormaps

    total_length = sum(len(c.query) for c in chains)
    height = max(c.n_sequences for c in chains)
    n_image_rows = min(_COVERAGE_ROWS, height)
    # image row r shows the MSA row at sequence index floor(r * height / n_image_rows)
    index = np.floor(np.arange(n_image_rows) * height / n_image_rows).astype(int)
    image = np.full((n_image_rows, total_length), np.nan)
    offset = 0
    for chain in chains:
        order = np.argsort(-chain.identity, kind="stable")
        present = index < chain.n_sequences
        picked = order[index[present]]
        rows = np.where(chain.rows[picked], chain.identity[picked][:, None], np.nan)
        image[present, offset : offset + len(chain.query)] = rows
        offset += len(chain.query)
    fig = Figure(figsize=(9, 3.6))
    fig.subplots_adjust(left=0.08, right=0.86, top=0.9, bottom=0.14)
    ax = fig.add_subplot()
    drawn = ax.imshow(
        image,
        aspect="auto",
        interpolation="nearest",
        cmap=colormaps["rainbow_r"],
        vmin=0,
        vmax=1,
        extent=(0.5, total_length + 0.5, 0, height),
    )
    offset = 0
    for i, chain in enumerate(chains):
        x = np.arange(offset + 1, offset + len(chain.query) + 1)
        ax.plot(x, chain.depth, color="black", lw=1.1, label="depth" if i == 0 else None)
        if i:
            ax.axvline(offset + 0.5, color="0.3", lw=0.8, ls="--")
        offset += len(chain.query)
    ax.set_ylim(0, height)
    ax.set_xlim(0.5, total_length + 0.5)
    ax.set_xlabel("query position" + (" (chains side by side)" if len(chains) > 1 else ""))
    ax.set_ylabel("sequences")
    ax.set_title(
        "MSA coverage: " + ", ".join(f"chain {c.name} {c.n_sequences:,} sequences" for c in chains),
        fontsize=9,
    )
    cax = fig.add_axes((0.88, 0.14, 0.025, 0.76))
    bar = fig.colorbar(drawn, cax=cax)
    bar.set_label("identity to query", fontsize=8)
    return _save(fig, path)
