"""Engines the step programs run in-process: a pyhmmer MSA search (AlphaFold's searches
over FASTA databases; the cloud's MsaEngine=pyhmmer too), an MMseqs2 MSA search with
ColabFold's protocol (MsaEngine=mmseqs2) and the template-based CPU stand-in model
("template-cpu") for machines without AlphaFold or OpenFold. The step programs call
:func:`msa_search.run_msa_search`, :func:`mmseqs_search.run_mmseqs_search` and
:func:`template_model.predict`.
"""
