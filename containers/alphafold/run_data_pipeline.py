#!/usr/bin/env python3
"""AlphaFold 2.3's data pipeline alone: the MSA step's engine in the AlphaFold image.

Runs what ``run_alphafold.py`` runs before the model (jackhmmer over UniRef90 and
MGnify, HHblits over BFD + UniRef30 or jackhmmer over small BFD, template search with
HHsearch/pdb70 or hmmsearch/pdb_seqres, and jackhmmer over UniProt for multimer pairing),
and writes what ``run_alphafold.py`` would write for it:

    <output_dir>/msas/...        (multimer: msas/<chain letter>/... and chain_id_map.json)
    <output_dir>/features.pkl
    <output_dir>/timings.json

The flags are ``run_alphafold.py``'s own, so the AlphaFold step's command and this one
name the databases the same way. This file runs in the engine's Python
(``/opt/alphafold-env`` in the MSA image: alphafold-colabfold's ``alphafold`` package
with the data pipeline's dependencies only, no jax). foldline's MSA step
(``foldline.steps.msa``) builds its command line.
"""

import argparse
import json
import os
import pickle
import shutil
import sys
import time

MAX_TEMPLATE_HITS = 20  # as run_alphafold.py
DATABASE_FLAGS = (
    "uniref90_database_path",
    "mgnify_database_path",
    "bfd_database_path",
    "uniref30_database_path",
    "small_bfd_database_path",
    "uniprot_database_path",
    "pdb70_database_path",
    "pdb_seqres_database_path",
)
TOOLS = ("jackhmmer", "hhblits", "hhsearch", "hmmsearch", "hmmbuild", "kalign")


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fasta_path", required=True)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument(
        "--model_preset",
        required=True,
        choices=("monomer", "monomer_casp14", "monomer_ptm", "multimer"),
    )
    parser.add_argument("--db_preset", required=True, choices=("full_dbs", "reduced_dbs"))
    parser.add_argument("--max_template_date", required=True)
    parser.add_argument("--n_cpu", type=int, default=8)
    for flag in DATABASE_FLAGS:
        parser.add_argument("--" + flag, default=None)
    parser.add_argument("--template_mmcif_dir", required=True)
    parser.add_argument("--obsolete_pdbs_path", required=True)
    for tool in TOOLS:
        parser.add_argument(f"--{tool}_binary_path", default=shutil.which(tool))
    return parser


def check_flags(args):
    """run_alphafold.py's own rules: which databases each preset must and must not get."""
    small = args.db_preset == "reduced_dbs"
    multimer = args.model_preset == "multimer"
    rules = (
        ("small_bfd_database_path", small),
        ("bfd_database_path", not small),
        ("uniref30_database_path", not small),
        ("pdb70_database_path", not multimer),
        ("pdb_seqres_database_path", multimer),
        ("uniprot_database_path", multimer),
    )
    for flag, should_be_set in rules:
        if should_be_set != bool(getattr(args, flag)):
            raise ValueError(
                "{} must {}be set for --db_preset={} --model_preset={}".format(
                    flag, "" if should_be_set else "not ", args.db_preset, args.model_preset
                )
            )


def make_pipeline(args, use_precomputed_msas=False):
    """AlphaFold's data pipeline as run_alphafold.py builds it, from ``args`` holding its
    flag names (this runner's argparse namespace, or run_alphafold.py's absl FLAGS:
    foldline's AlphaFold runner, beside this file in the image, builds it here too)."""
    from alphafold.data import pipeline, pipeline_multimer, templates
    from alphafold.data.tools import hhsearch, hmmsearch

    for tool in TOOLS:
        if not getattr(args, tool + "_binary_path"):
            raise ValueError(f'Could not find the "{tool}" binary')
    multimer = args.model_preset == "multimer"
    featurizer_args = {
        "mmcif_dir": args.template_mmcif_dir,
        "max_template_date": args.max_template_date,
        "max_hits": MAX_TEMPLATE_HITS,
        "kalign_binary_path": args.kalign_binary_path,
        "release_dates_path": None,
        "obsolete_pdbs_path": args.obsolete_pdbs_path,
    }
    if multimer:
        searcher = hmmsearch.Hmmsearch(
            binary_path=args.hmmsearch_binary_path,
            hmmbuild_binary_path=args.hmmbuild_binary_path,
            database_path=args.pdb_seqres_database_path,
        )
        featurizer = templates.HmmsearchHitFeaturizer(**featurizer_args)
    else:
        searcher = hhsearch.HHSearch(
            binary_path=args.hhsearch_binary_path, databases=[args.pdb70_database_path]
        )
        featurizer = templates.HhsearchHitFeaturizer(**featurizer_args)
    monomer = pipeline.DataPipeline(
        jackhmmer_binary_path=args.jackhmmer_binary_path,
        hhblits_binary_path=args.hhblits_binary_path,
        uniref90_database_path=args.uniref90_database_path,
        mgnify_database_path=args.mgnify_database_path,
        bfd_database_path=args.bfd_database_path,
        uniref30_database_path=args.uniref30_database_path,
        small_bfd_database_path=args.small_bfd_database_path,
        template_searcher=searcher,
        template_featurizer=featurizer,
        use_small_bfd=args.db_preset == "reduced_dbs",
        use_precomputed_msas=use_precomputed_msas,
    )
    # AlphaFold's defaults are 8 CPUs for jackhmmer, 4 for HHblits: use the instance's.
    n_cpu = getattr(args, "n_cpu", None)
    for name in (
        "jackhmmer_uniref90_runner",
        "jackhmmer_mgnify_runner",
        "jackhmmer_small_bfd_runner",
        "hhblits_bfd_uniref_runner",
    ):
        runner = getattr(monomer, name, None)
        if n_cpu and runner is not None and hasattr(runner, "n_cpu"):
            runner.n_cpu = n_cpu
    if not multimer:
        return monomer
    data_pipeline = pipeline_multimer.DataPipeline(
        monomer_data_pipeline=monomer,
        jackhmmer_binary_path=args.jackhmmer_binary_path,
        uniprot_database_path=args.uniprot_database_path,
        use_precomputed_msas=use_precomputed_msas,
    )
    uniprot = getattr(data_pipeline, "_uniprot_msa_runner", None)
    if n_cpu and uniprot is not None and hasattr(uniprot, "n_cpu"):
        uniprot.n_cpu = n_cpu
    return data_pipeline


def main(argv=None):
    args = build_parser().parse_args(argv)
    check_flags(args)
    data_pipeline = make_pipeline(args)
    msa_dir = os.path.join(args.output_dir, "msas")
    os.makedirs(msa_dir, exist_ok=True)
    started = time.time()
    features = data_pipeline.process(input_fasta_path=args.fasta_path, msa_output_dir=msa_dir)
    timings = {"features": time.time() - started}
    with open(os.path.join(args.output_dir, "features.pkl"), "wb") as handle:
        pickle.dump(features, handle, protocol=4)
    with open(os.path.join(args.output_dir, "timings.json"), "w") as handle:
        json.dump(timings, handle, indent=4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
