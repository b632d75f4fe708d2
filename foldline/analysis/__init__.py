"""7. The science: compare AlphaFold's and OpenFold's predictions of one target; write metrics and a report.

Public API (no AWS in here; the analysis Lambda and ``foldline analyze`` call these):

- :func:`analyze` — ``analyze(alphafold, openfold, out_dir, *, context=None, msa=None) -> dict``
  writes ``metrics.json``, ``report.html``, PNG plots and both compared models.
- :func:`headline` — one line (TM-score, RMSD, mean pLDDTs) from the metrics, for
  notifications; :func:`engine_label` names a slot's engine truthfully. Both live in
  :mod:`foldline.analysis.wording`, which is pure Python.
- :func:`compare_models`, :func:`load_structure`, :func:`score_fixed_correspondence`,
  :func:`tm_align` — the pieces, for other callers and tests.

Schema of ``metrics.json``: :data:`METRICS_SCHEMA` (version :data:`SCHEMA_VERSION`),
documented in docs/metrics-schema.md. Importing this package imports numpy and gemmi;
matplotlib and biotite are imported only when a report or an lDDT is computed.
"""

from foldline.analysis.agreement import compare_models, tm_align
from foldline.analysis.analyze import METRICS_FILE, REPORT_PAGE, analyze
from foldline.analysis.schema import METRICS_SCHEMA, SCHEMA_VERSION
from foldline.analysis.structures import load_structure
from foldline.analysis.tmscore import score_fixed_correspondence
from foldline.analysis.wording import engine_label, headline

__all__ = [
    "METRICS_FILE",
    "METRICS_SCHEMA",
    "REPORT_PAGE",
    "SCHEMA_VERSION",
    "analyze",
    "compare_models",
    "engine_label",
    "headline",
    "load_structure",
    "score_fixed_correspondence",
    "tm_align",
]
