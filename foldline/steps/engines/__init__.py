"""Engines the step programs run in-process: a pyhmmer MSA search (AlphaFold's searches
over FASTA databases; the cloud's MsaEngine=pyhmmer too) and the template-based CPU
stand-in model ("template-cpu") for machines without AlphaFold or OpenFold. The step
programs call :func:`msa_search.run_msa_search` and :func:`template_model.predict`.
"""
