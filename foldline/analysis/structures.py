"""Read predicted (or experimental) protein models into per-chain CA traces.

gemmi parses PDB and mmCIF (plain or gzipped) alike. The analysis needs, per chain, the
sequence, the CA coordinates and the per-residue B-factor, which every AlphaFold/OpenFold
model uses for pLDDT. Some tools write pLDDT on a 0-1 scale: a model whose B-factors all
lie in [0, 1] is rescaled to 0-100 and says so (``plddt_scale``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import gemmi
import numpy as np

__all__ = ["ChainTrace", "StructureModel", "load_structure", "MODEL_SUFFIXES"]

#: file names the loader accepts (gemmi detects the format from the name)
MODEL_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".cif.gz", ".ent.gz")

_ENGINE_WORDS = re.compile(r"\b(template-cpu|alphafold|openfold|colabfold)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ChainTrace:
    """One polymer chain reduced to what the comparison needs.

    Attributes
    ----------
    name : str
        Chain name as written in the file (auth chain id for mmCIF).
    sequence : str
        One-letter sequence of the residues that have a CA atom ("X" for unknown).
    ca : numpy.ndarray, shape (n, 3), float64
        CA coordinates in Å.
    bfactor : numpy.ndarray, shape (n,), float64
        CA B-factor per residue, as written.
    residue_numbers : numpy.ndarray, shape (n,), int
        Author residue numbers.
    """

    name: str
    sequence: str
    ca: np.ndarray
    bfactor: np.ndarray
    residue_numbers: np.ndarray

    def __len__(self) -> int:
        return len(self.sequence)


@dataclass(frozen=True)
class StructureModel:
    """A model file reduced to its protein chains (first model of the file only)."""

    path: Path
    chains: tuple[ChainTrace, ...]
    plddt_scale: str  # "0-100" as written, or "0-1" (rescaled here to 0-100)
    engine_remark: str | None = None  # engine named in the file's REMARK lines, if any
    remarks: tuple[str, ...] = field(default=(), repr=False)

    @property
    def n_residues(self) -> int:
        return sum(len(c) for c in self.chains)

    @property
    def plddt(self) -> np.ndarray:
        """pLDDT per residue over all chains in file order, on the 0-100 scale."""
        if not self.chains:
            return np.zeros(0)
        values = np.concatenate([c.bfactor for c in self.chains])
        return values * 100.0 if self.plddt_scale == "0-1" else values

    def chain(self, name: str) -> ChainTrace:
        for c in self.chains:
            if c.name == name:
                return c
        raise KeyError(f"{self.path.name} has no chain {name!r}; chains: {self.chain_names}")

    @property
    def chain_names(self) -> list[str]:
        return [c.name for c in self.chains]


def _one_letter(residue_name: str) -> str:
    info = gemmi.find_tabulated_residue(residue_name)
    if info is None:
        return "X"
    code = info.one_letter_code.upper()
    return code if code.isalpha() else "X"


def _is_amino_acid(residue_name: str) -> bool:
    info = gemmi.find_tabulated_residue(residue_name)
    return info is not None and info.is_amino_acid()


def _engine_from_remarks(lines: list[str]) -> str | None:
    for line in lines:
        match = _ENGINE_WORDS.search(line)
        if match:
            return match.group(1).lower()
    return None


def _header_remarks(path: Path) -> list[str]:
    """REMARK/PARENT lines of a PDB file, or the title/software lines of an mmCIF."""
    if path.name.lower().endswith(".gz"):
        import gzip

        with gzip.open(path, "rt", errors="replace") as handle:
            text = handle.read(20000)
    else:
        with open(path, errors="replace") as handle:
            text = handle.read(20000)
    keep = ("REMARK", "PARENT", "HEADER", "TITLE", "_software.name", "_struct.title")
    return [line.strip() for line in text.splitlines() if line.startswith(keep)]


def load_structure(path: Path | str) -> StructureModel:
    """Read the protein chains of the first model in a PDB or mmCIF file.

    Residues without a CA atom and non-amino-acid residues (water, ligands) are skipped;
    for alternative locations the first CA is used.

    Parameters
    ----------
    path : Path
        A ``.pdb``/``.cif`` file, optionally gzipped.

    Returns
    -------
    StructureModel

    Raises
    ------
    ValueError
        If the file holds no protein chain with CA atoms.
    """
    path = Path(path)
    structure = gemmi.read_structure(str(path), merge_chain_parts=True)
    if len(structure) == 0:
        raise ValueError(f"{path} holds no model")
    chains: list[ChainTrace] = []
    for chain in structure[0]:
        letters: list[str] = []
        coords: list[tuple[float, float, float]] = []
        bfactors: list[float] = []
        numbers: list[int] = []
        for residue in chain:
            if not _is_amino_acid(residue.name):
                continue
            ca = residue.find_atom("CA", "*")
            if ca is None:
                continue
            letters.append(_one_letter(residue.name))
            coords.append((ca.pos.x, ca.pos.y, ca.pos.z))
            bfactors.append(ca.b_iso)
            numbers.append(residue.seqid.num)
        if letters:
            chains.append(
                ChainTrace(
                    name=chain.name,
                    sequence="".join(letters),
                    ca=np.asarray(coords, dtype=np.float64),
                    bfactor=np.asarray(bfactors, dtype=np.float64),
                    residue_numbers=np.asarray(numbers, dtype=np.int64),
                )
            )
    if not chains:
        raise ValueError(f"{path} holds no protein chain with CA atoms")
    all_b = np.concatenate([c.bfactor for c in chains])
    scale = "0-1" if all_b.size and float(all_b.max()) <= 1.0 and float(all_b.min()) >= 0.0 else "0-100"
    remarks = _header_remarks(path)
    return StructureModel(
        path=path,
        chains=tuple(chains),
        plddt_scale=scale,
        engine_remark=_engine_from_remarks(remarks),
        remarks=tuple(remarks),
    )
