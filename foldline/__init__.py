"""foldline: an event-driven protein-folding workflow on AWS (AlphaFold 2.3 and OpenFold).

The folders are the flow, in its order (docs/architecture.md follows one FASTA through it):

- :mod:`foldline.spec`      the facts: parameters, steps, S3 layout, statuses (import nothing)
- :mod:`foldline.databases` before any run: the genetic databases a stack serves
- :mod:`foldline.events`    what arrives: S3 and pipeline events as records
- :mod:`foldline.intake`    the start path: FASTA rules, run id, plan, sizing, gate, start
- :mod:`foldline.runs`      the runs table and its record
- :mod:`foldline.steps`     the pipeline's step programs and their engines
- :mod:`foldline.outcomes`  the ends of a run: analysis, failure notice, progress, notices
- :mod:`foldline.analysis`  the science: TM-score, RMSD, GDT_TS, lDDT, pLDDT, PAE, report
- :mod:`foldline.cli`       the edge: the ``foldline`` command
- :mod:`foldline.local`     the edge: the whole cloud on one machine

The Lambda handlers (``functions/``), the pipeline definition (``pipeline/``) and the step
images (``containers/``) call into it.
"""

__version__ = "0.1.0"
