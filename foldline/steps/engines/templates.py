"""Template library helpers: hit names, release dates, the date cut-off.

Release dates come from the mmCIF files as AlphaFold reads them
(``mmcif_parsing``: the earliest ``_pdbx_audit_revision_history.revision_date``).
A template whose mmCIF is missing or carries no date is kept: nothing shows it is late
(AlphaFold's ``_is_after_cutoff`` keeps entries it has no date for, too).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

import gemmi

from foldline.steps.engines.alignments import Alignment

# AlphaFold's parsers._parse_hmmsearch_description, applied to "name description"
_HIT = re.compile(r"^>?([a-z0-9]+)_(\w+)/([0-9]+)-([0-9]+).*protein length:([0-9]+) *(.*)$")
_NAME = re.compile(r"^([A-Za-z0-9]{4})_(\w+)(?:/([0-9]+)-([0-9]+))?$")


@dataclass(frozen=True)
class HitName:
    pdb_id: str  # lower case, as in mmcif_files/<id>.cif
    chain: str
    start: int  # first aligned residue of the seqres sequence, 1-based
    end: int
    length: int | None  # seqres length from the description, when given

    @property
    def template(self) -> str:
        return f"{self.pdb_id}_{self.chain}"


def parse_hit_name(name: str, description: str = "") -> HitName | None:
    match = _HIT.match(f"{name} {description}")
    if match:
        pdb_id, chain, start, end, length, _ = match.groups()
        return HitName(pdb_id.lower(), chain, int(start), int(end), int(length))
    match = _NAME.match(name)
    if match:
        pdb_id, chain, start, end = match.groups()
        return HitName(pdb_id.lower(), chain, int(start or 1), int(end or 0), None)
    return None


@functools.lru_cache(maxsize=4096)
def release_date(cif_path: Path) -> dt.date | None:
    """Earliest revision date of an mmCIF file, or None (no file, no date)."""
    if not cif_path.is_file():
        return None
    block = gemmi.cif.read(str(cif_path)).sole_block()
    dates = [
        gemmi.cif.as_string(v)
        for v in block.find_values("_pdbx_audit_revision_history.revision_date")
    ]
    parsed = []
    for value in dates:
        try:
            parsed.append(dt.date.fromisoformat(value))
        except ValueError:
            continue
    return min(parsed) if parsed else None


def drop_late_templates(
    hits: Alignment, mmcif_dir: Path, cutoff: dt.date
) -> tuple[Alignment, list[str]]:
    """Remove hit rows whose template was released after ``cutoff``."""
    drop, late = set(), []
    for index, (name, description) in enumerate(zip(hits.names, hits.descriptions)):
        parsed = parse_hit_name(name, description)
        if parsed is None:
            continue
        released = release_date(mmcif_dir / f"{parsed.pdb_id}.cif")
        if released is not None and released > cutoff:
            drop.add(index)
            late.append(f"{parsed.template} ({released.isoformat()})")
    return (hits.without_rows(drop) if drop else hits), late
