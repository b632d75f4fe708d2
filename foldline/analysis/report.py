"""``report.html``: one self-contained page (plots as data URIs, inline viewer, no network)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

from foldline.analysis.viewer import structure_payload, viewer_html
from foldline.spec.layout import STEP_MANIFEST

__all__ = ["write_report"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;
color:#1d2433;max-width:1100px}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.6em;
border-bottom:1px solid #dde;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #dde;padding:3px 6px;
text-align:left;font-size:.85em}th{background:#f3f5fa}td.num{text-align:right;
font-variant-numeric:tabular-nums}.headline{font-size:1.1em;background:#f3f5fa;padding:8px 12px;
border-left:4px solid #1f4e9c}.warn{color:#8a4b00}img{max-width:100%}
.viewer canvas{border:1px solid #dde;touch-action:none;max-width:100%}.band{display:inline-block;
width:12px;height:12px;margin:0 3px 0 8px;vertical-align:middle}.small{color:#667;font-size:.85em}
code{font-size:.9em}
"""


def _e(value: Any) -> str:
    return html.escape("—" if value is None else str(value))


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return _e(value)


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _td(value: Any, digits: int = 3) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<td class="num">{_num(value, digits)}</td>'
    return f"<td>{_e(value)}</td>"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _scores_rows(metrics: dict) -> list[list[str]]:
    comparison = metrics["comparison"]
    rows = []
    entries = []
    if comparison["complex"] and len(comparison["per_chain"]) > 1:
        entries.append(("complex", comparison["complex"]))
    for chain in comparison["per_chain"]:
        entries.append(
            (f"chain {chain['reference_chains'][0]} ↔ {chain['mobile_chains'][0]}", chain)
        )
    for label, s in entries:
        rows.append(
            [
                _td(label),
                _td(s["tm_score"], 4),
                _td(s["normalising_length"]),
                _td(s["rmsd"], 2),
                _td(s["gdt_ts"], 4),
                _td(s["gdt_ha"], 4),
                _td(s["ca_lddt"], 4),
                _td(s["n_aligned"]),
                _td(s["reference_residues_unaligned"]),
                _td(s["correspondence"]),
            ]
        )
    return rows


_MEASURES = {
    "plddt": "pLDDT",
    "template-similarity": "alignment score to the template (CPU stand-in; not pLDDT)",
    "none": "none: the B-factors hold no pLDDT",
}


def _engine_rows(metrics: dict) -> list[list[str]]:
    from foldline.analysis.wording import engine_title, stand_in_phrase, weights_phrase

    rows = []
    for slot in ("alphafold", "openfold"):
        e = metrics["engines"].get(slot)
        if not e:  # the slot left no model (skipped): said above the tables
            continue
        bands = e["plddt"]["bands"]
        rows.append(
            [
                _td(engine_title(slot, e)),
                _td(e["engine_version"]),
                _td(weights_phrase(e)),
                _td(e["engine_source"]),
                _td(e["model_file"]),
                _td({True: "relaxed", False: "unrelaxed"}.get(e["relaxed"], "unknown")),
                _td(
                    _MEASURES.get(e["plddt"].get("kind"), "pLDDT")
                    + (f"; {stand_in_phrase(e)}" if e.get("stand_in") else "")
                ),
                _td(e["plddt"]["mean"], 1),
                *[
                    _td(None if bands[k] is None else 100 * bands[k], 1)
                    for k in ("very_high", "confident", "low", "very_low")
                ],
                _td(e["ptm"]),
                _td(e["iptm"]),
                _td(e["ranking_confidence"], 2),
            ]
        )
    return rows


def _chain_pair_parts(metrics: dict) -> list[str]:
    """Per engine with them: pTM of each chain (diagonal), ipTM of each chain pair."""
    from foldline.analysis.wording import engine_title

    parts = []
    for slot, e in metrics["engines"].items():
        found = (e or {}).get("chain_pair_confidence")
        if not found:
            continue
        names = [c["name"] for c in found["chains"]]

        def cell(a: str, b: str, found: dict = found) -> str:
            if a == b:
                return _td(found["ptm"].get(a))
            return _td(found["iptm"].get(f"{a}-{b}", found["iptm"].get(f"{b}-{a}")))

        parts += [
            f"<h3>ipTM per chain pair, pTM per chain: {_e(engine_title(slot, e))}</h3>",
            _table(
                ["", *(f"{_e(n)} ({c['length']} aa)" for n, c in zip(names, found["chains"]))],
                [[_td(a), *(cell(a, b) for b in names)] for a in names],
            ),
            (
                f"<p class=\"small\">Diagonal: the chain's pTM; elsewhere: the pair's ipTM. "
                f"{_e(found['method'])}. From {_e(found['source'])}.</p>"
            ),
        ]
    return parts


def _runtime_rows(metrics: dict) -> list[list[str]]:
    rows = []
    for step, r in metrics["runtimes"]["steps"].items():
        rows.append(
            [
                _td(step),
                _td(r.get("status")),
                _td(r.get("started_at")),
                _td(r.get("ended_at")),
                _td(r.get("seconds"), 1),
            ]
        )
    for slot, timings in metrics["runtimes"]["engine_timings"].items():
        for name, seconds in timings.items():
            rows.append(
                [_td(f"{slot}: {name}"), _td("timings.json"), _td(None), _td(None), _td(seconds, 1)]
            )
    return rows


def _comparison_parts(metrics: dict, af: str, of: str) -> list[str]:
    """What was compared, and the scores."""
    comparison = metrics["comparison"]
    matching = comparison["chain_matching"]
    parts = ["<h2>What was compared</h2>"]
    if not comparison.get("engine_agreement", True):
        parts.append(
            f'<p class="warn"><b>Not an engine comparison: '
            f"{_e(comparison.get('engine_agreement_note'))}.</b></p>"
        )
    parts += [
        f"<p>{_e(comparison['pairing'])}.</p>",
        f"<p>{_e(comparison['tm_score_normalisation'])}. Chains mapped: {_e(matching['method'])}: "
        + (
            ", ".join(
                f"{_e(af)} {_e(p['alphafold'])} ↔ {_e(of)} {_e(p['openfold'])} ({p['length']} aa, "
                f"{_e(p['correspondence'])})"
                for p in matching["pairs"]
            )
            or "none"
        )
        + ".</p>",
    ]
    unmatched = [
        f"{_e(af)} {', '.join(matching['unmatched']['alphafold'])}"
        if matching["unmatched"]["alphafold"]
        else "",
        f"{_e(of)} {', '.join(matching['unmatched']['openfold'])}"
        if matching["unmatched"]["openfold"]
        else "",
    ]
    unmatched = [u for u in unmatched if u]
    if unmatched:
        parts.append(
            f'<p class="warn"><b>Chains without a partner: {"; ".join(unmatched)}</b> '
            "(see the notes below).</p>"
        )
    if comparison["complex"]:
        parts.append(
            _table(
                [
                    "",
                    "TM-score",
                    "L",
                    "CA RMSD (Å)",
                    "GDT_TS (TMscore)",
                    "GDT_HA (TMscore)",
                    "CA-lDDT",
                    "pairs",
                    "ref. residues without partner",
                    "residues paired by",
                ],
                _scores_rows(metrics),
            )
        )
        parts.append(
            f'<p class="small">GDT: {_e(comparison["gdt_method"])}. {_e(comparison["lddt_method"])}.</p>'
        )
    interfaces = comparison.get("interfaces")
    if interfaces:
        parts += [
            "<h2>Interfaces (DockQ)</h2>",
            _table(
                ["interface", "DockQ", "CAPRI class", "Fnat", "iRMSD (Å)", "LRMSD (Å)", "clashes"],
                [
                    [
                        _td(f"{af} {'-'.join(i['alphafold'])} ↔ {of} {'-'.join(i['openfold'])}"),
                        _td(i["dockq"], 3),
                        _td(i["capri_class"]),
                        _td(i["fnat"], 3),
                        _td(i["irmsd"], 2),
                        _td(i["lrmsd"], 2),
                        _td(i["clashes"]),
                    ]
                    for i in interfaces["items"]
                ],
            ),
            f'<p class="small">{_e(interfaces["method"])}.</p>',
            *(f'<p class="small">{_e(note)}.</p>' for note in interfaces.get("notes") or []),
        ]
    return parts


def _absent_parts(metrics: dict) -> list[str]:
    """No comparison: which engine left no model, and why, in the step's own words."""
    from foldline.analysis.wording import SLOT_TITLES, engine_label, engine_title

    ran = [engine_title(s, e) for s, e in metrics["engines"].items() if e]
    parts = ["<h2>No comparison</h2>"]
    for slot, record in (metrics.get("absent_engines") or {}).items():
        label = engine_label(slot, record.get("engine") or slot)
        verb = "was skipped" if record.get("status") == "skipped" else "left no model"
        version = record.get("engine_version")
        version = f" {version}" if version not in (None, "unknown") else ""
        status = record.get("status") or f"unknown, no {STEP_MANIFEST}"
        parts.append(
            f"<p><b>{_e(label)}{_e(version)} {verb}</b> (the {_e(SLOT_TITLES[slot])} slot's "
            f"step, status {_e(status)}): {_e(record.get('reason'))}.</p>"
        )
    parts.append(
        f"<p>This report shows {_e(' and '.join(ran))} alone: its confidence, plots and "
        "runtimes. There is no TM-score, RMSD, GDT or CA-lDDT between engines.</p>"
    )
    return parts


def write_report(metrics: dict, out_dir: Path, viewer_models: list[dict], path: Path) -> Path:
    """Write the HTML report for ``metrics`` (plots are read from ``out_dir``).

    With ``comparison`` null (one slot left no model) the page says which engine was
    skipped and why, and shows the other engine alone.
    """
    from foldline.analysis.wording import absent_phrase, engine_title, weights_notes

    context = metrics.get("context") or {}
    comparison = metrics.get("comparison")
    title = context.get("target") or context.get("run_id") or "foldline analysis"
    engines = metrics["engines"]
    if comparison:
        # the engines that really ran: "AlphaFold vs OpenFold" only where they did
        af, of = (engine_title(s, engines[s]) for s in ("alphafold", "openfold"))
        heading = f"{af} vs {of}"
    else:
        ran = [engine_title(s, e) for s, e in engines.items() if e]
        absent = [
            absent_phrase(s, r, why=False) for s, r in (metrics.get("absent_engines") or {}).items()
        ]
        heading = " and ".join(ran) + (f" alone, {', '.join(absent)}" if absent else "")
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        f"<title>{_e(title)} — {_e(heading)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}: {_e(heading)}</h1>",
        f'<p class="headline">{_e(metrics["headline"])}</p>',
    ]
    # where the weights change what the numbers mean, say so before any number
    said_first = weights_notes(engines)
    parts += [f'<p class="warn"><b>{_e(note)}</b></p>' for note in said_first]
    parts += _comparison_parts(metrics, af, of) if comparison else _absent_parts(metrics)
    shown = "both engines" if comparison else "the engine that ran"
    parts += [
        "<h2>Confidence</h2>",
        _table(
            [
                "engine",
                "version",
                "weights",
                "engine named by",
                "model",
                "relaxation",
                "confidence measure",
                "mean",
                "% &gt; 90",
                "% 70–90",
                "% 50–70",
                "% &lt; 50",
                "pTM",
                "ipTM",
                "ranking conf.",
            ],
            _engine_rows(metrics),
        ),
        *_chain_pair_parts(metrics),
        _image(out_dir / metrics["files"]["plots"]["plddt"], f"pLDDT per residue for {shown}"),
    ]
    for key, name in metrics["files"]["plots"].items():
        if key.startswith("pae_"):
            parts.append(_image(out_dir / name, f"predicted aligned error, {key[4:]}"))
    models = metrics["files"]["models"]
    if comparison:
        parts += [
            "<h2>3D: both models superposed</h2>",
            viewer_html(structure_payload(viewer_models)),
            (
                f'<p class="small">Files: {_e(models["alphafold"])} (as predicted), '
                f"{_e(models['openfold'])} (superposed onto it by the TM-score superposition).</p>"
            ),
        ]
    else:
        parts += [
            "<h2>3D: the model</h2>",
            viewer_html(structure_payload(viewer_models)),
            f'<p class="small">File: {_e(", ".join(models.values()))} (as predicted).</p>',
        ]
    runtime_rows = _runtime_rows(metrics)
    if runtime_rows:
        parts += [
            "<h2>Runtimes</h2>",
            _table(["step / stage", "status / source", "start", "end", "seconds"], runtime_rows),
        ]
    if context:
        parts += [
            "<h2>Run</h2>",
            _table(
                ["", ""],
                [
                    [_td(k), _td(v if not isinstance(v, (dict, list)) else _compact(v))]
                    for k, v in context.items()
                ],
            ),
        ]
    notes = (comparison["notes"] if comparison else []) + [
        w for w in metrics["warnings"] if w not in said_first
    ]
    if notes:
        parts += (
            ["<h2>Notes</h2><ul>"] + [f'<li class="warn">{_e(n)}</li>' for n in notes] + ["</ul>"]
        )
    method = (
        "TM-score as CASP's TMscore program computes it (residues paired by sequence, chains "
        "mapped as US-align's complex mode does, optimal superposition search), normalised by "
        "the reference; RMSD after least-squares superposition of all paired CAs; GDT_TS/HA "
        "from the same search (the TMscore program's GDT, not LGA's); CA-lDDT (CA atoms only, "
        "15 Å, biotite), not all-atom lDDT."
        if comparison
        else "pLDDT from the model's B-factor column (CA atoms)."
    )
    parts.append(
        f'<p class="small">metrics.json schema {_e(metrics["schema_version"])}, written '
        f"{_e(metrics['created_at'])}. {method}</p>"
    )
    parts.append("</body></html>")
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def _compact(value: Any) -> str:
    import json

    return json.dumps(value, separators=(", ", ": "), default=str)
