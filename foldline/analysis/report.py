"""``report.html``: one self-contained page, rendered from a Jinja2 template.

Everything the page shows comes from ``metrics.json`` and the files written beside it:
plots are inlined as data URIs (and linked for download), the 3-D view is 3Dmol.js
(:mod:`foldline.analysis.viewer`) inlined with the models it draws, so the page opens
offline. The template (``templates/report.html.j2``) holds the markup; this module turns
the metrics into rows and phrases, and leaves escaping to Jinja2's autoescape.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from foldline.analysis.downloads import image_id, plan_downloads
from foldline.analysis.msa_source import describe as describe_msa_engine
from foldline.analysis.plots import ENGINE_COLOURS
from foldline.analysis.viewer import LIBRARY, library_script, viewer_model
from foldline.spec import layout

__all__ = ["parameter_rows", "render_report", "write_report"]

#: what a confidence column holds, for people
MEASURES = {
    "plddt": "pLDDT",
    "template-similarity": "alignment score to the template (CPU stand-in; not pLDDT)",
    "none": "none: the B-factors hold no pLDDT",
}
#: plot file key -> the caption and the section it belongs to
PLOT_TITLES = {
    "per_residue": "Per residue: pLDDT, deviation between the superposed models, MSA depth",
    "plddt": "pLDDT per residue",
    "msa_coverage": "MSA coverage",
}


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=PackageLoader("foldline.analysis", "templates"),
        autoescape=select_autoescape(["html", "j2"], default_for_string=True),
        undefined=StrictUndefined,  # a name the template expects and the code forgot fails
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = _num
    env.filters["tojson_script"] = _json_for_script
    return env


def _num(value: Any, digits: int = 3) -> str:
    """A number for a table cell: fixed digits for floats, "—" for nothing."""
    if value is None or isinstance(value, bool):
        return "—" if value is None else str(value)
    if isinstance(value, float):
        return f"{value:,.{digits}f}" if abs(value) >= 1000 else f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _json_for_script(value: Any) -> Any:
    """JSON for a ``<script type="application/json">`` element (no early ``</script>``)."""
    from markupsafe import Markup

    return Markup(json.dumps(value, separators=(",", ":")).replace("</", "<\\/"))


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def parameter_rows(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict as (name, text) rows: ``parameters.ModelPreset`` -> ``monomer_ptm``.

    >>> parameter_rows({"run_id": "r1", "parameters": {"DbPreset": "reduced_dbs", "Gpu": 1},
    ...                 "cache_hits": [], "x": None, "flag": True})
    [('run_id', 'r1'), ('parameters · DbPreset', 'reduced_dbs'), ('parameters · Gpu', '1'), ('cache_hits', 'none'), ('x', '—'), ('flag', 'yes')]
    """
    if isinstance(value, dict):
        rows = []
        for key, item in value.items():
            name = f"{prefix} · {key}" if prefix else str(key)
            if isinstance(item, dict) and item:
                rows += parameter_rows(item, name)
            else:
                rows += (
                    parameter_rows(item, name) if isinstance(item, dict) else [(name, _text(item))]
                )
        return rows
    return [(prefix, _text(value))]


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return "none" if not value else json.dumps(value, default=str)
    return _num(value)


def _engine_rows(metrics: dict) -> list[dict[str, Any]]:
    from foldline.analysis.wording import engine_title, stand_in_phrase, weights_phrase

    rows = []
    for slot in ("alphafold", "openfold"):
        e = metrics["engines"].get(slot)
        if not e:  # the slot left no model (skipped): said above the tables
            continue
        bands = e["plddt"]["bands"]
        kind = e["plddt"].get("kind", "plddt")
        rows.append(
            {
                "slot": slot,
                "title": engine_title(slot, e),
                "colour": ENGINE_COLOURS.get(slot),
                "version": e["engine_version"],
                "weights": weights_phrase(e),
                "source": e["engine_source"],
                "model_file": e["model_file"],
                "relaxation": {True: "relaxed", False: "unrelaxed"}.get(e["relaxed"], "not stated"),
                "measure": MEASURES.get(kind, "pLDDT"),
                "stand_in": stand_in_phrase(e) if e.get("stand_in") else None,
                "measure_short": {"plddt": "pLDDT", "template-similarity": "alignment score"}.get(
                    kind, "none"
                ),
                "mean": e["plddt"]["mean"],
                "bands": [
                    None if bands[k] is None else 100 * bands[k]
                    for k in ("very_high", "confident", "low", "very_low")
                ],
                "ptm": e["ptm"],
                "iptm": e["iptm"],
                "ranking_confidence": e["ranking_confidence"],
                "pae": e.get("pae"),
                "chain_pair_confidence": e.get("chain_pair_confidence"),
            }
        )
    return rows


def _score_rows(comparison: dict) -> list[dict[str, Any]]:
    entries = []
    if comparison["complex"] and len(comparison["per_chain"]) > 1:
        entries.append(("complex", comparison["complex"]))
    for chain in comparison["per_chain"]:
        entries.append(
            (f"chain {chain['reference_chains'][0]} ↔ {chain['mobile_chains'][0]}", chain)
        )
    return [{"label": label, **scores} for label, scores in entries]


def _chain_pair_tables(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per engine with per-chain-pair scores (metrics' ``chain_pair_confidence``): one row
    per chain or chain pair as the engine names them, pTM and ipTM."""
    tables = []
    for row in rows:
        pairs = row["chain_pair_confidence"]
        if not pairs:
            continue
        keys = list(dict.fromkeys([*pairs["ptm"], *pairs["iptm"]]))
        tables.append(
            {
                "title": row["title"],
                "source": pairs["source"],
                "method": pairs.get("method"),
                "rows": [(k, pairs["ptm"].get(k), pairs["iptm"].get(k)) for k in keys],
            }
        )
    return tables


def _runtime_rows(metrics: dict) -> list[dict[str, Any]]:
    rows = []
    for step, r in metrics["runtimes"]["steps"].items():
        rows.append(
            {
                "name": step,
                "source": r.get("status"),
                "start": r.get("started_at"),
                "end": r.get("ended_at"),
                "seconds": r.get("seconds"),
            }
        )
    for slot, timings in metrics["runtimes"]["engine_timings"].items():
        for name, seconds in timings.items():
            rows.append(
                {
                    "name": f"{slot}: {name}",
                    "source": "timings.json",
                    "start": None,
                    "end": None,
                    "seconds": seconds,
                }
            )
    return rows


def _absent_rows(metrics: dict) -> list[dict[str, Any]]:
    from foldline.analysis.wording import SLOT_TITLES, engine_label

    rows = []
    for slot, record in (metrics.get("absent_engines") or {}).items():
        version = record.get("engine_version")
        rows.append(
            {
                "label": engine_label(slot, record.get("engine") or slot)
                + (f" {version}" if version not in (None, "unknown") else ""),
                "verb": "was skipped" if record.get("status") == "skipped" else "left no model",
                "slot": SLOT_TITLES[slot],
                "status": record.get("status") or f"unknown, no {layout.STEP_MANIFEST}",
                "reason": record.get("reason"),
            }
        )
    return rows


def _size(size: int) -> str:
    """ "812 B", "41 kB", "3.2 MB" (decimal units, as browsers show downloads)."""
    if size < 1000:
        return f"{size} B"
    if size < 1_000_000:
        return f"{size / 1000:.0f} kB"
    return f"{size / 1_000_000:.1f} MB"


def _files(metrics: dict) -> list[dict[str, str]]:
    """The report folder's files, each with what it is, in the Files table's order."""
    files = metrics["files"]
    out = []
    for slot, name in files["models"].items():
        what = (
            "the reference, as predicted"
            if slot == "alphafold" or len(files["models"]) == 1
            else "superposed onto the reference"
        )
        out.append({"name": name, "what": f"{slot} model ({what})"})
    for key, name in files["plots"].items():
        title = PLOT_TITLES.get(key) or (
            "PAE heatmap, " + key.removeprefix("pae_") if key.startswith("pae_") else key
        )
        out.append({"name": name, "what": f"plot: {title}"})
    out.append(
        {
            "name": files["metrics"],
            "what": "every number on this page (JSON; docs/metrics-schema.md)",
        }
    )
    return out


def render_report(metrics: dict, out_dir: Path, models: list[dict[str, Any]]) -> str:
    """The page's HTML for ``metrics`` (plots and models are read from ``out_dir``).

    Parameters
    ----------
    models : list of dict
        What the 3-D view draws, in order: ``{"slot", "label", "file", "style"}`` with
        ``file`` in ``out_dir`` (see :func:`foldline.analysis.viewer.viewer_model`).
    """
    from foldline.analysis.wording import absent_phrase, engine_title, weights_notes

    context = metrics.get("context") or {}
    comparison = metrics.get("comparison")
    engines = metrics["engines"]
    title = context.get("target") or context.get("run_id") or "foldline analysis"
    names = {s: engine_title(s, e) for s, e in engines.items() if e}
    if comparison:
        heading = f"{names['alphafold']} vs {names['openfold']}"
    else:
        absent = [
            absent_phrase(s, r, why=False) for s, r in (metrics.get("absent_engines") or {}).items()
        ]
        heading = " and ".join(names.values()) + (f" alone, {', '.join(absent)}" if absent else "")
    said_first = weights_notes(engines)
    notes = (comparison["notes"] if comparison else []) + [
        w for w in metrics["warnings"] if w not in said_first
    ]
    plots = metrics["files"]["plots"]
    engine_rows = _engine_rows(metrics)
    viewer = [
        viewer_model(
            m["slot"],
            m["label"],
            out_dir / m["file"],
            ENGINE_COLOURS.get(m["slot"], "#555555"),
            (engines[m["slot"]]["plddt"].get("kind") or "plddt"),
            m["style"],
        )
        for m in models
    ]
    msa = metrics.get("msa")
    pae_keys = [k for k in plots if k.startswith("pae_")]
    files = _files(metrics)
    shown = {"per_residue", *pae_keys, *(["msa_coverage"] if msa else [])}
    downloads, payload = plan_downloads(out_dir, [f["name"] for f in files], plots, shown=shown)
    files = [
        {
            **f,
            "embedded": downloads[f["name"]].embedded if f["name"] in downloads else False,
            "size": _size(downloads[f["name"]].size) if f["name"] in downloads else "—",
        }
        for f in files
    ]
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            heading=heading,
            metrics=metrics,
            context=context,
            comparison=comparison,
            said_first=said_first,
            engine_rows=engine_rows,
            chain_pair_tables=_chain_pair_tables(engine_rows),
            names=names,
            score_rows=_score_rows(comparison) if comparison else [],
            absent_rows=_absent_rows(metrics),
            runtime_rows=_runtime_rows(metrics),
            parameter_rows=parameter_rows(context),
            files=files,
            downloads=payload,
            image_id=image_id,
            notes=notes,
            plot=lambda key: _data_uri(out_dir / plots[key]) if key in plots else None,
            plot_files=plots,
            pae_keys=pae_keys,
            msa=msa,
            msa_engine=describe_msa_engine(metrics.get("msa_engine")),
            viewer_models=viewer,
            viewer_library=LIBRARY,
            viewer_script=library_script(),
            engine_colours=ENGINE_COLOURS,
            report_prefix=layout.report_prefix(context["run_id"])
            if context.get("run_id")
            else None,
        )
    )
    return page


def write_report(metrics: dict, out_dir: Path, models: list[dict[str, Any]], path: Path) -> Path:
    """Write :func:`render_report`'s page to ``path``.

    With ``comparison`` null (one slot left no model) the page says which engine was
    skipped and why, and shows the other engine alone.
    """
    path.write_text(render_report(metrics, out_dir, models), encoding="utf-8")
    return path
