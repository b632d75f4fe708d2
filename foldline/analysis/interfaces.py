"""DockQ for each chain-pair interface of two models of a complex.

DockQ (Basu & Wallner 2016; DockQ v2, Mirabello & Wallner 2024) scores one interface of a
model against the same interface of a native: the share of the native's residue contacts
the model keeps (Fnat), the interface backbone RMSD (iRMSD) and the smaller chain's RMSD
after superposing the larger (LRMSD), combined into one score in 0-1 that CAPRI's classes
cut at 0.23 (acceptable), 0.49 (medium) and 0.80 (high).

The figures come from ``dockq_rs``, a reimplementation of the ``DockQ`` package (2.1.3)
with the same results (checked against DockQ's own published and recomputed figures in
``tests/analysis/test_interfaces.py``); ``DockQ`` itself ships only a source
distribution with a compiled extension and pins numpy < 2, so it cannot go into the
analysis Lambda's wheel-only build for its platform (docs/metrics-schema.md).

Here the reference model plays the native: every interface of its chains in contact
(DockQ's own test: a residue pair within 5 Å) is scored, with the chain mapping the
comparison found (:mod:`foldline.analysis.chains`), not one DockQ searches again. DockQ
aligns each chain pair's sequences itself, so chains whose sequences differ are scored on
their common residues.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foldline.analysis.structures import StructureModel

__all__ = [
    "DOCKQ_METHOD",
    "InterfaceScore",
    "capri_class",
    "interfaces_section",
    "score_interfaces",
]

#: CAPRI's classes by DockQ (Basu & Wallner 2016): lower bounds
CAPRI_CLASSES = (("high", 0.80), ("medium", 0.49), ("acceptable", 0.23), ("incorrect", 0.0))

DOCKQ_METHOD = (
    "DockQ v2 (dockq-rs 0.1.0, a reimplementation of the DockQ 2.1.3 package with its results) "
    "on each interface of the reference's chains in contact, the reference (the AlphaFold slot's "
    "model) as the native and the other model scored against it, chains mapped as in the "
    "comparison; CAPRI class by DockQ: high >= 0.80, medium >= 0.49, acceptable >= 0.23"
)


def capri_class(dockq: float) -> str:
    """CAPRI's quality class of an interface, from its DockQ."""
    return next(name for name, bound in CAPRI_CLASSES if dockq >= bound)


@dataclass(frozen=True)
class InterfaceScore:
    reference_chains: tuple[str, str]
    mobile_chains: tuple[str, str]
    dockq: float
    fnat: float
    fnonnat: float
    irmsd: float
    lrmsd: float
    f1: float
    clashes: int

    def as_dict(self, reference_slot: str, mobile_slot: str) -> dict[str, Any]:
        return {
            reference_slot: list(self.reference_chains),
            mobile_slot: list(self.mobile_chains),
            "dockq": round(self.dockq, 4),
            "capri_class": capri_class(self.dockq),
            "fnat": round(self.fnat, 4),
            "fnonnat": round(self.fnonnat, 4),
            "irmsd": round(self.irmsd, 3),
            "lrmsd": round(self.lrmsd, 3),
            "f1": round(self.f1, 4),
            "clashes": int(self.clashes),
        }


def _dockq_input(path: Path, names: list[str], folder: Path) -> Path:
    """The file's first model with only the chains foldline read (``names``), named as
    foldline names them (:func:`~foldline.analysis.structures.chain_name`), in the file's
    format: DockQ reads the same chains the comparison mapped, atoms as written."""
    import gemmi

    from foldline.analysis.structures import chain_name

    structure = gemmi.read_structure(str(path), merge_chain_parts=True)
    while len(structure) > 1:
        del structure[1]
    model = structure[0]
    for index, chain in enumerate(model):
        chain.name = chain_name(chain, index)
    for index in reversed(range(len(model))):
        if model[index].name not in names:
            del model[index]
    found = [chain.name for chain in model]
    if sorted(found) != sorted(names):
        raise ValueError(f"{path.name}: chains {found} for DockQ, {names} compared")
    stem = path.name.split(".")[0]
    if (
        path.name.lower().removesuffix(".gz").endswith((".cif", ".mmcif"))
        or max(map(len, names)) > 1
    ):  # PDB: 1-letter ids
        out = folder / f"{stem}.cif"
        structure.make_mmcif_document().write_file(str(out))
    else:
        out = folder / f"{stem}.pdb"
        structure.write_pdb(str(out))
    return out


def score_interfaces(
    reference: Path,
    reference_chains: list[str],
    mobile: Path,
    mobile_chains: list[str],
    chain_map: dict[str, str],
) -> list[InterfaceScore]:
    """DockQ of every interface between ``reference`` chains in ``chain_map`` (reference
    chain -> mobile chain) that are in contact in the reference.

    ``reference_chains``/``mobile_chains``: each file's protein chain names as foldline
    read them (:func:`foldline.analysis.structures.load_structure`), in file order.
    """
    import dockq_rs

    if len(chain_map) < 2:
        return []
    with tempfile.TemporaryDirectory(prefix="foldline-dockq-") as tmp:
        folder = Path(tmp)
        (folder / "native").mkdir()
        (folder / "model").mkdir()
        native = dockq_rs.load_PDB(
            str(_dockq_input(Path(reference), reference_chains, folder / "native"))
        )
        model = dockq_rs.load_PDB(str(_dockq_input(Path(mobile), mobile_chains, folder / "model")))
        results, _ = dockq_rs.run_on_all_native_interfaces(model, native, chain_map=dict(chain_map))
    scores = []
    for (first, second), r in results.items():
        scores.append(
            InterfaceScore(
                reference_chains=(first, second),
                mobile_chains=(chain_map[first], chain_map[second]),
                dockq=float(r["DockQ"]),
                fnat=float(r["fnat"]),
                fnonnat=float(r["fnonnat"]),
                irmsd=float(r["iRMSD"]),
                lrmsd=float(r["LRMSD"]),
                f1=float(r["F1"]),
                clashes=int(r["clashes"]),
            )
        )
    order = {name: i for i, name in enumerate(reference_chains)}
    return sorted(
        scores, key=lambda s: (order[s.reference_chains[0]], order[s.reference_chains[1]])
    )


def interfaces_section(
    reference: StructureModel, mobile: StructureModel, chain_map: dict[str, str]
) -> dict[str, Any] | None:
    """``comparison.interfaces`` of metrics.json: DockQ per interface, where two or more
    of the reference's chains have a partner; else None."""
    if len(chain_map) < 2:
        return None
    scores = score_interfaces(
        reference.path, reference.chain_names, mobile.path, mobile.chain_names, chain_map
    )
    unmapped = [c for c in reference.chain_names if c not in chain_map]
    notes = []
    if not scores:
        notes.append("no two mapped chains of the reference are in contact: no interface to score")
    if unmapped:
        notes.append(
            f"interfaces of reference chains without a partner ({', '.join(unmapped)}) "
            "are not scored"
        )
    return {
        "method": DOCKQ_METHOD,
        "items": [s.as_dict("alphafold", "openfold") for s in scores],
        "notes": notes,
    }
