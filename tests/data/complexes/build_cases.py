"""Make the derived test complexes in this folder from real structures (run from the
repository root: ``.venv/bin/python tests/data/complexes/build_cases.py``).

Each case is a real structure (the reference) and a copy changed in one stated way (the
"model"), so that the right score is known from the change and from independent programs
(reference_scores.json records their figures and the commands that produced them).
"""

from __future__ import annotations

from pathlib import Path

import gemmi
import tmtools

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
STRUCTURES = ROOT / "tests" / "data" / "analysis" / "structures"
TMTOOLS_DATA = Path(tmtools.__file__).parent / "data"


def _clean(path: Path, chains: list[str] | None = None) -> gemmi.Structure:
    st = gemmi.read_structure(str(path))
    st.remove_ligands_and_waters()
    st.remove_hydrogens()
    st.remove_alternative_conformations()
    del st[1:]  # first model only
    if chains is not None:
        for name in [c.name for c in st[0] if c.name not in chains]:
            st[0].remove_chain(name)
    st.remove_empty_chains()
    st.setup_entities()
    return st


def _write(st: gemmi.Structure, name: str, *, ca_only: bool = False) -> None:
    if ca_only:  # a large complex: the CA trace is what TM-score reads
        for chain in st[0]:
            for residue in chain:
                for index in reversed(range(len(residue))):
                    if residue[index].name != "CA":
                        del residue[index]
    for residue in (r for chain in st[0] for r in chain):
        for atom in residue:
            atom.aniso = gemmi.SMat33f(0, 0, 0, 0, 0, 0)  # no ANISOU records
    options = gemmi.PdbWriteOptions()
    options.minimal_file = True
    st.write_pdb(str(HERE / name), options)


def _drop_last(chain: gemmi.Chain) -> None:
    del chain[len(chain) - 1]


def main() -> None:
    # 1. a homodimer (3U8V, 83 + 83 residues); the model's chain B lacks its last residue
    #    and is moved 12 Å along x
    ref = _clean(STRUCTURES / "3u8v.cif")
    _write(ref, "3u8v_reference.pdb")
    model = _clean(STRUCTURES / "3u8v.cif")
    chain_b = model[0]["B"]
    _drop_last(chain_b)
    for residue in chain_b:
        for atom in residue:
            atom.pos = gemmi.Position(atom.pos.x + 12.0, atom.pos.y, atom.pos.z)
    _write(model, "3u8v_B_short_moved12.pdb")

    # 2. an 8-copy homo-oligomer (7OK9 chains A-H, as tmtools ships it); the model's
    #    chains are relabelled (A->C, B->A, ...) and each lacks its last residue
    names = list("ABCDEFGH")
    ref = _clean(TMTOOLS_DATA / "7ok9.cif", names)
    _write(ref, "7ok9_ABCDEFGH_reference.pdb", ca_only=True)
    model = _clean(TMTOOLS_DATA / "7ok9.cif", names)
    permuted = dict(zip(names, "CAEBGDHF"))
    for chain in model[0]:
        _drop_last(chain)
        chain.name = permuted[chain.name].lower()  # two passes: no clash while renaming
    for chain in model[0]:
        chain.name = chain.name.upper()
    _write(model, "7ok9_permuted_short.pdb", ca_only=True)

    # 3. a monomer (3ZEE, 84 residues); the model lacks residues 40-44
    ref = _clean(STRUCTURES / "3zee.cif")
    _write(ref, "3zee_reference.pdb")
    model = _clean(STRUCTURES / "3zee.cif")
    chain = model[0][0]
    for index in reversed([i for i, r in enumerate(chain) if 40 <= r.seqid.num <= 44]):
        del chain[index]
    _write(model, "3zee_missing_40-44.pdb")


if __name__ == "__main__":
    main()
