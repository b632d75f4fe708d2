"""The one-line summary of an analysis, for notifications and logs.

Pure Python on the metrics dict (no numpy): a notify function can import it without the
numeric stack.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "SLOT_TITLES",
    "STAND_IN",
    "absent_phrase",
    "confidence_phrase",
    "engine_agreement",
    "engine_label",
    "engine_title",
    "headline",
    "short_reason",
    "stand_in_phrase",
    "stand_in_warnings",
    "weights_notes",
    "weights_phrase",
]

#: the CPU stand-in's engine name (foldline.steps.common.STAND_IN)
STAND_IN = "template-cpu"

SLOT_TITLES = {"alphafold": "AlphaFold", "openfold": "OpenFold", "msa": "MSA"}
#: a step manifest's weights kind -> whose weights, for people
WEIGHTS_TITLES = {
    "alphafold": "AlphaFold's params",
    "openfold": "OpenFold's checkpoint",
    "random": "random test weights",
    "none": "no weights",
}


def engine_label(slot: str, engine: str) -> str:
    """ "AlphaFold" where AlphaFold ran; "template-cpu (AlphaFold slot)" where a stand-in did."""
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
        both = af.get("engine") == "alphafold" and (af.get("weights") or {}).get("kind") not in (
            "random",
            "none",
        )  # AlphaFold with its own params
        notes.append(
            f"The OpenFold slot ran AlphaFold's params ({files}), not an OpenFold checkpoint"
            + (
                ": both models come from AlphaFold's weights, so this compares two "
                "implementations of one set of weights, not two trained models."
                if both
                else "."
            )
        )
    for slot, section in engines.items():
        if section and (section.get("weights") or {}).get("kind") == "random":
            notes.append(
                f"The {SLOT_TITLES.get(slot, slot)} slot's model was made with random "
                "test weights: its structure and confidence mean nothing."
            )
    return notes


def stand_in_warnings(record: dict[str, Any]) -> list[str]:
    """What the CPU stand-in's record says people must know: no template, low coverage."""
    if record.get("no_template"):
        return [
            (
                "the CPU stand-in found no template: its model is a placeholder (a straight CA "
                "trace), not a prediction"
            )
        ]
    if record.get("low_coverage"):
        return [
            (
                f"the CPU stand-in's template {record.get('template')} covers only "
                f"{100 * float(record.get('coverage') or 0):.0f}% of the query: low coverage, the "
                "rest of the model is an interpolated CA trace"
            )
        ]
    return []


def stand_in_phrase(section: dict[str, Any]) -> str:
    """ "template 6kwc_A (62% identical, 98% coverage)", "no template found", ..."""
    record = section.get("stand_in") or {}
    if not record:
        return "template not recorded"
    if record.get("no_template"):
        return "no template found (placeholder model, not a prediction)"
    text = (
        f"template {record.get('template')} ({100 * float(record.get('identity') or 0):.0f}% "
        f"identical, {100 * float(record.get('coverage') or 0):.0f}% coverage"
    )
    return text + (", low coverage)" if record.get("low_coverage") else ")")


def engine_agreement(engines: dict[str, Any]) -> tuple[bool, str | None]:
    """Whether a TM-score between the two slots measures two engines agreeing.

    Not where either slot ran the CPU stand-in: its models copy template coordinates, so
    two stand-in models compare two alignments to templates (often the same one).
    """
    stand_ins = [
        s for s in ("alphafold", "openfold") if (engines.get(s) or {}).get("engine") == STAND_IN
    ]
    if not stand_ins:
        return True, None
    if len(stand_ins) == 2:
        templates = {(engines[s].get("stand_in") or {}).get("template") for s in stand_ins}
        if templates == {"none"}:
            return False, (
                "both slots ran the CPU stand-in and found no template: the two "
                "placeholder models are the same straight trace, so their scores mean nothing"
            )
        same = len(templates) == 1 and None not in templates
        return False, (
            "both slots ran the CPU stand-in (template-based models; neither engine "
            "ran)"
            + (f", built on the same template {templates.pop()}" if same else "")
            + ": their TM-score compares two template alignments, not two engines"
        )
    return False, (
        f"the {SLOT_TITLES[stand_ins[0]]} slot ran the CPU stand-in: the TM-score compares "
        "a template-based model, not two engines"
    )


def confidence_phrase(slot: str, section: dict[str, Any]) -> str:
    """ "mean pLDDT AlphaFold 88.1", "mean alignment score template-cpu (AlphaFold slot) 95.0",
    "no pLDDT OpenFold" ..."""
    plddt = section.get("plddt") or {}
    label = engine_title(slot, section)
    kind = plddt.get("kind", "plddt")
    if plddt.get("mean") is None or kind == "none":
        return f"no pLDDT {label}"
    name = "mean alignment score" if kind == "template-similarity" else "mean pLDDT"
    return f"{name} {label} {plddt['mean']:.1f}"


def _both_confidences(engines: dict[str, Any]) -> str:
    """ "mean pLDDT AlphaFold 88.1, OpenFold 86.4"; the measure named once where both share it."""
    phrases = [confidence_phrase(s, engines[s]) for s in ("alphafold", "openfold")]
    kinds = [
        (engines[s].get("plddt") or {}).get("kind", "plddt") for s in ("alphafold", "openfold")
    ]
    if kinds[0] == kinds[1] != "none" and all(" " in p for p in phrases):
        name = "mean alignment score" if kinds[0] == "template-similarity" else "mean pLDDT"
        if all(p.startswith(name + " ") for p in phrases):
            return phrases[0] + ", " + phrases[1][len(name) + 1 :]
    return ", ".join(phrases)


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
    """ "OpenFold skipped (OpenFold 1.0.1 has no multimer model)", "OpenFold left no model"."""
    label = engine_label(slot, record.get("engine") or slot)
    if record.get("status") == "skipped":
        reason = short_reason(str(record.get("reason") or "")) if why else ""
        return f"{label} skipped" + (f" ({reason})" if reason else "")
    return f"{label} left no model"


def headline(metrics: dict[str, Any]) -> str:
    """One line for notifications: TM-score (with L), RMSD and both mean pLDDTs.

    >>> headline({"comparison": {"method": "correspondence", "complex": {"tm_score": 0.91,
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
            line = confidence_phrase(slot, engine)
            for name, key in (("ipTM", "iptm"), ("pTM", "ptm")):
                if engine.get(key) is not None:
                    line += f", {name} {engine[key]:.2f}"
                    break
            if engine.get("engine") == STAND_IN:
                line += f" ({stand_in_phrase(engine)})"
            parts.append(line)
        return "; ".join([said or "no comparison", *parts])
    c = comparison.get("complex")
    if c:
        scores = (
            f"TM-score {c['tm_score']:.3f} (L={c['normalising_length']}), CA RMSD {c['rmsd']:.2f} Å"
        )
    else:
        scores = "no chain pair could be aligned"
    confidences = _both_confidences(engines)
    if comparison.get("engine_agreement", True):
        return f"{scores}; {confidences}"
    # a stand-in ran: say what it is first, and that the agreement is not the engines'
    stand_in = next(
        engines[s] for s in ("alphafold", "openfold") if engines[s].get("engine") == STAND_IN
    )
    return (
        f"CPU stand-in, not an engine comparison: {stand_in_phrase(stand_in)}; "
        f"model-to-model {scores} (not an engine agreement); {confidences}"
    )
