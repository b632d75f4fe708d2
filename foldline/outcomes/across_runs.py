"""AlphaFold against OpenFold across runs: one table, one plot, one Experiments record.

Each run's analysis wrote ``runs/<run_id>/report/metrics.json`` (schema:
:mod:`foldline.analysis.schema`). This module reads those dicts — nothing here calls AWS
except through the tracker passed in — and does for any number of runs what the
reference's comparison notebook did by hand for three: per run, the agreement of the two
models (TM-score, RMSD, GDT_TS as the TMscore program computes it, CA-lDDT), each engine's confidence (mean pLDDT, pTM) and
each step's runtime, side by side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foldline.analysis.wording import SLOT_TITLES, absent_phrase, engine_title
from foldline.outcomes.tracking import RunTracker, TrackedRun, TrackedRunRef
from foldline.spec.formats import number
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP

__all__ = [
    "COLUMNS",
    "RunMetrics",
    "UnreadableMetrics",
    "comparison_id",
    "log_comparison",
    "no_comparison_note",
    "plot_comparison",
    "rows",
    "run_metrics",
    "tracked_comparison",
]

SLOTS = ("alphafold", "openfold")
SUPPORTED_MAJOR = "2"
#: older reports this reader still reads (1.x: ``lddt`` for ``ca_lddt``, TM-align for
#: differing sequences)
READABLE_MAJORS = ("1", "2")
COMPARISON_TARGET = "comparisons"  # Experiments: experiment "foldline-comparisons"


class UnreadableMetrics(ValueError):
    """A metrics.json this reader cannot use (another schema major version, missing parts)."""


@dataclass(frozen=True)
class RunMetrics:
    """The numbers of one run that the comparison shows."""

    run_id: str
    target: str
    method: str  # "correspondence" (2.x), or 1.x's "fixed_correspondence" / "tm_align"
    tm_score: float | None
    rmsd: float | None
    gdt_ts: float | None
    ca_lddt: float | None
    n_residues: int | None
    engines: dict[str, str]  # slot -> "AlphaFold" / "template-cpu (AlphaFold slot)" ...
    plddt: dict[str, float | None]  # slot -> mean pLDDT
    ptm: dict[str, float | None]  # slot -> pTM (None where the model has no PAE head)
    runtimes_s: dict[str, float] = field(default_factory=dict)  # step name -> seconds
    #: why there is no comparison (one slot left no model: OpenFold skips multimers)
    comparison_skipped: str | None = None
    #: False where the TM-score is not two engines agreeing (the CPU stand-in ran)
    engine_agreement: bool = True


def run_metrics(run_id: str, metrics: dict[str, Any], target: str | None = None) -> RunMetrics:
    """One run's comparison numbers from its metrics.json."""
    version = str(metrics.get("schema_version", ""))
    if version.split(".")[0] not in READABLE_MAJORS:
        raise UnreadableMetrics(
            f"run {run_id}: metrics.json schema {version or '?'}; "
            f"this foldline reads {', '.join(m + '.x' for m in READABLE_MAJORS)}"
        )
    try:
        compared = metrics["comparison"] is not None  # null: one slot left no model
        comparison = metrics["comparison"] or {}
        engines = metrics["engines"]
        whole = comparison.get("complex") or comparison.get("tm_align") or {}
        absent = metrics.get("absent_engines") or {}
        labels = {
            s: engine_title(s, engines[s])
            if engines[s]
            else absent_phrase(s, absent.get(s) or {"engine": s}, why=False)
            for s in SLOTS
        }
        present = [engines[s] for s in SLOTS if engines[s]]
    except (KeyError, TypeError, AttributeError) as err:
        raise UnreadableMetrics(f"run {run_id}: metrics.json lacks {err}") from None
    runtimes = {}
    for step, record in ((metrics.get("runtimes") or {}).get("steps") or {}).items():
        seconds = number((record or {}).get("seconds"))
        if seconds is not None:
            runtimes[step] = seconds
    context = metrics.get("context") or {}
    return RunMetrics(
        run_id=run_id,
        target=target or str(context.get("target") or run_id),
        method=str(comparison.get("method") or ("?" if compared else "none")),
        tm_score=number(whole.get("tm_score")),
        rmsd=number(whole.get("rmsd")),
        gdt_ts=number(whole.get("gdt_ts")),
        ca_lddt=number(whole.get("ca_lddt", whole.get("lddt"))),
        n_residues=present[0].get("n_residues") if present else None,
        engines=labels,
        plddt={s: number(((engines[s] or {}).get("plddt") or {}).get("mean")) for s in SLOTS},
        ptm={s: number((engines[s] or {}).get("ptm")) for s in SLOTS},
        runtimes_s=runtimes,
        comparison_skipped=None
        if compared
        else str(metrics.get("comparison_skipped") or "no comparison"),
        engine_agreement=bool(comparison.get("engine_agreement", True)),
    )


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f}"


#: the table's columns: (heading, cell of one run)
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("Run id", lambda r: r.run_id),
    ("Target", lambda r: r.target),
    ("Residues", lambda r: "-" if r.n_residues is None else str(r.n_residues)),
    (
        "TM-score",
        lambda r: (
            _fmt(r.tm_score, 3)
            + {"tm_align": "*", "none": "†"}.get(r.method, "")
            + ("" if r.engine_agreement else "‡")
        ),
    ),
    ("RMSD Å", lambda r: _fmt(r.rmsd, 2)),
    ("GDT_TS", lambda r: _fmt(r.gdt_ts, 3)),
    ("CA-lDDT", lambda r: _fmt(r.ca_lddt, 3)),
    ("pLDDT AF", lambda r: _fmt(r.plddt["alphafold"], 1)),
    ("pLDDT OF", lambda r: _fmt(r.plddt["openfold"], 1)),
    ("pTM AF", lambda r: _fmt(r.ptm["alphafold"], 3)),
    ("pTM OF", lambda r: _fmt(r.ptm["openfold"], 3)),
    ("MSA min", lambda r: _minutes(r.runtimes_s.get(MSA_STEP.name))),
    ("AF min", lambda r: _minutes(r.runtimes_s.get(ALPHAFOLD_STEP.name))),
    ("OF min", lambda r: _minutes(r.runtimes_s.get(OPENFOLD_STEP.name))),
)


TM_ALIGN_NOTE = (
    "* TM-align (a metrics.json of schema 1.x): the two models' sequences differ; "
    "TM-score normalised by the OpenFold slot's model"
)
STAND_IN_NOTE = (
    "‡ not an engine comparison: the CPU stand-in made a model (template-based); its "
    "TM-score compares template alignments. GDT_TS is the TMscore program's; CA-lDDT "
    "is lDDT over CA atoms only"
)


def no_comparison_note(runs: Sequence[RunMetrics]) -> str | None:
    """ "† no comparison: <run>: OpenFold skipped: ..." for runs where one slot left no
    model (their agreement cells are empty; their one engine's confidence is shown)."""
    skipped = [r for r in runs if r.method == "none"]
    if not skipped:
        return None
    return "† no comparison (one engine left no model): " + "; ".join(
        f"{r.run_id}: {r.comparison_skipped}" for r in skipped
    )


def rows(runs: Sequence[RunMetrics]) -> list[list[str]]:
    """The table's cells, one list per run (headings: :data:`COLUMNS`)."""
    return [[cell(run) for _, cell in COLUMNS] for run in runs]


def shown_columns(runs: Sequence[RunMetrics]) -> tuple[list[str], list[list[str]]]:
    """Headings and cells without the columns no run has a value for (pTM of models
    without a PAE head, runtimes of reports made outside the pipeline)."""
    cells = rows(runs)
    keep = [
        i for i, (name, _) in enumerate(COLUMNS) if i < 2 or any(row[i] != "-" for row in cells)
    ]
    return [COLUMNS[i][0] for i in keep], [[row[i] for i in keep] for row in cells]


def engines_note(runs: Sequence[RunMetrics]) -> str:
    """Which engine filled each slot, when a stand-in or another engine did."""
    seen = {f"{run.engines['alphafold']} / {run.engines['openfold']}" for run in runs}
    return "engines (AF slot / OF slot): " + "; ".join(sorted(seen))


def comparison_id(run_ids: Sequence[str]) -> str:
    """The same runs (in any order) give the same id: a re-run updates one record."""
    digest = hashlib.sha256("\0".join(sorted(run_ids)).encode()).hexdigest()[:16]
    return f"compare-{len(run_ids)}-runs-{digest}"


def _versus(runs: Sequence[RunMetrics]) -> str:
    """ "AlphaFold vs OpenFold" only where those engines made every run's models; else the
    slots (a stand-in such as template-cpu is never presented as AlphaFold)."""
    compared = [r for r in runs if r.method != "none"]  # runs without a comparison add nothing
    real = bool(compared) and all(
        r.engines.get(s) == SLOT_TITLES[s] for r in compared for s in SLOTS
    )
    return "AlphaFold vs OpenFold" if real else "AlphaFold slot vs OpenFold slot"


def plot_comparison(runs: Sequence[RunMetrics], path: Path) -> Path:
    """One figure, three panels per run: agreement, each engine's pLDDT, step runtimes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = [f"{r.target}\n{r.run_id[-8:]}" for r in runs]
    x = np.arange(len(runs))
    width = min(0.8 / 3, 0.25)
    fig, axes = plt.subplots(
        3, 1, figsize=(max(6.0, 1.1 * len(runs) + 3), 9), sharex=True, constrained_layout=True
    )
    agreement, confidence, runtime = axes

    def nan(value: float | None) -> float:
        return np.nan if value is None else value

    for i, (name, values) in enumerate(
        (
            ("TM-score", [nan(r.tm_score) for r in runs]),
            ("GDT_TS", [nan(r.gdt_ts) for r in runs]),
            ("CA-lDDT", [nan(r.ca_lddt) for r in runs]),
        )
    ):
        agreement.bar(x + (i - 1) * width, values, width, label=name)
    agreement.set_ylim(0, 1.05)
    agreement.set_ylabel(_versus(runs))
    agreement.legend(loc="lower right", ncols=3, fontsize="small")

    for i, slot in enumerate(SLOTS):
        confidence.bar(
            x + (i - 0.5) * width,
            [nan(r.plddt[slot]) for r in runs],
            width,
            label=f"mean pLDDT {slot}",
        )
    confidence.set_ylim(0, 100)
    confidence.set_ylabel("mean pLDDT")
    confidence.legend(loc="lower right", ncols=2, fontsize="small")

    for i, step in enumerate((MSA_STEP.name, ALPHAFOLD_STEP.name, OPENFOLD_STEP.name)):
        minutes = [
            nan(r.runtimes_s.get(step)) / 60 if r.runtimes_s.get(step) is not None else np.nan
            for r in runs
        ]
        runtime.bar(x + (i - 1) * width, minutes, width, label=step)
    runtime.set_ylabel("runtime (min)")
    runtime.legend(loc="upper right", ncols=3, fontsize="small")
    runtime.set_xticks(x, labels, fontsize="small")
    fig.suptitle(f"{_versus(runs)} across {len(runs)} run{'s' if len(runs) != 1 else ''}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def tracked_comparison(runs: Sequence[RunMetrics], artifacts: dict[str, str]) -> TrackedRun:
    """The comparison as one Experiments record: each run's metrics under ``<metric>/<run id>``,
    the spread over runs (mean, min, max) under plain names, the run ids as parameters."""
    ident = comparison_id([r.run_id for r in runs])
    metrics: dict[str, float] = {}
    series: dict[str, list[float]] = {}
    for run in runs:
        values = {
            "tm_score": run.tm_score,
            "rmsd": run.rmsd,
            "gdt_ts": run.gdt_ts,
            "ca_lddt": run.ca_lddt,
            "plddt_mean_alphafold": run.plddt["alphafold"],
            "plddt_mean_openfold": run.plddt["openfold"],
        }
        for name, value in values.items():
            if value is None:
                continue
            metrics[f"{name}/{run.run_id}"] = value
            series.setdefault(name, []).append(value)
    for name, values in series.items():
        metrics[f"{name}_mean"] = sum(values) / len(values)
        metrics[f"{name}_min"] = min(values)
        metrics[f"{name}_max"] = max(values)
    parameters: dict[str, str | int | float] = {"runs": len(runs)}
    for i, run in enumerate(runs, 1):
        parameters[f"run_{i:02d}"] = run.run_id
        parameters[f"run_{i:02d}_target"] = run.target
        parameters[f"run_{i:02d}_engines"] = (
            f"{run.engines['alphafold']} / {run.engines['openfold']}"
        )
    return TrackedRun(
        target=COMPARISON_TARGET,
        run_id=ident,
        execution_arn=f"foldline compare {ident}",
        parameters=parameters,
        metrics=metrics,
        artifacts=dict(artifacts),
    )


def log_comparison(
    tracker: RunTracker, runs: Sequence[RunMetrics], artifacts: dict[str, str]
) -> TrackedRunRef:
    return tracker.log_run(tracked_comparison(runs, artifacts))
