"""CPU engines for machines without AlphaFold or OpenFold: a pyhmmer MSA search and a
template-based stand-in model ("template-cpu"). The step programs call
:func:`msa_search.run_msa_search` and :func:`template_model.predict`."""
