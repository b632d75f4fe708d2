"""foldline: an event-driven protein-folding workflow on AWS (AlphaFold 2.3 and OpenFold).

The package holds the logic that the Lambda handlers (``functions/``), the pipeline
definition (``pipeline/``), the step programs in the containers, the local runtime
and the ``foldline`` command all call. Modules are small and single-purpose:

- :mod:`foldline.spec.parameters`  the pipeline's name, steps and eight run parameters
- :mod:`foldline.spec.layout`      the S3 layout (one bucket, fixed prefixes)
- :mod:`foldline.intake.fasta`       FASTA intake: parse, normalise, validate, decide
- :mod:`foldline.intake.run_identity` deterministic run ids
"""

__version__ = "0.1.0"
