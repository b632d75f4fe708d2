"""5. The pipeline's step programs: ``python -m foldline.steps.{msa,alphafold,openfold}``.

Each runs under SageMaker's training contract (:mod:`foldline.steps.contract`), builds the
exact command line of its engine from the channels and hyperparameters, runs it, lays its
outputs out in SM_MODEL_DIR as the engine itself would, and writes ``foldline-step.json``
(:mod:`foldline.steps.manifest`). Where no real engine is installed the folding steps use
the CPU stand-ins of :mod:`foldline.steps.engines`, and say so in every file they write.
The MSA step's cache, which the start function also reads, is :mod:`.msa_cache`.
"""
