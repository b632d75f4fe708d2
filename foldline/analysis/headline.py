"""The one-line summary of an analysis, for notifications and logs.

Pure Python on the metrics dict (no numpy): a notify function can import it without the
numeric stack.
"""

from __future__ import annotations

from typing import Any

__all__ = ["headline", "engine_label", "absent_phrase", "short_reason", "SLOT_TITLES"]

SLOT_TITLES = {"alphafold": "AlphaFold", "openfold": "OpenFold", "msa": "MSA"}


def engine_label(slot: str, engine: str) -> str:
    """"AlphaFold" where AlphaFold ran; "template-cpu (AlphaFold slot)" where a stand-in did."""
    title = SLOT_TITLES.get(slot, slot)
    if engine == slot:
        return title
    return f"{engine} ({title} slot)"


def short_reason(reason: str, limit: int = 60) -> str:
    """A step's note cut to its first clause: "OpenFold 1.0.1 has no multimer model (…)…"
    -> "OpenFold 1.0.1 has no multimer model"."""
    cut = len(reason)
    for mark in (" (", ": ", "; ", ". "):
        at = reason.find(mark)
        if 0 < at < cut:
            cut = at
    text = reason[:cut].strip().rstrip(".")
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def absent_phrase(slot: str, record: dict[str, Any], *, why: bool = True) -> str:
    """"OpenFold skipped (OpenFold 1.0.1 has no multimer model)", "OpenFold left no model"."""
    label = engine_label(slot, record.get("engine") or slot)
    if record.get("status") == "skipped":
        reason = short_reason(str(record.get("reason") or "")) if why else ""
        return f"{label} skipped" + (f" ({reason})" if reason else "")
    return f"{label} left no model"


def headline(metrics: dict[str, Any]) -> str:
    """One line for notifications: TM-score (with L), RMSD and both mean pLDDTs.

    >>> headline({"comparison": {"method": "fixed_correspondence", "complex": {"tm_score": 0.91,
    ...   "normalising_length": 195, "rmsd": 1.234}}, "engines": {"alphafold": {"engine":
    ...   "alphafold", "plddt": {"mean": 88.1}}, "openfold": {"engine": "openfold",
    ...   "plddt": {"mean": 86.4}}}})
    'TM-score 0.910 (L=195), CA RMSD 1.23 Å; mean pLDDT AlphaFold 88.1, OpenFold 86.4'

    Where one slot left no model there is no comparison: the line says which engine
    was skipped and why, and gives the other's confidence.

    >>> headline({"comparison": None, "absent_engines": {"openfold": {"engine": "openfold",
    ...   "status": "skipped", "reason": "OpenFold 1.0.1 has no multimer model (...)"}},
    ...   "engines": {"alphafold": {"engine": "alphafold", "plddt": {"mean": 78.06},
    ...   "iptm": 0.81}, "openfold": None}})
    'OpenFold skipped (OpenFold 1.0.1 has no multimer model); mean pLDDT AlphaFold 78.1, ipTM 0.81'
    """
    engines = metrics["engines"]
    comparison = metrics.get("comparison")
    if not comparison:
        absent = metrics.get("absent_engines") or {}
        said = "; ".join(absent_phrase(slot, record) for slot, record in absent.items())
        parts = []
        for slot in ("alphafold", "openfold"):
            engine = engines.get(slot)
            if not engine:
                continue
            label = engine_label(slot, engine["engine"])
            line = f"mean pLDDT {label} {engine['plddt']['mean']:.1f}"
            for name, key in (("ipTM", "iptm"), ("pTM", "ptm")):
                if engine.get(key) is not None:
                    line += f", {name} {engine[key]:.2f}"
                    break
            parts.append(line)
        return "; ".join([said or "no comparison", *parts])
    if comparison.get("complex"):
        c = comparison["complex"]
        scores = f"TM-score {c['tm_score']:.3f} (L={c['normalising_length']}), CA RMSD {c['rmsd']:.2f} Å"
    else:
        t = comparison["tm_align"]
        scores = f"TM-align TM-score {t['tm_score']:.3f} (L={t['normalising_length']}), RMSD {t['rmsd']:.2f} Å"
    plddts = ", ".join(
        f"{engine_label(slot, engines[slot]['engine'])} {engines[slot]['plddt']['mean']:.1f}"
        for slot in ("alphafold", "openfold")
    )
    return f"{scores}; mean pLDDT {plddts}"
