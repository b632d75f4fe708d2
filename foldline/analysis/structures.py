"""Read predicted (or experimental) protein models into per-chain CA traces.

gemmi parses PDB and mmCIF (plain or gzipped) alike. The analysis needs, per chain, the
sequence, the CA coordinates and the per-residue B-factor, which every AlphaFold/OpenFold
model uses for pLDDT.

Residue names: gemmi's table knows the PDB's standard and common modified residues (MSE,
SEP, ...: read as their parents' one-letter codes). Force-field names that no PDB file
uses (CHARMM's HSD/HSE/HSP, AMBER's HID/HIE/HIP, CYX, ...) and the file's own MODRES /
``_pdbx_struct_mod_residue`` records map to their parents; any other residue with a
peptide backbone (N, CA, C) is kept as ``X`` and named in ``warnings``: no residue is
dropped without a word.

B-factors: a model whose B-factors all lie in [0, 1] holds pLDDT on a 0-1 scale and is
rescaled to 0-100 (``plddt_scale`` "0-1"). B-factors that are all equal (all zero, as EM
and NMR files and some tools write) or that come from an experimental structure (its
``_exptl.method`` / EXPDTA) are not pLDDT: ``plddt_scale`` is "none", ``plddt`` is NaN
and ``plddt_note`` says why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import gemmi
import numpy as np

__all__ = ["MODEL_SUFFIXES", "ChainTrace", "StructureModel", "chain_name", "load_structure"]

#: file names the loader accepts (gemmi detects the format from the name)
MODEL_SUFFIXES = (".pdb", ".ent", ".cif", ".mmcif", ".pdb.gz", ".cif.gz", ".ent.gz")

#: force-field and program residue names -> the standard residue (CHARMM, AMBER, GROMACS)
PARENT_NAMES = {
    "HSD": "HIS",
    "HSE": "HIS",
    "HSP": "HIS",
    "HID": "HIS",
    "HIE": "HIS",
    "HIP": "HIS",
    "HIS1": "HIS",
    "HIS2": "HIS",
    "HISA": "HIS",
    "HISB": "HIS",
    "HISD": "HIS",
    "HISE": "HIS",
    "HISH": "HIS",
    "HSC": "HIS",
    "CYX": "CYS",
    "CYM": "CYS",
    "CYS2": "CYS",
    "CYN": "CYS",
    "ASH": "ASP",
    "ASPH": "ASP",
    "GLH": "GLU",
    "GLUH": "GLU",
    "LYN": "LYS",
    "LSN": "LYS",
    "LYSN": "LYS",
    "ARN": "ARG",
    "TYM": "TYR",
}
#: experimental methods whose B-factors are not confidences (anything but a model)
_PREDICTED_METHODS = ("THEORETICAL MODEL", "PREDICTED", "COMPUTED")

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
    plddt_scale: str  # "0-100" as written, "0-1" (rescaled here to 0-100), or "none"
    engine_remark: str | None = None  # engine named in the file's REMARK lines, if any
    remarks: tuple[str, ...] = field(default=(), repr=False)
    #: residues read under another name or kept as X (never dropped silently)
    warnings: tuple[str, ...] = ()
    #: why the B-factors are not pLDDT, where ``plddt_scale`` is "none"
    plddt_note: str | None = None

    @property
    def n_residues(self) -> int:
        return sum(len(c) for c in self.chains)

    @property
    def plddt(self) -> np.ndarray:
        """pLDDT per residue over all chains in file order, on the 0-100 scale (NaN where
        the B-factors hold no pLDDT: ``plddt_scale`` "none")."""
        if not self.chains:
            return np.zeros(0)
        return np.concatenate([self.chain_plddt(c) for c in self.chains])

    def chain_plddt(self, chain: ChainTrace) -> np.ndarray:
        """One chain's pLDDT on the 0-100 scale (NaN where the file holds none)."""
        if self.plddt_scale == "none":
            return np.full(len(chain), np.nan)
        return chain.bfactor * 100.0 if self.plddt_scale == "0-1" else chain.bfactor

    def chain(self, name: str) -> ChainTrace:
        for c in self.chains:
            if c.name == name:
                return c
        raise KeyError(f"{self.path.name} has no chain {name!r}; chains: {self.chain_names}")

    @property
    def chain_names(self) -> list[str]:
        return [c.name for c in self.chains]


def _one_letter(info) -> str:
    code = info.one_letter_code.upper()
    return code if code.isalpha() else "X"


def _residue_reading(name: str, parents: dict[str, str], residue) -> tuple[str, str | None] | None:
    """(one-letter code, how it was read: None if as itself) for a protein residue, or
    None for anything else (water, ligand, nucleotide)."""
    info = gemmi.find_tabulated_residue(name)
    if info is not None and info.is_amino_acid():
        return _one_letter(info), None
    parent = PARENT_NAMES.get(name) or parents.get(name)
    if parent is not None:
        parent_info = gemmi.find_tabulated_residue(parent)
        if parent_info is not None and parent_info.is_amino_acid():
            return _one_letter(parent_info), f"{name} read as {parent}"
    if info is None and all(residue.find_atom(a, "*") is not None for a in ("N", "CA", "C")):
        return "X", f"{name} (unknown, with a peptide backbone) kept as X"
    return None


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


def _plddt_scale(structure: gemmi.Structure, bfactors: np.ndarray) -> tuple[str, str | None]:
    """("0-100" | "0-1" | "none", why not pLDDT)."""
    info = structure.info  # gemmi's InfoMap: `in` and [], but no get()
    method = info["_exptl.method"] if "_exptl.method" in info else ""  # noqa: SIM401
    if method and not method.upper().startswith(_PREDICTED_METHODS):
        return "none", f"an experimental structure ({method}): B-factors are not pLDDT"
    if bfactors.size and float(bfactors.max()) == float(bfactors.min()):
        return "none", (
            f"every B-factor is {float(bfactors[0]):.2f}: the file holds no "
            "per-residue confidence (not pLDDT)"
        )
    if bfactors.size and float(bfactors.max()) <= 1.0 and float(bfactors.min()) >= 0.0:
        return "0-1", None
    return "0-100", None


def chain_name(chain: gemmi.Chain, index: int) -> str:
    """The name foldline gives the ``index``-th chain of a model: its chain id; in a PDB
    file without chain ids, the segment id, else A, B, ... by position."""
    return chain.name or (chain[0].segment.strip() if len(chain) else "") or chr(65 + index % 26)


def load_structure(path: Path | str) -> StructureModel:
    """Read the protein chains of the first model in a PDB or mmCIF file.

    Protein residues are those gemmi's table calls amino acids, force-field names of
    them (:data:`PARENT_NAMES`), the file's own modified residues (MODRES), and any
    other residue with N, CA and C atoms (kept as ``X``); each residue read under
    another name is counted in ``warnings``. Residues without a CA atom, water and
    ligands are skipped; for alternative locations the first CA is used.

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
    parents = {m.res_id.name: m.parent_comp_id for m in structure.mod_residues if m.parent_comp_id}
    chains: list[ChainTrace] = []
    readings: dict[str, int] = {}
    for index, chain in enumerate(structure[0]):
        letters: list[str] = []
        coords: list[tuple[float, float, float]] = []
        bfactors: list[float] = []
        numbers: list[int] = []
        for residue in chain:
            reading = _residue_reading(residue.name, parents, residue)
            if reading is None:
                continue
            ca = residue.find_atom("CA", "*")
            if ca is None:
                continue
            letter, how = reading
            if how is not None:
                readings[how] = readings.get(how, 0) + 1
            letters.append(letter)
            coords.append((ca.pos.x, ca.pos.y, ca.pos.z))
            bfactors.append(ca.b_iso)
            numbers.append(residue.seqid.num)
        if letters:
            # a PDB file without chain ids: the segment id, else A, B, ... by position
            name = chain_name(chain, index)
            chains.append(
                ChainTrace(
                    name=name,
                    sequence="".join(letters),
                    ca=np.asarray(coords, dtype=np.float64),
                    bfactor=np.asarray(bfactors, dtype=np.float64),
                    residue_numbers=np.asarray(numbers, dtype=np.int64),
                )
            )
    if not chains:
        raise ValueError(f"{path} holds no protein chain with CA atoms")
    scale, note = _plddt_scale(structure, np.concatenate([c.bfactor for c in chains]))
    remarks = _header_remarks(path)
    warnings = tuple(
        f"{path.name}: {count} residue{'s' if count > 1 else ''} {how}"
        for how, count in sorted(readings.items())
    )
    return StructureModel(
        path=path,
        chains=tuple(chains),
        plddt_scale=scale,
        engine_remark=_engine_from_remarks(remarks),
        remarks=tuple(remarks),
        warnings=warnings,
        plddt_note=note,
    )
