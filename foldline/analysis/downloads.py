"""The report's files as downloads from the page itself.

``report.html`` is opened from a presigned S3 link (the notice's), a downloaded copy or
the report folder: only in the last are the files beside it. So the page carries them:
each model and ``metrics.json`` gzip-compressed and base64-encoded in a JSON script
element, each plot as the data URI its ``<img>`` already shows (no second copy). A click
on a file's link builds a Blob from that data (``DecompressionStream("gzip")``) and saves
it under the file's name; the relative link is the fallback without JavaScript.

Size-aware: the embedded data of one page is capped (:data:`EMBED_BUDGET`), smallest files
first, so a large complex's models do not make a page no browser opens; a file left out
keeps its relative link and the page says how to fetch it (``foldline results``).
"""

from __future__ import annotations

import base64
import gzip
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: base64 characters of compressed files one page may carry (plots are not counted:
#: they are in the page already as images)
EMBED_BUDGET = 24 * 1024 * 1024
#: file suffix -> MIME type where Python's table has none or a vague one
_TYPES = {".pdb": "chemical/x-pdb", ".cif": "chemical/x-cif", ".json": "application/json"}


@dataclass(frozen=True)
class Download:
    """One file of the report folder as the page offers it."""

    name: str
    size: int  # bytes on disk
    embedded: bool  # its bytes are in the page
    image_id: str | None = None  # a plot: the <img> whose data URI holds it


def mime_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def image_id(plot_key: str) -> str:
    """The id of the ``<img>`` that shows plot ``plot_key``."""
    return f"fl-plot-{plot_key}"


def plan_downloads(
    out_dir: Path,
    names: list[str],
    plots: dict[str, str],
    *,
    shown: set[str] | frozenset[str] = frozenset(),
    budget: int | None = None,
) -> tuple[dict[str, Download], dict[str, dict[str, Any]]]:
    """(name -> :class:`Download`, the JSON the page's script reads: name -> entry).

    ``shown``: the plot keys the page draws as ``<img>`` (the others are embedded like
    any file). An entry is ``{"type", "image": id}`` for a shown plot or ``{"type",
    "gzip": base64}``; a file over what is left of ``budget`` (default
    :data:`EMBED_BUDGET`) gets no entry.
    """
    by_plot = {name: key for key, name in plots.items() if key in shown}
    downloads: dict[str, Download] = {}
    payload: dict[str, dict[str, Any]] = {}
    sizes = {name: (out_dir / name).stat().st_size for name in names if (out_dir / name).is_file()}
    left = EMBED_BUDGET if budget is None else budget
    for name in sorted(sizes, key=lambda n: (n not in by_plot, sizes[n], n)):
        if name in by_plot:
            ident = image_id(by_plot[name])
            payload[name] = {"type": mime_type(name), "image": ident}
            downloads[name] = Download(name, sizes[name], True, ident)
            continue
        data = base64.b64encode(gzip.compress((out_dir / name).read_bytes(), mtime=0)).decode()
        if len(data) > left:
            downloads[name] = Download(name, sizes[name], False)
            continue
        left -= len(data)
        payload[name] = {"type": mime_type(name), "gzip": data}
        downloads[name] = Download(name, sizes[name], True)
    return downloads, payload
