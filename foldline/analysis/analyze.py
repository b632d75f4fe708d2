"""Compare AlphaFold's and OpenFold's predictions of one target and write the report.

``analyze`` is the plain function behind the analysis Lambda and ``foldline analyze``:
given the two engines' outputs (folders as the steps leave them, or single model files)
it picks like with like, scores, reads confidences and runtimes, and writes
``metrics.json``, the plots, ``report.html`` and the two compared models into
``out_dir``. No AWS in here: the caller fetches and uploads.

Where one slot's step left no model (OpenFold 1.0.1 skips multimers: its
``foldline-step.json`` says ``skipped``), the report covers the engine that ran: its
confidence, plots and runtimes, ``comparison`` null and ``comparison_skipped`` saying
why. Neither slot with a model is an error.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from foldline.analysis.agreement import GDT_METHOD, Comparison, compare_models
from foldline.analysis.chain_confidence import bin_centres, chain_pair_confidence
from foldline.analysis.confidence import pae_summary, plddt_summary
from foldline.analysis.engine_outputs import (
    EngineOutput,
    ModelFile,
    NoModel,
    Pairing,
    pick_best,
    pick_like_with_like,
    read_engine_output,
)
from foldline.analysis.interfaces import interfaces_section
from foldline.analysis.msa_depth import ChainMsa
from foldline.analysis.msa_source import msa_engine
from foldline.analysis.pickles import confidence_from_result, load_numpy_pickle
from foldline.analysis.schema import SCHEMA_VERSION
from foldline.analysis.structures import StructureModel, load_structure
from foldline.analysis.superpose import Superposition
from foldline.analysis.wording import (
    STAND_IN,
    engine_agreement,
    engine_label,
    engine_title,
    headline,
    stand_in_warnings,
    weights_notes,
)
from foldline.spec.formats import utc_now
from foldline.spec.layout import METRICS_FILE, REPORT_PAGE, STEP_MANIFEST

__all__ = ["METRICS_FILE", "REPORT_PAGE", "analyze", "engine_label", "headline"]

PLDDT_PLOT = "plddt.png"
PER_RESIDUE_PLOT = "per_residue.png"
MSA_COVERAGE_PLOT = "msa_coverage.png"
STEP_NAMES = {"msa": "RunMSA", "alphafold": "RunAlphaFold", "openfold": "RunOpenFold"}
SLOTS = ("alphafold", "openfold")


def _engine_identity(output: EngineOutput, model: StructureModel) -> tuple[str, str | None, str]:
    """(engine, version, how we know), preferring the step manifest."""
    manifest = output.manifest or {}
    if manifest.get("engine"):
        return str(manifest["engine"]), manifest.get("engine_version"), STEP_MANIFEST
    if model.engine_remark:
        return model.engine_remark, None, "model file REMARK"
    if output.layout in ("alphafold", "openfold"):
        return output.layout, None, f"{output.layout} output layout (no foldline-step.json)"
    return "unknown", None, "no manifest, no engine named in the model file"


#: a stand-in copies a template's coordinates: no weights, whether its manifest says so or not
_STAND_IN_WEIGHTS = {
    "kind": "none",
    "name": "none (template-cpu: no model weights)",
    "source": None,
    "files": [],
}


def _weights(output: EngineOutput, engine: str) -> dict[str, Any] | None:
    """The weights the step's manifest records for the model (``foldline-step.json``), or
    None where it records none (a manifest of an older step, or no manifest)."""
    recorded = (output.manifest or {}).get("weights")
    if isinstance(recorded, dict) and recorded.get("kind"):
        return {
            "kind": str(recorded["kind"]),
            "name": recorded.get("name"),
            "source": recorded.get("source"),
            "files": list(recorded.get("files") or []),
        }
    if engine == "template-cpu":
        return dict(_STAND_IN_WEIGHTS)
    return None  # the report says "not recorded"


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root if root.is_dir() else root.parent))
    except ValueError:
        return path.name


def _engine_section(
    output: EngineOutput, chosen: ModelFile, model: StructureModel, warnings: list[str]
) -> tuple[dict[str, Any], np.ndarray | None]:
    engine, version, source = _engine_identity(output, model)
    plddt = model.plddt
    stand_in = (output.manifest or {}).get("stand_in") if engine == STAND_IN else None
    kind, plddt_source = "plddt", "B-factor column (CA atoms)"
    if model.plddt_scale == "none":
        kind, plddt_source = "none", f"none: {model.plddt_note}"
    elif engine == STAND_IN:
        kind = "template-similarity"
        plddt_source = (
            "B-factor column: the CPU stand-in's alignment-similarity score (0-100) "
            "to its template, not pLDDT"
        )
    section: dict[str, Any] = {
        "engine": engine,
        "engine_version": version,
        "engine_source": source,
        "weights": _weights(output, engine),
        "output": str(output.root),
        "layout": output.layout,
        "model_file": _relative(chosen.path, output.root),
        "model_name": chosen.name,
        "relaxed": chosen.relaxed,
        "chains": [
            {"name": c.name, "length": len(c), "sequence": c.sequence} for c in model.chains
        ],
        "n_residues": model.n_residues,
        "stand_in": stand_in,
        "plddt": {
            "source": plddt_source,
            "kind": kind,
            "scale": model.plddt_scale,
            **plddt_summary(plddt),
            "per_residue": [None if not np.isfinite(v) else v for v in np.round(plddt, 2).tolist()],
        },
        "ptm": None,
        "iptm": None,
        "chain_pair_confidence": None,
        "ranking_confidence": chosen.ranking_confidence,
        "pae": None,
        "result_pickle": None,
    }
    pae = None
    if chosen.result_pickle is not None:
        section["result_pickle"] = _relative(chosen.result_pickle, output.root)
        try:
            raw = load_numpy_pickle(chosen.result_pickle)
        except Exception as err:  # noqa: BLE001 - a bad pickle costs the PAE, not the report
            warnings.append(f"{output.slot}: could not read {chosen.result_pickle.name}: {err}")
            raw = None
        if isinstance(raw, dict):
            conf = confidence_from_result(raw)
            section["ptm"], section["iptm"] = conf["ptm"], conf["iptm"]
            if section["ranking_confidence"] is None:
                section["ranking_confidence"] = conf["ranking_confidence"]
            n = model.n_residues
            if conf["plddt"] is not None and len(conf["plddt"]) != n:
                warnings.append(
                    f"{output.slot}: pLDDT in {chosen.result_pickle.name} has {len(conf['plddt'])} "
                    f"values for {n} residues"
                )
            if conf["pae"] is not None:
                if conf["pae"].shape == (n, n):
                    pae = conf["pae"]
                    section["pae"] = {"source": chosen.result_pickle.name, **pae_summary(pae)}
                else:
                    warnings.append(
                        f"{output.slot}: PAE in {chosen.result_pickle.name} has shape "
                        f"{conf['pae'].shape}, not ({n}, {n}); not shown"
                    )
            if len(model.chains) > 1:
                section["chain_pair_confidence"] = _chain_pair_section(
                    output, chosen, model, raw, warnings
                )
    if model.plddt_scale == "0-1":
        warnings.append(f"{output.slot}: B-factors are on a 0-1 scale; pLDDT rescaled to 0-100")
    if model.plddt_scale == "none":
        warnings.append(f"{output.slot}: no pLDDT: {model.plddt_note}")
    warnings.extend(f"{output.slot}: {w}" for w in model.warnings)
    if stand_in:
        warnings.extend(f"{output.slot}: {w}" for w in stand_in_warnings(stand_in))
    return section, pae


def _chain_of_each_residue(
    output: EngineOutput, model: StructureModel, warnings: list[str]
) -> tuple[np.ndarray, str]:
    """(chain index per residue, where it came from): the data pipeline's ``asym_id``
    (AlphaFold-Multimer's ``features.pkl``) where it is there, else the model's chains in
    file order (AlphaFold writes chain k of the model from asym_id k + 1)."""
    lengths = [len(c) for c in model.chains]
    from_model = np.repeat(np.arange(len(lengths)), lengths)
    features = output.root / "features.pkl" if output.root.is_dir() else None
    if features is None or not features.is_file():
        return from_model, "chains: the model's, in file order"
    try:
        asym_id = np.asarray(load_numpy_pickle(features).get("asym_id"))
    except Exception as err:  # noqa: BLE001 - unreadable features cost the cross-check only
        warnings.append(f"{output.slot}: could not read features.pkl: {err}")
        return from_model, "chains: the model's, in file order"
    if asym_id.ndim != 1 or len(asym_id) != len(from_model):
        return from_model, "chains: the model's, in file order"
    firsts = list(dict.fromkeys(asym_id.tolist()))
    counts = [int((asym_id == a).sum()) for a in firsts]
    starts = np.cumsum([0, *counts[:-1]])
    contiguous = all(len(set(asym_id[s : s + n].tolist())) == 1 for s, n in zip(starts, counts))
    if counts != lengths or not contiguous:
        raise ValueError(
            f"features.pkl's asym_id gives chains of {counts} residues, the model's "
            f"chains have {lengths}"
        )
    return asym_id, "chains: features.pkl asym_id"


def _chain_pair_section(
    output: EngineOutput, chosen: ModelFile, model: StructureModel, raw: dict, warnings: list[str]
) -> dict[str, Any] | None:
    """pTM per chain and ipTM per chain pair, where the result pickle has the aligned-error
    bins (AlphaFold-Multimer's ``aligned_confidence_probs``); else None."""
    name, n = chosen.result_pickle.name, model.n_residues
    probs = raw.get("aligned_confidence_probs")
    max_error = raw.get("max_predicted_aligned_error")
    if not isinstance(probs, np.ndarray) or max_error is None:
        return None
    if probs.ndim != 3 or probs.shape[:2] != (n, n):
        warnings.append(
            f"{output.slot}: aligned_confidence_probs in {name} has shape "
            f"{probs.shape}, not ({n}, {n}, bins); no per-chain pTM/ipTM"
        )
        return None
    centres = bin_centres(probs.shape[2], float(np.asarray(max_error)))
    pae = raw.get("predicted_aligned_error")
    if (
        isinstance(pae, np.ndarray)
        and pae.shape == (n, n)
        and not np.allclose(probs @ centres.astype(probs.dtype), pae, atol=0.1)
    ):
        warnings.append(
            f"{output.slot}: {name}'s aligned_confidence_probs do not give its "
            "predicted_aligned_error with AlphaFold's bins; no per-chain pTM/ipTM"
        )
        return None
    try:
        asym_id, chains_from = _chain_of_each_residue(output, model, warnings)
    except ValueError as err:
        warnings.append(f"{output.slot}: {err}; no per-chain pTM/ipTM")
        return None
    result = chain_pair_confidence(probs, centres, asym_id, [c.name for c in model.chains])
    return result.as_dict(
        f"{name} (aligned_confidence_probs, max_predicted_aligned_error); {chains_from}"
    )


def _runtimes(outputs: dict[str, EngineOutput]) -> dict[str, Any]:
    steps, timings = {}, {}
    for slot, output in outputs.items():
        runtime = output.step_runtime()
        if runtime is not None:
            steps[runtime.get("step") or STEP_NAMES[slot]] = runtime
        if output.timings:
            timings[slot] = output.timings
    return {"steps": steps, "engine_timings": timings}


def _write_superposed(model: StructureModel, sup: Superposition, out: Path) -> Path:
    """Write the whole model (all atoms) moved by ``sup``, in the input's format."""
    import gemmi

    structure = gemmi.read_structure(str(model.path))
    # ours moves row vectors (x @ R + t); gemmi moves column vectors (M x + t)
    transform = gemmi.Transform(gemmi.Mat33(sup.rotation.T.tolist()), gemmi.Vec3(*sup.translation))
    for frame in structure:  # gemmi's models (NMR-style frames); a prediction has one
        frame.transform_pos_and_adp(transform)
    if out.suffix == ".cif":
        structure.make_mmcif_document().write_file(str(out))
    else:
        structure.write_pdb(str(out))
    return out


def _model_copy_name(slot: str, path: Path, suffix: str = "") -> str:
    name = path.name.removesuffix(".gz")
    stem, ext = name.rsplit(".", 1) if "." in name else (name, "pdb")
    ext = "cif" if ext in ("cif", "mmcif") else "pdb"
    return f"{slot}_{stem}{suffix}.{ext}"


def _comparison_section(
    comparison: Comparison,
    pairing: Pairing,
    af: Path,
    of: Path,
    engines: dict[str, Any],
    interfaces: dict[str, Any] | None,
) -> dict[str, Any]:
    matching = comparison.matching
    pairs = [
        {
            "alphafold": p.reference.name,
            "openfold": p.mobile.name,
            "length": len(p.reference),
            "openfold_length": len(p.mobile),
            "correspondence": p.alignment.method,
            "sequence_identity": round(p.alignment.identity, 4),
            "n_aligned": len(p.alignment),
        }
        for p in matching.pairs
    ]
    length = matching.reference_length
    normalisation = (
        f"TM-score normalised by the AlphaFold slot's model (the reference): L = {length} residues"
        + (f" (d0 = {comparison.complex.scores.d0:.2f} Å)" if comparison.complex else "")
        + "; residues paired by sequence (identical sequences: residue i with residue i), "
        "every reference residue without a partner scoring zero"
    )
    agreement, agreement_note = engine_agreement(engines)
    return {
        "method": "correspondence",
        "reference": "alphafold",
        "superposed": "openfold",
        "relaxation": pairing.relaxation,
        "models_compared": {"alphafold": str(af), "openfold": str(of)},
        "pairing": pairing.explanation,
        "chain_matching": {
            "method": matching.method,
            "pairs": pairs,
            "unmatched": {
                "alphafold": list(matching.unmatched_reference),
                "openfold": list(matching.unmatched_mobile),
            },
        },
        "complex": comparison.complex.as_dict() if comparison.complex else None,
        "per_chain": [p.as_dict() for p in comparison.per_chain],
        "tm_score_normalisation": normalisation,
        "gdt_method": GDT_METHOD,
        "lddt_method": "CA-lDDT: lDDT over CA atoms only (inclusion radius 15 Å, biotite), not all-atom lDDT",
        "engine_agreement": agreement,
        "engine_agreement_note": agreement_note,
        "interfaces": interfaces,
        "notes": list(comparison.notes),
    }


def _interfaces(
    comparison: Comparison, models: dict[str, StructureModel], warnings: list[str]
) -> dict[str, Any] | None:
    """DockQ per chain-pair interface of a complex (None for fewer than two mapped chains);
    a failure costs the interfaces only, with a warning."""
    chain_map = {p.reference.name: p.mobile.name for p in comparison.matching.pairs}
    try:
        return interfaces_section(models["alphafold"], models["openfold"], chain_map)
    except Exception as err:  # noqa: BLE001 - DockQ's failure must not cost the report
        warnings.append(f"DockQ could not score the interfaces: {type(err).__name__}: {err}")
        return None


def _plddt_series(comparison: Comparison, ref: StructureModel, mob: StructureModel):
    """Both engines' pLDDT in the reference's residue order (NaN where the other model
    has no partner residue, or no pLDDT)."""
    af, of, breaks, start = [], [], [], 0
    by_name = {p.reference.name: p for p in comparison.matching.pairs}
    for chain in ref.chains:
        af.append(ref.chain_plddt(chain))
        values = np.full(len(chain), np.nan)
        pair = by_name.get(chain.name)
        if pair is not None:
            values[pair.alignment.reference_index] = mob.chain_plddt(pair.mobile)[
                pair.alignment.mobile_index
            ]
        of.append(values)
        breaks.append((start, chain.name))
        start += len(chain)
    return {"alphafold": np.concatenate(af), "openfold": np.concatenate(of)}, breaks


def _deviation_series(comparison: Comparison, ref: StructureModel) -> np.ndarray:
    """Per reference residue, the CA distance (Å) to its partner in the other model after
    the comparison's superposition; NaN where the residue has no partner."""
    by_name = {p.reference.name: p for p in comparison.matching.pairs}
    out = []
    for chain in ref.chains:
        values = np.full(len(chain), np.nan)
        pair = by_name.get(chain.name)
        if pair is not None:
            moved = comparison.superposition.apply(pair.mobile_ca)
            values[pair.alignment.reference_index] = np.linalg.norm(
                moved - pair.reference_ca, axis=1
            )
        out.append(values)
    return np.concatenate(out)


def _msa_on_reference(chains: list[ChainMsa], model: StructureModel) -> np.ndarray | None:
    """MSA depth per residue of ``model`` (its chains in file order): each chain takes the
    depth of the MSA chain of the same name and sequence, else of the first unused one of
    the same sequence; NaN where no MSA matches. None where no chain has one."""
    unused = list(chains)
    out, found = [], False
    for chain in model.chains:
        match = next(
            (c for c in unused if c.name == chain.name and c.query == chain.sequence), None
        )
        match = match or next((c for c in unused if c.query == chain.sequence), None)
        values = np.full(len(chain), np.nan)
        if match is not None:
            unused.remove(match)
            values[:] = match.depth
            found = True
        out.append(values)
    return np.concatenate(out) if found else None


def _rounded(values: np.ndarray, digits: int) -> list[float | None]:
    return [None if not np.isfinite(v) else v for v in np.round(values, digits).tolist()]


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def analyze(
    alphafold: Path,
    openfold: Path,
    out_dir: Path,
    *,
    context: dict | None = None,
    msa: Path | None = None,
) -> dict:
    """Compare the two engines' predictions and write the report into ``out_dir``.

    Parameters
    ----------
    alphafold, openfold : Path
        Each engine's output folder (the step's unpacked model dir) or one model file
        (PDB or mmCIF).
    out_dir : Path
        Created if missing; receives ``metrics.json``, ``report.html``, the PNG plots
        and the two compared models (OpenFold's superposed onto AlphaFold's), or the
        one model where only one engine left one.
    context : dict, optional
        Shown in the report and stored in ``metrics.json`` as given: run id, target,
        pipeline parameters, MSA information ("MSA reused from run X"), cost estimate...
    msa : Path, optional
        The MSA step's output folder, for its runtime (``foldline-step.json``,
        ``timings.json``).

    Returns
    -------
    dict
        The metrics, as written to ``metrics.json`` (schema: docs/metrics-schema.md).

    Raises
    ------
    FileNotFoundError
        Where neither output holds a model (:class:`~foldline.analysis.engine_outputs.NoModel`
        for one slot is not an error: the report covers the other).
    """
    from foldline.analysis import plots, report  # matplotlib: imported only when reporting
    from foldline.analysis.msa_depth import MSA_DEPTH_METHOD, read_msa_depth

    out_dir = Path(out_dir)
    outputs: dict[str, EngineOutput] = {}
    absent: dict[str, NoModel] = {}
    for slot, path in (("alphafold", alphafold), ("openfold", openfold)):
        try:
            outputs[slot] = read_engine_output(path, slot)
        except NoModel as none:  # skipped (OpenFold on a multimer) or left nothing
            absent[slot] = none
    if not outputs:
        raise FileNotFoundError(
            "neither engine left a model: "
            + "; ".join(f"{slot}: {none}" for slot, none in absent.items())
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    warnings: list[str] = []
    cache: dict[Path, StructureModel] = {}

    def load(path: Path) -> StructureModel:
        if path not in cache:
            cache[path] = load_structure(path)
        return cache[path]

    def mean_plddt(m: ModelFile) -> float:
        values = load(m.path).plddt  # NaN where a file holds no pLDDT
        return float(np.nanmean(values)) if np.isfinite(values).any() else 0.0

    comparison: Comparison | None = None
    if absent:  # one engine: its own best model, nothing to compare it with
        (slot,) = outputs
        chosen = {slot: pick_best(outputs[slot], mean_plddt)}
    else:
        pairing = pick_like_with_like(
            outputs["alphafold"], outputs["openfold"], mean_plddt=mean_plddt
        )
        chosen = {"alphafold": pairing.alphafold, "openfold": pairing.openfold}
    models = {slot: load(m.path) for slot, m in chosen.items()}
    if not absent:
        comparison = compare_models(models["alphafold"], models["openfold"])

    engines: dict[str, Any] = {slot: None for slot in SLOTS}
    paes = {}
    for slot, m in chosen.items():
        engines[slot], paes[slot] = _engine_section(outputs[slot], m, models[slot], warnings)
    absent_engines = {slot: _absent_section(none) for slot, none in absent.items()}
    all_outputs = {**outputs, **{slot: none.output for slot, none in absent.items()}}
    all_outputs = {slot: all_outputs[slot] for slot in SLOTS}  # step order in the runtimes
    msa_chains: list[ChainMsa] = []
    if msa is not None:
        try:
            all_outputs["msa"] = _msa_output(Path(msa))
        except FileNotFoundError as err:
            warnings.append(f"msa: {err}")
        else:
            msa_chains = read_msa_depth(Path(msa), warnings)
    for slot, record in absent_engines.items():
        if record["status"] != "skipped":
            warnings.append(
                f"{slot}: the step left no model (status {record['status'] or 'unknown'}): "
                f"{record['reason']}"
            )
    for output in all_outputs.values():
        warnings.extend(f"{output.slot}: {w}" for w in output.warnings)
    warnings[:0] = weights_notes(engines)  # said first: they change what the comparison means

    # files
    model_files: dict[str, str] = {}
    if comparison is not None:
        ref, mob = models["alphafold"], models["openfold"]
        model_files = {
            "alphafold": _model_copy_name("alphafold", ref.path),
            "openfold": _model_copy_name("openfold", mob.path, "_superposed"),
        }
        _copy_model(ref, out_dir / model_files["alphafold"])
        _write_superposed(mob, comparison.superposition, out_dir / model_files["openfold"])
        series, breaks = _plddt_series(comparison, ref, mob)
        deviation = _deviation_series(comparison, ref)
        reference = ref
    else:
        (slot,) = models
        model_files = {slot: _model_copy_name(slot, models[slot].path)}
        _copy_model(models[slot], out_dir / model_files[slot])
        series, breaks = {slot: models[slot].plddt}, _chain_starts(models[slot])
        deviation, reference = None, models[slot]
    depth = _msa_on_reference(msa_chains, reference) if msa_chains else None
    # legends name the engines; which file each model is, the report's tables say
    labels = {s: engine_title(s, engines[s]) for s in series}
    plot_files = {"plddt": plots.plot_plddt(series, labels, breaks, out_dir / PLDDT_PLOT).name}
    kinds = {(engines[s]["plddt"].get("kind") or "plddt") for s in series}
    plot_files["per_residue"] = plots.plot_per_residue(
        series,
        labels,
        breaks,
        out_dir / PER_RESIDUE_PLOT,
        deviation=deviation,
        msa_depth=depth,
        plddt_axis_label="pLDDT" if kinds == {"plddt"} else "pLDDT / B-factor score",
    ).name
    if msa_chains:
        plot_files["msa_coverage"] = plots.plot_msa_coverage(
            msa_chains, out_dir / MSA_COVERAGE_PLOT
        ).name
    for slot, pae in paes.items():
        if pae is not None:
            own_breaks = _chain_starts(models[slot])
            title = f"PAE — {engine_title(slot, engines[slot])}"
            plot_files[f"pae_{slot}"] = plots.plot_pae(
                pae, title, out_dir / f"pae_{slot}.png", own_breaks
            ).name

    metrics: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created_at": utc_now(),
        "context": _json_safe(context or {}),
        "headline": "",
        "engines": engines,
        "comparison": None
        if comparison is None
        else {
            **_comparison_section(
                comparison,
                pairing,
                pairing.alphafold.path,
                pairing.openfold.path,
                engines,
                _interfaces(comparison, models, warnings),
            ),
            "per_residue_deviation": {
                "unit": "Å",
                "method": "CA distance between paired residues after the TM-score superposition, "
                "in the reference's residue order; null where a residue has no partner",
                "values": _rounded(deviation, 2),
            },
        },
        "comparison_skipped": _comparison_skipped(absent_engines),
        "absent_engines": absent_engines,
        "runtimes": _runtimes(all_outputs),
        "files": {
            "metrics": METRICS_FILE,
            "report": REPORT_PAGE,
            "plots": plot_files,
            "models": model_files,
        },
        "msa_engine": msa_engine(all_outputs["msa"].manifest if "msa" in all_outputs else None),
        "msa": None
        if not msa_chains
        else {
            "method": MSA_DEPTH_METHOD,
            "chains": [c.as_dict() for c in msa_chains],
        },
        "warnings": warnings,
    }
    metrics["headline"] = headline(metrics)

    # the 3-D view draws the files written above: the reference as a cartoon, the model
    # superposed onto it as a thin tube
    viewer_models = [
        {
            "slot": slot,
            "label": engine_title(slot, engines[slot]),
            "file": model_files[slot],
            "style": "trace" if slot == "openfold" and comparison is not None else "cartoon",
        }
        for slot in model_files
    ]
    (out_dir / METRICS_FILE).write_text(json.dumps(metrics, indent=1) + "\n")
    report.write_report(metrics, out_dir, viewer_models, out_dir / REPORT_PAGE)
    return metrics


def _absent_section(none: NoModel) -> dict[str, Any]:
    """A slot whose step left no model: which engine, what its manifest said, and why."""
    manifest = none.output.manifest or {}
    return {
        "engine": manifest.get("engine"),
        "engine_version": manifest.get("engine_version"),
        "status": manifest.get("status"),
        "output": str(none.output.root),
        "reason": none.reason(),
    }


def _comparison_skipped(absent_engines: dict[str, dict[str, Any]]) -> str | None:
    """ "OpenFold skipped: <the step's note>" for each slot without a model; None if none."""
    if not absent_engines:
        return None
    parts = []
    for slot, record in absent_engines.items():
        label = engine_label(slot, record["engine"] or slot)
        verb = "skipped" if record["status"] == "skipped" else "left no model"
        parts.append(f"{label} {verb}: {record['reason']}")
    return "; ".join(parts)


def _copy_model(model: StructureModel, out: Path) -> None:
    if model.path.name.endswith(".gz"):
        _write_superposed(model, Superposition.identity(), out)
    else:
        shutil.copyfile(model.path, out)


def _chain_starts(model: StructureModel) -> list[tuple[int, str]]:
    """(first residue index, chain name) per chain, in file order."""
    starts = np.concatenate([[0], np.cumsum([len(c) for c in model.chains])[:-1]])
    return [(int(i), c.name) for i, c in zip(starts, model.chains)]


def _msa_output(path: Path) -> EngineOutput:
    """The MSA step's folder: only its manifest and timings matter here."""
    from foldline.analysis.engine_outputs import _read_json

    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a folder")
    warnings: list[str] = []
    return EngineOutput(
        "msa",
        path,
        "file",
        [],
        _read_json(path / STEP_MANIFEST, warnings),
        _read_json(path / "timings.json", warnings),
        None,
        warnings,
    )
