"""The report's 3-D view: 3Dmol.js (vendored, pinned), cartoons of the report's models.

``report.html`` must open offline (from S3, an e-mail link or a laptop without network),
so the viewer library travels inside the page: ``vendor/3Dmol-min.js`` is 3Dmol.js 2.5.5
as the npm registry ships it (``build/3Dmol-min.js`` of ``3dmol-2.5.5.tgz``), BSD-3-Clause
(``vendor/3Dmol-LICENSE.txt``), checked against :data:`LIBRARY`'s sha256 whenever a page
is written, so a damaged or swapped copy fails the analysis instead of shipping.

The models are the report's own files (the reference as predicted, the other engine's
superposed onto it), cut to the backbone atoms a cartoon needs (N, CA, C, O) to keep the
page small; pLDDT stays in the B-factor column, where 3Dmol's colour functions read it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["LIBRARY", "ViewerLibrary", "backbone_pdb", "library_script", "viewer_model"]


@dataclass(frozen=True)
class ViewerLibrary:
    name: str
    version: str
    licence: str
    homepage: str
    source: str  # where the vendored file came from
    file: str  # under foldline/analysis/vendor/
    licence_file: str
    sha256: str


LIBRARY = ViewerLibrary(
    name="3Dmol.js",
    version="2.5.5",
    licence="BSD-3-Clause",
    homepage="https://3dmol.csb.pitt.edu/",
    source="https://registry.npmjs.org/3dmol/-/3dmol-2.5.5.tgz (package/build/3Dmol-min.js)",
    file="3Dmol-min.js",
    licence_file="3Dmol-LICENSE.txt",
    sha256="f7cc78921ae72e7623e89cdd111434f58c2efddd2ffda1cd212644b406fb8016",
)

#: atoms a cartoon is drawn from (3Dmol assigns secondary structure from N/O H-bonds)
BACKBONE = ("N", "CA", "C", "O")


def _vendor(name: str) -> bytes:
    return resources.files("foldline.analysis").joinpath("vendor", name).read_bytes()


def library_script() -> str:
    """The vendored viewer library's text, after checking its sha256."""
    data = _vendor(LIBRARY.file)
    digest = hashlib.sha256(data).hexdigest()
    if digest != LIBRARY.sha256:
        raise RuntimeError(
            f"foldline/analysis/vendor/{LIBRARY.file}: sha256 {digest}, expected {LIBRARY.sha256} "
            f"({LIBRARY.name} {LIBRARY.version} from {LIBRARY.source})"
        )
    # a "</script" inside the library would end the page's script element early
    return data.decode("utf-8").replace("</script", "<\\/script")


def backbone_pdb(path: Path) -> tuple[str, str]:
    """(text, format) of the model's first model with backbone atoms only.

    PDB where the model fits PDB's columns, else mmCIF (3Dmol reads both).
    """
    import gemmi

    structure = gemmi.read_structure(str(path))
    structure.remove_hydrogens()
    while len(structure) > 1:
        del structure[len(structure) - 1]
    backbone = gemmi.Selection("/*/*/*/" + ",".join(BACKBONE)).copy_structure_selection(structure)
    backbone.remove_empty_chains()
    try:
        text = backbone.make_pdb_string()
    except (RuntimeError, ValueError):  # more chains or atoms than PDB's columns hold
        return backbone.make_mmcif_document().as_string(), "cif"
    # no unit cell: a predicted model has none, and 3Dmol need not think about one
    return "".join(
        line + "\n" for line in text.splitlines() if not line.startswith("CRYST1")
    ), "pdb"


def viewer_model(
    slot: str, label: str, path: Path, colour: str, confidence: str, style: str
) -> dict[str, Any]:
    """One model as the page's viewer script reads it.

    ``confidence`` is what the B-factors hold ("plddt", "template-similarity", "none"):
    colouring by confidence greys a model whose B-factors hold none. ``style`` is the
    cartoon's look ("cartoon" or "trace", a thin tube), so that superposed models are
    told apart when both wear the same confidence colours.
    """
    text, fmt = backbone_pdb(path)
    if fmt == "pdb" and not any(
        line[12:16] == " N  " for line in text.splitlines() if line.startswith("ATOM")
    ):
        style = "trace"  # CA atoms only (a placeholder model): a cartoon needs N, C and O
    return {
        "slot": slot,
        "label": label,
        "file": path.name,
        "colour": colour,
        "confidence": confidence,
        "style": style,
        "format": fmt,
        "text": text,
    }
