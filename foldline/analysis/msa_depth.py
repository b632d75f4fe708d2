"""MSA depth and coverage per residue, read from the MSA step's ``msas/`` folder.

What the engines were given, per chain: the sequence-search MSAs in AlphaFold's layout
(``uniref90_hits.sto``, ``mgnify_hits.sto``, ``small_bfd_hits.sto`` or
``bfd_uniref_hits.a3m``; multimers one folder per chain, ``msas/A/`` ...). As AlphaFold's
data pipeline does when it builds features, each Stockholm file keeps its first
``max_rows`` rows (10,000 uniref90, 501 mgnify), insert columns are dropped (the query's
gaps in Stockholm, lower-case letters in A3M) and rows repeated across databases count
once. Template hits (``pdb_hits.*``) and the multimer pairing search (``uniprot_hits.sto``)
are not part of a chain's own MSA and are not counted.

Depth at a residue: the MSA rows (query included) with a residue aligned there. Each row's
coverage and identity (to the query, over its aligned residues) colour the coverage plot,
as ColabFold's and nf-core/proteinfold's "sequence coverage" plots do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foldline.spec.layout import MSA_SEARCH_FILES

__all__ = ["MSA_DEPTH_METHOD", "ChainMsa", "read_msa_depth"]

MSA_DEPTH_METHOD = (
    "rows of the chain's sequence-search MSAs (query included; "
    + ", ".join(
        f"{name}{'' if cap is None else f' first {cap:,} rows'}"
        for name, cap in MSA_SEARCH_FILES.items()
    )
    + "), insert columns dropped, repeated rows counted once, as the data pipeline of "
    "run_alphafold.py (2.3) builds its MSA features; template hits and multimer pairing hits not counted"
)

_GAPS = frozenset("-.")
#: a3m/Stockholm letters that are insertions relative to the query
_INSERT = str.maketrans("", "", "abcdefghijklmnopqrstuvwxyz.")


@dataclass
class ChainMsa:
    """One chain's MSA, reduced to what the report draws."""

    name: str
    query: str
    files: dict[str, int] = field(default_factory=dict)  # file name -> rows read
    rows: np.ndarray | None = None  # (n, L) bool: residue aligned at each query position
    identity: np.ndarray | None = None  # (n,) identity to the query over aligned residues

    @property
    def depth(self) -> np.ndarray:
        return self.rows.sum(axis=0)

    @property
    def n_sequences(self) -> int:
        return int(self.rows.shape[0])

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "length": len(self.query),
            "n_sequences": self.n_sequences,
            "files": dict(self.files),
            "depth": self.depth.astype(int).tolist(),
        }


def _stockholm_rows(path: Path, max_rows: int | None) -> list[str]:
    """Match-state rows (the query's columns) of a Stockholm file, query first."""
    from Bio import AlignIO

    alignment = AlignIO.read(str(path), "stockholm")
    records = list(alignment)[: max_rows or None]
    if not records:
        return []
    query = str(records[0].seq)
    keep = np.array([c not in _GAPS for c in query])
    rows = []
    for record in records:
        letters = np.frombuffer(str(record.seq).encode("ascii"), dtype="S1")
        rows.append(letters[keep].tobytes().decode("ascii").upper().replace(".", "-"))
    return rows


def _a3m_rows(path: Path, max_rows: int | None) -> list[str]:
    """Match-state rows of an A3M file (lower case and '.' are insertions), query first."""
    from Bio import SeqIO

    rows = []
    for record in SeqIO.parse(str(path), "fasta"):
        rows.append(str(record.seq).translate(_INSERT))
        if max_rows is not None and len(rows) >= max_rows:
            break
    return rows


def _chain_folders(msas: Path) -> list[tuple[str, Path]]:
    """(chain name, folder): ``msas/`` itself for a monomer, ``msas/<chain>/`` for a multimer."""
    if any((msas / name).is_file() for name in MSA_SEARCH_FILES):
        return [("A", msas)]
    return [(child.name, child) for child in sorted(msas.iterdir()) if child.is_dir()]


def read_msa_depth(msa_output: Path, warnings: list[str]) -> list[ChainMsa]:
    """Each chain's MSA rows and identities from the MSA step's folder (empty if none).

    A file that cannot be read costs its rows and a warning, never the report.
    """
    msas = Path(msa_output) / "msas"
    if not msas.is_dir():
        return []
    chains = []
    for name, folder in _chain_folders(msas):
        unique: dict[str, None] = {}
        files: dict[str, int] = {}
        query = None
        for file_name, cap in MSA_SEARCH_FILES.items():
            path = folder / file_name
            if not path.is_file():
                continue
            try:
                rows = (_a3m_rows if file_name.endswith(".a3m") else _stockholm_rows)(path, cap)
            except (ValueError, OSError) as err:
                warnings.append(f"msa: could not read {path.relative_to(msas)}: {err}")
                continue
            rows = [r for r in rows if query is None or len(r) == len(query)] if rows else rows
            if not rows:
                continue
            query = query or rows[0]
            files[file_name] = len(rows)
            unique.update(dict.fromkeys(r for r in rows if len(r) == len(query)))
        if query is None:
            continue
        letters = np.array([np.frombuffer(r.encode("ascii"), dtype="S1") for r in unique])
        aligned = (letters != b"-") & (letters != b".")
        same = (letters == np.frombuffer(query.encode("ascii"), dtype="S1")) & aligned
        identity = same.sum(axis=1) / np.maximum(aligned.sum(axis=1), 1)
        chains.append(ChainMsa(name, query, files, aligned, identity))
    return chains
