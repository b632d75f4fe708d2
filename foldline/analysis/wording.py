"""The one-line summary of an analysis, for notifications and logs.

Pure Python on the metrics dict (no numpy): a notify function can import it without the
numeric stack.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "headline", "engine_label", "engine_title", "weights_phrase", "weights_notes",
    "absent_phrase", "short_reason", "SLOT_TITLES",
]  # fmt: skip

SLOT_TITLES = {"alphafold": "AlphaFold", "openfold": "OpenFold", "msa": "MSA"}
#: a step manifest's weights kind -> whose weights, for people
WEIGHTS_TITLES = {
    "alphafold": "AlphaFold's params",
    "openfold": "OpenFold's checkpoint",
    "random": "random test weights",
    "none": "no weights",
}


def engine_label(slot: str, engine: str) -> str:
    """"AlphaFold" where AlphaFold ran; "template-cpu (AlphaFold slot)" where a stand-in did."""
    title = SLOT_TITLES.get(slot, slot)
    if engine == slot:
        return title
    return f"{engine} ({title} slot)"


def weights_phrase(section: dict[str, Any] | None) -> str:
    """Which weights made a slot's model: "OpenFold checkpoint finetuning_ptm_2.pt", "AlphaFold
    params model_1_ptm, run by OpenFold", ..., or "not recorded" (a model without a manifest,
    or from a step that predates the record).

    >>> weights_phrase({"weights": {"kind": "openfold", "name": "OpenFold checkpoint finetuning_5.pt"}})
    'OpenFold checkpoint finetuning_5.pt'
    >>> weights_phrase({"weights": {"kind": "random"}})
    'random test weights'
    >>> weights_phrase({"engine": "alphafold", "weights": None})
    'not recorded'
    """
    weights = (section or {}).get("weights")
    if not weights:
        return "not recorded"
    kind = weights.get("kind")
    return str(weights.get("name") or WEIGHTS_TITLES.get(kind) or kind or "not recorded")


def engine_title(slot: str, section: dict[str, Any]) -> str:
    """:func:`engine_label`, plus the weights where they change what the model is.

    "OpenFold running AlphaFold's params" where the OpenFold slot ran AlphaFold's weights
    (the comparison is then of two implementations of one set of weights), "AlphaFold with
    random test weights" for a model of random weights; else the engine label alone.

    >>> engine_title("openfold", {"engine": "openfold", "weights": {"kind": "alphafold"}})
    "OpenFold running AlphaFold's params"
    >>> engine_title("openfold", {"engine": "openfold", "weights": {"kind": "openfold"}})
    'OpenFold'
    """
    label = engine_label(slot, section.get("engine") or slot)
    kind = (section.get("weights") or {}).get("kind")
    if kind == "alphafold" and slot != "alphafold":
        return f"{label} running AlphaFold's params"
    if kind == "random":
        return f"{label} with random test weights"
    return label


def weights_notes(engines: dict[str, Any]) -> list[str]:
    """Plain sentences, for the report and the notice, where the weights change the meaning."""
    notes = []
    of = engines.get("openfold") or {}
    of_weights = of.get("weights") or {}
    if of_weights.get("kind") == "alphafold":
        files = ", ".join(of_weights.get("files") or []) or "AlphaFold's params"
        af = engines.get("alphafold") or {}
        both = af.get("engine") == "alphafold" and (af.get("weights") or {}).get(
            "kind") not in ("random", "none")  # AlphaFold with its own params
        notes.append(
            f"The OpenFold slot ran AlphaFold's params ({files}), not an OpenFold checkpoint"
            + (": both models come from AlphaFold's weights, so this compares two "
               "implementations of one set of weights, not two trained models." if both else ".")
        )  # fmt: skip
    for slot, section in engines.items():
        if section and (section.get("weights") or {}).get("kind") == "random":
            notes.append(f"The {SLOT_TITLES.get(slot, slot)} slot's model was made with random "
                         "test weights: its structure and confidence mean nothing.")  # fmt: skip
    return notes


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
            label = engine_title(slot, engine)
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
        f"{engine_title(slot, engines[slot])} {engines[slot]['plddt']['mean']:.1f}"
        for slot in ("alphafold", "openfold")
    )
    return f"{scores}; mean pLDDT {plddts}"
