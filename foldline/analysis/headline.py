"""The one-line summary of an analysis, for notifications and logs.

Pure Python on the metrics dict (no numpy): a notify function can import it without the
numeric stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["headline", "engine_label", "SLOT_TITLES"]

SLOT_TITLES = {"alphafold": "AlphaFold", "openfold": "OpenFold", "msa": "MSA"}


def engine_label(slot: str, engine: str) -> str:
    """"AlphaFold" where AlphaFold ran; "template-cpu (AlphaFold slot)" where a stand-in did."""
    title = SLOT_TITLES.get(slot, slot)
    if engine == slot:
        return title
    return f"{engine} ({title} slot)"


def headline(metrics: dict[str, Any]) -> str:
    """One line for notifications: TM-score (with L), RMSD and both mean pLDDTs.

    >>> headline({"comparison": {"method": "fixed_correspondence", "complex": {"tm_score": 0.91,
    ...   "normalising_length": 195, "rmsd": 1.234}}, "engines": {"alphafold": {"engine":
    ...   "alphafold", "plddt": {"mean": 88.1}}, "openfold": {"engine": "openfold",
    ...   "plddt": {"mean": 86.4}}}})
    'TM-score 0.910 (L=195), CA RMSD 1.23 Å; mean pLDDT AlphaFold 88.1, OpenFold 86.4'
    """
    comparison = metrics["comparison"]
    if comparison.get("complex"):
        c = comparison["complex"]
        scores = f"TM-score {c['tm_score']:.3f} (L={c['normalising_length']}), CA RMSD {c['rmsd']:.2f} Å"
    else:
        t = comparison["tm_align"]
        scores = f"TM-align TM-score {t['tm_score']:.3f} (L={t['normalising_length']}), RMSD {t['rmsd']:.2f} Å"
    engines = metrics["engines"]
    plddts = ", ".join(
        f"{engine_label(slot, engines[slot]['engine'])} {engines[slot]['plddt']['mean']:.1f}"
        for slot in ("alphafold", "openfold")
    )
    return f"{scores}; mean pLDDT {plddts}"
