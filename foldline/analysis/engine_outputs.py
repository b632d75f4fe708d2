"""Find the models, confidences, timings and engine identity in an engine's output.

Layouts read (the step programs write them; docs/output.md lists them):

* AlphaFold: ``ranked_0.pdb`` ..., ``relaxed_<model>.pdb``/``unrelaxed_<model>.pdb``,
  ``ranking_debug.json`` (``plddts`` or ``iptm+ptm``, and ``order``),
  ``result_<model>.pkl``, ``timings.json``.
* OpenFold: ``predictions/<tag>_<preset>_{relaxed,unrelaxed}.pdb``, optional
  ``predictions/<tag>_<preset>_output_dict.pkl``, ``timings.json``.
* One model file (PDB or mmCIF) for people who bring their own predictions.

``foldline-step.json`` (the step manifest), when present, names the engine that really
ran — "alphafold", "openfold" or the CPU stand-in "template-cpu" — and its version;
without one the engine comes from the model file's REMARKs, and failing that from the
layout, and the report says which source it used.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foldline.analysis.structures import MODEL_SUFFIXES
from foldline.spec.layout import STEP_MANIFEST

__all__ = [
    "EngineOutput",
    "ModelFile",
    "NoModel",
    "Pairing",
    "pick_best",
    "pick_like_with_like",
    "read_engine_output",
]

# <tag>_<config preset>_<kind>: presets are "model_1", "model_1_ptm", "model_1_multimer_v3",
# "seq_model_esm1b_ptm" ...; anything else (the stand-in's "template-cpu") has no "_"
_OPENFOLD_NAME = re.compile(
    r"^(?P<tag>.+?)_(?P<preset>(?:seq_)?model_[A-Za-z0-9][A-Za-z0-9_]*?|[A-Za-z0-9.-]+)"
    r"_(?P<kind>relaxed|unrelaxed)\.(?:pdb|cif)$"
)


@dataclass(frozen=True)
class ModelFile:
    """One candidate model and what is known about it."""

    path: Path
    name: str  # model name: "model_1_pred_0" (AlphaFold), the config preset (OpenFold), or stem
    relaxed: bool | None  # None where the file does not say
    rank: int | None = None  # AlphaFold's rank (ranked_<i>)
    result_pickle: Path | None = None  # the raw outputs with pLDDT/PAE, if any
    ranking_confidence: float | None = None


@dataclass
class EngineOutput:
    """What one engine left: candidate models, manifest, timings, ranking."""

    slot: str  # "alphafold" or "openfold": the pipeline slot the output came from
    root: Path
    layout: str  # "alphafold", "openfold" or "file"
    models: list[ModelFile]
    manifest: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    ranking: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> str | None:
        """The step's status as its manifest says: "succeeded", "skipped", ... (None: no manifest)."""
        return (self.manifest or {}).get("status")

    @property
    def multimer(self) -> bool | None:
        if self.ranking is not None:
            return "iptm+ptm" in self.ranking
        return None

    def step_runtime(self) -> dict[str, Any] | None:
        """Start, end and seconds of the step, from the manifest."""
        if not self.manifest:
            return None
        start = self.manifest.get("started_at")
        end = self.manifest.get("ended_at")
        seconds = None
        try:
            if start and end:
                seconds = (
                    _dt.datetime.fromisoformat(end) - _dt.datetime.fromisoformat(start)
                ).total_seconds()
        except ValueError:
            self.warnings.append(
                f"unreadable start/end times in {STEP_MANIFEST}: {start!r}, {end!r}"
            )
        return {
            "step": self.manifest.get("step"),
            "status": self.manifest.get("status"),
            "started_at": start,
            "ended_at": end,
            "seconds": seconds,
        }


def _read_json(path: Path, warnings: list[str]) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        warnings.append(f"could not read {path.name}: {err}")
        return None
    return value if isinstance(value, dict) else None


def _is_model_file(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(MODEL_SUFFIXES)


def _first_existing(folder: Path, stems: list[str]) -> Path | None:
    for stem in stems:
        for suffix in (".pdb", ".cif"):
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _alphafold_models(root: Path, ranking: dict | None) -> list[ModelFile]:
    order: list[str] = list(ranking.get("order", [])) if ranking else []
    confidences = {}
    if ranking:
        confidences = ranking.get("iptm+ptm") or ranking.get("plddts") or {}
    models: list[ModelFile] = []
    rank = 0
    while True:
        ranked = _first_existing(root, [f"ranked_{rank}"])
        if ranked is None:
            break
        name = order[rank] if rank < len(order) else f"ranked_{rank}"
        relaxed: bool | None = None
        if rank < len(order):
            # AlphaFold writes ranked_i from the relaxed model where it relaxed that one
            relaxed = _first_existing(root, [f"relaxed_{name}"]) is not None
        pickle = root / f"result_{name}.pkl"
        models.append(
            ModelFile(
                path=ranked,
                name=name,
                relaxed=relaxed,
                rank=rank,
                result_pickle=pickle if pickle.is_file() else None,
                ranking_confidence=confidences.get(name),
            )
        )
        rank += 1
    return models


def _openfold_models(root: Path) -> list[ModelFile]:
    folder = root / "predictions" if (root / "predictions").is_dir() else root
    models = []
    for path in sorted(folder.iterdir()):
        match = _OPENFOLD_NAME.match(path.name)
        if not match or not path.is_file():
            continue
        stem = f"{match['tag']}_{match['preset']}"
        pickle = folder / f"{stem}_output_dict.pkl"
        models.append(
            ModelFile(
                path=path,
                name=match["preset"],
                relaxed=match["kind"] == "relaxed",
                result_pickle=pickle if pickle.is_file() else None,
            )
        )
    return models


class NoModel(FileNotFoundError):
    """An engine's output folder holds no model: the step skipped (OpenFold 1.0.1 on a
    multimer) or left none. ``output`` is what the folder does hold (manifest, timings),
    with no models, so a one-engine report can still say why and how long the step took.
    """

    def __init__(self, message: str, output: EngineOutput):
        super().__init__(message)
        self.output = output

    @property
    def skipped(self) -> bool:
        return self.output.status == "skipped"

    def reason(self) -> str:
        """Why there is no model, in the step's own words where its manifest has them."""
        manifest = self.output.manifest or {}
        said = [str(n) for n in manifest.get("notes") or [] if n]
        if manifest.get("failure"):
            said.insert(0, str(manifest["failure"]))
        if said:
            return "; ".join(said)
        if self.skipped:
            return f"the step's {STEP_MANIFEST} says skipped, with no note"
        return str(self)


def read_engine_output(path: Path | str, slot: str) -> EngineOutput:
    """Survey an engine's output folder, or wrap a single model file.

    Parameters
    ----------
    path : Path
        The step's model dir (unpacked model.tar.gz), an OpenFold ``predictions/``
        folder, or one PDB/mmCIF model file.
    slot : str
        "alphafold" or "openfold": which pipeline slot this output came from.

    Raises
    ------
    NoModel
        If the folder holds no model (a FileNotFoundError; it carries the manifest).
    FileNotFoundError
        If ``path`` is neither a model file nor a folder.
    """
    root = Path(path)
    warnings: list[str] = []
    if _is_model_file(root):
        manifest = _read_json(root.parent / STEP_MANIFEST, warnings)
        name = root.name.split(".")[0]
        relaxed = True if "_relaxed" in name else False if "unrelaxed" in name else None
        return EngineOutput(
            slot, root, "file", [ModelFile(root, name, relaxed)], manifest, None, None, warnings
        )
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is neither a model file nor a folder")

    manifest = _read_json(root / STEP_MANIFEST, warnings)
    timings = _read_json(root / "timings.json", warnings)
    ranking = _read_json(root / "ranking_debug.json", warnings)
    if _first_existing(root, ["ranked_0"]) is not None:
        models, layout = _alphafold_models(root, ranking), "alphafold"
    else:
        models, layout = _openfold_models(root), "openfold"
        if not models:
            models = [
                ModelFile(p, p.name.split(".")[0], None)
                for p in sorted(root.iterdir())
                if _is_model_file(p)
            ]
            layout = "file"
    output = EngineOutput(slot, root, layout, models, manifest, timings, ranking, warnings)
    if not models:
        said = " (its foldline-step.json says skipped)" if output.status == "skipped" else ""
        raise NoModel(
            f"no model in {root}{said}: expected ranked_0.pdb (AlphaFold), "
            "predictions/<tag>_<preset>_{relaxed,unrelaxed}.pdb (OpenFold) or a PDB/mmCIF file",
            output,
        )
    return output


@dataclass(frozen=True)
class Pairing:
    """Which two models are compared, and why."""

    alphafold: ModelFile
    openfold: ModelFile
    relaxation: str  # "relaxed", "unrelaxed" or "as found"
    explanation: str


def _unrelaxed_twin(output: EngineOutput, model: ModelFile) -> ModelFile | None:
    """The unrelaxed file of the same prediction, if the output has it."""
    if output.layout == "alphafold":
        twin = _first_existing(output.root, [f"unrelaxed_{model.name}"])
        if twin is None:
            return None
        return ModelFile(
            twin, model.name, False, model.rank, model.result_pickle, model.ranking_confidence
        )
    for m in output.models:
        if m.name == model.name and m.relaxed is False:
            return m
    return None


def _openfold_best(
    output: EngineOutput, relaxed: bool | None, multimer: bool | None, mean_plddt
) -> ModelFile:
    """OpenFold's best model of the wanted relaxation, same preset family as AlphaFold's."""
    candidates = [m for m in output.models if relaxed is None or m.relaxed is relaxed]
    if multimer is not None:
        family = [m for m in candidates if ("multimer" in m.name) == multimer]
        candidates = family or candidates
    if len(candidates) == 1:
        return candidates[0]
    # AlphaFold's own criterion: ranking confidence where known, else mean pLDDT
    return max(
        candidates,
        key=lambda m: m.ranking_confidence if m.ranking_confidence is not None else mean_plddt(m),
    )


def pick_best(output: EngineOutput, mean_plddt) -> ModelFile:
    """One engine's own best model, for a report with nothing to compare it with.

    AlphaFold's ``ranked_0`` (as AlphaFold ranked it, relaxed or not); otherwise the best
    relaxed model, or the best of all where none is relaxed (ranking confidence where
    known, else mean pLDDT).
    """
    ranked = [m for m in output.models if m.rank is not None]
    if ranked:
        return min(ranked, key=lambda m: m.rank)
    relaxed = True if any(m.relaxed is True for m in output.models) else None
    return _openfold_best(output, relaxed, output.multimer, mean_plddt)


def pick_like_with_like(alphafold: EngineOutput, openfold: EngineOutput, mean_plddt) -> Pairing:
    """AlphaFold's ``ranked_0`` against OpenFold's best model, both relaxed or both not.

    Relaxed models are compared when both engines relaxed their chosen prediction;
    otherwise the unrelaxed files of both (relaxation moves side chains and CAs by a
    fraction of an Å, and comparing a relaxed model with an unrelaxed one would mix
    that into the engines' difference).

    Parameters
    ----------
    mean_plddt : callable
        ``ModelFile -> float``, used to rank OpenFold models that carry no ranking.
    """
    af_top = min(alphafold.models, key=lambda m: m.rank if m.rank is not None else 0)
    af_label = "ranked_0" if af_top.rank == 0 else af_top.path.name
    of_relaxed = [m for m in openfold.models if m.relaxed is True]
    multimer = alphafold.multimer

    if af_top.relaxed is True and of_relaxed:
        of = _openfold_best(openfold, True, multimer, mean_plddt)
        return Pairing(
            af_top,
            of,
            "relaxed",
            f"both relaxed: the AlphaFold slot's {af_label} "
            f"({af_top.name}) and the OpenFold slot's best relaxed model "
            f"({of.path.name})",
        )
    of_unrelaxed = [m for m in openfold.models if m.relaxed is False]
    af_unrelaxed = af_top if af_top.relaxed is False else _unrelaxed_twin(alphafold, af_top)
    if af_unrelaxed is not None and of_unrelaxed:
        of = _openfold_best(openfold, False, multimer, mean_plddt)
        why = (
            "the AlphaFold slot's top model is not relaxed"
            if af_top.relaxed is False
            else ("the OpenFold slot has no relaxed model")
        )
        same = (
            ""
            if af_unrelaxed.path.name == af_top.path.name
            else (f" (the unrelaxed {af_label} prediction, {af_top.name})")
        )
        return Pairing(
            af_unrelaxed,
            of,
            "unrelaxed",
            f"both unrelaxed ({why}): the AlphaFold "
            f"slot's {af_unrelaxed.path.name}{same} and the OpenFold slot's best "
            f"unrelaxed model ({of.path.name})",
        )
    of = _openfold_best(openfold, None, multimer, mean_plddt)
    return Pairing(
        af_top,
        of,
        "as found",
        f"relaxation could not be matched: the AlphaFold "
        f"slot's {af_top.path.name} ({_relaxation_word(af_top.relaxed)}) against the "
        f"OpenFold slot's {of.path.name} ({_relaxation_word(of.relaxed)})",
    )


def _relaxation_word(relaxed: bool | None) -> str:
    return {True: "relaxed", False: "unrelaxed"}.get(relaxed, "relaxation not stated")
