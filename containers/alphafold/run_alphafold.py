#!/usr/bin/env python3
"""foldline's AlphaFold runner: ``run_alphafold.py``'s work over the ``alphafold`` package.

PyPI's ``alphafold-colabfold`` ships AlphaFold 2.3's ``alphafold`` package (data pipeline,
templates, model, relax) but not DeepMind's ``run_alphafold.py``. This file does what
``run_alphafold.py`` of AlphaFold v2.3.2 does for one FASTA, with the same flags, and
writes the same output folder ``<output_dir>/<FASTA stem>/``:

    features.pkl             the data pipeline's raw features (pickle protocol 4)
    msas/                    read with --use_precomputed_msas; pdb_hits.* rewritten
    result_<model>.pkl       every model output, numpy arrays; plddt, and for the pTM and
                             multimer models predicted_aligned_error, ptm (iptm)
    unrelaxed_<model>.pdb    pLDDT in the B-factor column
    relaxed_<model>.pdb      --models_to_relax=best (default): the best model; all; none
    ranked_<i>.pdb           by ranking confidence, relaxed where relaxed
    ranking_debug.json       {"plddts" | "iptm+ptm": {model: confidence}, "order": [...]}
    timings.json             features, process_features_<m>, predict_and_compile_<m>,
                             predict_benchmark_<m> (--benchmark), relax_<m>
    relax_metrics.json       {model: {remaining_violations, remaining_violations_count}}

Model names are run_alphafold.py's: ``model_1`` .. ``model_5`` (monomer, monomer_casp14),
``model_<n>_ptm``, and ``model_<n>_multimer_v3_pred_<k>`` for k in
``--num_multimer_predictions_per_model``; weights are ``<data_dir>/params/params_<model>.npz``
(DeepMind's release format), read by ``alphafold.model.data.get_model_haiku_params``.

As run_alphafold.py: the data pipeline (``pipeline.DataPipeline``, and
``pipeline_multimer.DataPipeline`` for multimer) with its template searcher (HHsearch over
pdb70, or hmmsearch over pdb_seqres for multimer) and featurizer; monomer_casp14 ensembles 8
times; each model's seed is ``model_index + random_seed * number_of_models``; ranking
confidence is the mean pLDDT (monomer presets) or 0.8 ipTM + 0.2 pTM (multimer); Amber
relaxation with run_alphafold.py's settings (tolerance 2.39, stiffness 10, 3 outer
iterations), on the GPU with --use_gpu_relax.

Where alphafold-colabfold's model API differs, and what that changes:

- ``RunModel.predict(features, random_seed)`` returns ``(result, recycles)`` and runs the
  recycles as a Python loop over one jitted iteration; the number run is stored in each
  result pickle as ``num_recycles``. The multimer models stop early as DeepMind's v3 do
  (up to 20 recycles, tolerance 0.5 Å); the monomer models run 3.
- Model outputs come back as float16 (ColabFold's choice, coordinates included: about
  0.03 Å steps at 50 Å from the origin); this runner stores float32 copies, so the
  pickles hold the same keys and dtypes as DeepMind's, not the same last digits.
- alphafold-colabfold ranks a multimer by ``80 ipTM + 20 pTM`` (0-100); this runner
  recomputes ``ranking_confidence`` as DeepMind does (0.8 ipTM + 0.2 pTM, 0-1), so
  ranking_debug.json reads as run_alphafold.py's. Monomer ranking (mean pLDDT) is the same.
- Outputs alphafold-colabfold's model adds (``mean_plddt``, ``tol``) stay in the pickles.

foldline additions: ``--model_names`` runs a subset of the preset's models (the tests fold
with one or two); absent, the preset's five run, as run_alphafold.py. FASTA paths are one
per run (the step folds one target). Runs in the engine's own Python (/opt/alphafold-env).
"""

import enum
import json
import os
import pathlib
import pickle
import random
import shutil
import sys
import time

# AlphaFold's data pipeline, as the MSA step builds it: the file beside this one in the
# image (/opt/foldline/, on sys.path as this script's folder).
import run_data_pipeline
from absl import app, flags, logging

logging.set_verbosity(logging.INFO)


class ModelsToRelax(enum.Enum):
    ALL = 0
    BEST = 1
    NONE = 2


flags.DEFINE_list("fasta_paths", None, "FASTA files, one target each (several chains: multimer).")
flags.DEFINE_string("data_dir", None, "Folder holding params/params_<model>.npz.")
flags.DEFINE_string("output_dir", None, "Outputs go to <output_dir>/<FASTA stem>/.")
for _tool in ("jackhmmer", "hhblits", "hhsearch", "hmmsearch", "hmmbuild", "kalign"):
    flags.DEFINE_string(_tool + "_binary_path", shutil.which(_tool), "Path to " + _tool + ".")
for _db in ("uniref90", "mgnify", "bfd", "small_bfd", "uniref30", "uniprot", "pdb70", "pdb_seqres"):
    flags.DEFINE_string(_db + "_database_path", None, "Path to the " + _db + " database.")
flags.DEFINE_string("template_mmcif_dir", None, "Folder of template mmCIF files <pdb_id>.cif.")
flags.DEFINE_string("max_template_date", None, "Latest template release date (YYYY-MM-DD).")
flags.DEFINE_string("obsolete_pdbs_path", None, "Obsolete PDB id -> replacement mapping.")
flags.DEFINE_enum("db_preset", "full_dbs", ["full_dbs", "reduced_dbs"], "Genetic databases.")
flags.DEFINE_enum(
    "model_preset",
    "monomer",
    ["monomer", "monomer_casp14", "monomer_ptm", "multimer"],
    "Model preset.",
)
flags.DEFINE_boolean("benchmark", False, "Predict twice; time the second (no compilation).")
flags.DEFINE_integer("random_seed", None, "Seed; random if unset.")
flags.DEFINE_integer("num_multimer_predictions_per_model", 5, "Predictions per multimer model.")
flags.DEFINE_boolean("use_precomputed_msas", False, "Read MSAs from <output>/<name>/msas/.")
flags.DEFINE_enum_class(
    "models_to_relax", ModelsToRelax.BEST, ModelsToRelax, "Models to relax: all, best or none."
)
flags.DEFINE_boolean("use_gpu_relax", None, "Relax on the GPU.")
flags.DEFINE_list("model_names", None, "foldline: run only these models of the preset.")

FLAGS = flags.FLAGS

RELAX_MAX_ITERATIONS = 0
RELAX_ENERGY_TOLERANCE = 2.39
RELAX_STIFFNESS = 10.0
RELAX_EXCLUDE_RESIDUES = []
RELAX_MAX_OUTER_ITERATIONS = 3


def model_names_to_run():
    from alphafold.model import config

    preset_models = list(config.MODEL_PRESETS[FLAGS.model_preset])
    if not FLAGS.model_names:
        return preset_models
    unknown = [name for name in FLAGS.model_names if name not in preset_models]
    if unknown:
        raise ValueError(
            "--model_names {} are not models of --model_preset={} ({})".format(
                ",".join(unknown), FLAGS.model_preset, ",".join(preset_models)
            )
        )
    return [name for name in preset_models if name in FLAGS.model_names]


def make_model_runners():
    """{prediction name: RunModel}, as run_alphafold.py names and builds them."""
    from alphafold.model import config, data, model

    multimer = FLAGS.model_preset == "multimer"
    num_ensemble = 8 if FLAGS.model_preset == "monomer_casp14" else 1
    per_model = FLAGS.num_multimer_predictions_per_model if multimer else 1
    runners = {}
    for model_name in model_names_to_run():
        model_config = config.model_config(model_name)
        if multimer:
            model_config.model.num_ensemble_eval = num_ensemble
        else:
            model_config.data.eval.num_ensemble = num_ensemble
        params = data.get_model_haiku_params(model_name=model_name, data_dir=FLAGS.data_dir)
        runner = model.RunModel(model_config, params)
        for i in range(per_model):
            runners[f"{model_name}_pred_{i}" if multimer else model_name] = runner
    return runners


def to_numpy(tree):
    """Model outputs as numpy, float16 widened to float32 (DeepMind's pickles' dtypes)."""
    import numpy as np

    if isinstance(tree, dict):
        return {key: to_numpy(value) for key, value in tree.items()}
    if hasattr(tree, "shape") and hasattr(tree, "dtype"):
        array = np.asarray(tree)
        return array.astype(np.float32) if array.dtype == np.float16 else array
    return tree


def ranking_confidence(result, multimer):
    """run_alphafold.py's ranking: 0.8 ipTM + 0.2 pTM (multimer) or mean pLDDT."""
    import numpy as np

    if multimer:
        return float(0.8 * result["iptm"] + 0.2 * result["ptm"])
    return float(np.mean(result["plddt"]))


def predict_structure(
    fasta_path, fasta_name, data_pipeline, model_runners, amber_relaxer, random_seed
):
    import numpy as np
    from alphafold.common import protein, residue_constants

    timings = {}
    output_dir = os.path.join(FLAGS.output_dir, fasta_name)
    msa_output_dir = os.path.join(output_dir, "msas")
    os.makedirs(msa_output_dir, exist_ok=True)

    started = time.time()
    feature_dict = data_pipeline.process(input_fasta_path=fasta_path, msa_output_dir=msa_output_dir)
    timings["features"] = time.time() - started
    with open(os.path.join(output_dir, "features.pkl"), "wb") as handle:
        pickle.dump(feature_dict, handle, protocol=4)

    unrelaxed_proteins, unrelaxed_pdbs, relaxed_pdbs = {}, {}, {}
    relax_metrics, confidences = {}, {}
    multimer = FLAGS.model_preset == "multimer"
    for model_index, (model_name, runner) in enumerate(model_runners.items()):
        logging.info("Running model %s on %s", model_name, fasta_name)
        seed = model_index + random_seed * len(model_runners)
        started = time.time()
        processed = runner.process_features(feature_dict, random_seed=seed)
        timings["process_features_" + model_name] = time.time() - started

        started = time.time()
        raw_result, recycles = runner.predict(processed, random_seed=seed)
        timings["predict_and_compile_" + model_name] = time.time() - started
        if FLAGS.benchmark:
            started = time.time()
            runner.predict(processed, random_seed=seed)
            timings["predict_benchmark_" + model_name] = time.time() - started

        result = to_numpy(dict(raw_result))
        result["num_recycles"] = int(recycles)
        result["ranking_confidence"] = ranking_confidence(result, multimer)
        confidences[model_name] = result["ranking_confidence"]
        with open(os.path.join(output_dir, f"result_{model_name}.pkl"), "wb") as handle:
            pickle.dump(result, handle, protocol=4)

        plddt_b_factors = np.repeat(
            result["plddt"][:, None], residue_constants.atom_type_num, axis=-1
        )
        unrelaxed = protein.from_prediction(
            features=processed,
            result=result,
            b_factors=plddt_b_factors,
            remove_leading_feature_dimension=not runner.multimer_mode,
        )
        unrelaxed_proteins[model_name] = unrelaxed
        unrelaxed_pdbs[model_name] = protein.to_pdb(unrelaxed)
        with open(os.path.join(output_dir, f"unrelaxed_{model_name}.pdb"), "w") as handle:
            handle.write(unrelaxed_pdbs[model_name])

    ranked_order = [
        name for name, _ in sorted(confidences.items(), key=lambda x: x[1], reverse=True)
    ]
    to_relax = {
        ModelsToRelax.BEST: ranked_order[:1],
        ModelsToRelax.ALL: ranked_order,
        ModelsToRelax.NONE: [],
    }[FLAGS.models_to_relax]
    for model_name in to_relax:
        started = time.time()
        relaxed_pdb, _, violations = amber_relaxer.process(prot=unrelaxed_proteins[model_name])
        relax_metrics[model_name] = {
            "remaining_violations": violations,
            "remaining_violations_count": sum(violations),
        }
        timings["relax_" + model_name] = time.time() - started
        relaxed_pdbs[model_name] = relaxed_pdb
        with open(os.path.join(output_dir, f"relaxed_{model_name}.pdb"), "w") as handle:
            handle.write(relaxed_pdb)

    for index, model_name in enumerate(ranked_order):
        with open(os.path.join(output_dir, f"ranked_{index}.pdb"), "w") as handle:
            handle.write(relaxed_pdbs.get(model_name, unrelaxed_pdbs[model_name]))
    label = "iptm+ptm" if multimer else "plddts"
    with open(os.path.join(output_dir, "ranking_debug.json"), "w") as handle:
        handle.write(json.dumps({label: confidences, "order": ranked_order}, indent=4))
    logging.info("Final timings for %s: %s", fasta_name, timings)
    with open(os.path.join(output_dir, "timings.json"), "w") as handle:
        handle.write(json.dumps(timings, indent=4))
    if FLAGS.models_to_relax != ModelsToRelax.NONE:
        with open(os.path.join(output_dir, "relax_metrics.json"), "w") as handle:
            handle.write(json.dumps(relax_metrics, indent=4))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError("Too many command-line arguments.")
    run_data_pipeline.check_flags(FLAGS)
    fasta_names = [pathlib.Path(p).stem for p in FLAGS.fasta_paths]
    if len(fasta_names) != len(set(fasta_names)):
        raise ValueError("All FASTA paths must have a unique basename.")

    from alphafold.relax import relax

    data_pipeline = run_data_pipeline.make_pipeline(FLAGS, FLAGS.use_precomputed_msas)
    model_runners = make_model_runners()
    logging.info("Have %d models: %s", len(model_runners), list(model_runners))
    amber_relaxer = relax.AmberRelaxation(
        max_iterations=RELAX_MAX_ITERATIONS,
        tolerance=RELAX_ENERGY_TOLERANCE,
        stiffness=RELAX_STIFFNESS,
        exclude_residues=RELAX_EXCLUDE_RESIDUES,
        max_outer_iterations=RELAX_MAX_OUTER_ITERATIONS,
        use_gpu=FLAGS.use_gpu_relax,
    )
    random_seed = FLAGS.random_seed
    if random_seed is None:
        random_seed = random.randrange(sys.maxsize // len(model_runners))
    logging.info("Using random seed %d for the data pipeline", random_seed)
    for fasta_path, fasta_name in zip(FLAGS.fasta_paths, fasta_names):
        predict_structure(
            fasta_path, fasta_name, data_pipeline, model_runners, amber_relaxer, random_seed
        )


if __name__ == "__main__":
    flags.mark_flags_as_required(
        [
            "fasta_paths",
            "output_dir",
            "data_dir",
            "uniref90_database_path",
            "mgnify_database_path",
            "template_mmcif_dir",
            "max_template_date",
            "obsolete_pdbs_path",
            "use_gpu_relax",
        ]
    )
    app.run(main)
