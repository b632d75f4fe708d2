"""The AlphaFold step (GPU): ``run_alphafold.py --use_precomputed_msas`` on the MSA step's output.

AlphaFold reads precomputed MSAs from ``<output_dir>/<FASTA stem>/msas/``; the step
extracts the MSA step's ``model.tar.gz`` (channel ``msa``) and places its ``msas/``
there, runs AlphaFold with every database flag the presets need (it checks them even
when it searches nothing), relaxes the best model on the GPU, and moves AlphaFold's
output folder content into SM_MODEL_DIR (the ``msas/`` copy excepted).

Engines (``FOLDLINE_FOLD_ENGINE``): ``real`` (AlphaFold at ``ALPHAFOLD_DIR``, default
``/app/alphafold``, with weights ``params/params_<model>.npz`` in the ``param`` channel
or the databases), ``template-cpu`` (the CPU stand-in
:func:`foldline.local_engines.template_model.predict`, variant "profile", written in
AlphaFold's layout and labelled template-cpu everywhere), ``auto`` (real where
installed, else the stand-in).

Reads: channels ``fasta``, ``msa``, ``databases``, optional ``param``; hyperparameters
FastaFileName, DbPreset, MaxTemplateDate, ModelPreset, NumMultimerPredictionsPerModel.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

from foldline.parameters import (
    ALPHAFOLD_STEP,
    CHANNEL_DATABASES,
    CHANNEL_PARAMS,
    NUM_MULTIMER_PREDICTIONS,
)
from foldline.steps.common import (
    STAND_IN,
    StepInputs,
    engine_python,
    engine_version,
    fail_with,
    fold_engine_choice,
    msa_step_output,
    move_contents,
    read_inputs,
    stand_in_predictions,
    recording,
    run_step,
    scratch_dir,
    stand_in_pdb,
)
from foldline.steps.contract import StepFailed, TrainingEnv, run_tool
from foldline.steps.databases import ALPHAFOLD_PARAMS, database_args, require_databases
from foldline.steps.manifest import StepManifest, relative_outputs

ALPHAFOLD_DIR_ENV = "ALPHAFOLD_DIR"
DEFAULT_ALPHAFOLD_DIR = "/app/alphafold"  # where AlphaFold's own Dockerfile puts it
#: the first model of each preset; its weights file tells whether weights are installed
FIRST_MODEL = {
    "monomer": "model_1",
    "monomer_casp14": "model_1",
    "monomer_ptm": "model_1_ptm",
    "multimer": "model_1_multimer_v3",
}


def run_alphafold_script(env: TrainingEnv) -> Path:
    return Path(env.env.get(ALPHAFOLD_DIR_ENV) or DEFAULT_ALPHAFOLD_DIR) / "run_alphafold.py"


def weights_dir(env: TrainingEnv, model_preset: str) -> Path | None:
    """AlphaFold's ``--data_dir``: the folder holding ``params/params_<model>.npz``.

    The ``param`` channel comes first (weights chosen for this run), then the databases.
    """
    wanted = f"params_{FIRST_MODEL[model_preset]}.npz"
    for name in (CHANNEL_PARAMS, CHANNEL_DATABASES):
        root = env.channel(name, required=False)
        if root is not None and (root / ALPHAFOLD_PARAMS / wanted).is_file():
            return root
    return None


def real_engine_problem(env: TrainingEnv, model_preset: str) -> str | None:
    """Why the real AlphaFold cannot run here, or None when it can."""
    script = run_alphafold_script(env)
    if not script.is_file():
        return f"AlphaFold is not installed: no {script} (set {ALPHAFOLD_DIR_ENV})"
    if weights_dir(env, model_preset) is None:
        wanted = f"{ALPHAFOLD_PARAMS}/params_{FIRST_MODEL[model_preset]}.npz"
        return f"AlphaFold weights missing: no {wanted} in the param channel or the databases"
    return None


def alphafold_command(
    env: TrainingEnv, inputs: StepInputs, db_root: Path, data_dir: Path, output_dir: Path,
    num_predictions: int,
) -> list[str]:  # fmt: skip
    """The exact ``run_alphafold.py`` argv (AlphaFold 2.3 flags)."""
    return [
        engine_python(env),
        str(run_alphafold_script(env)),
        f"--fasta_paths={inputs.fasta_path}",
        f"--output_dir={output_dir}",
        f"--data_dir={data_dir}",
        f"--model_preset={inputs.model_preset}",
        f"--db_preset={inputs.db_preset}",
        f"--max_template_date={inputs.max_template_date}",
        f"--num_multimer_predictions_per_model={num_predictions}",
        "--use_precomputed_msas",
        "--models_to_relax=best",
        "--use_gpu_relax" if env.num_gpus > 0 else "--nouse_gpu_relax",
        *database_args(db_root, inputs.db_preset, inputs.model_preset),
    ]


def place_msas(msa_output: Path, alphafold_output_dir: Path, target: str) -> Path:
    """Copy ``msas/`` to ``<output_dir>/<target>/msas/``, where AlphaFold reads it."""
    destination = alphafold_output_dir / target / "msas"
    shutil.copytree(msa_output / "msas", destination)
    return destination


def _outputs(model_dir: Path) -> dict[str, object]:
    ranked = sorted(model_dir.glob("ranked_*.pdb"), key=lambda p: int(p.stem.split("_")[1]))
    outputs: dict[str, object] = {
        "best_model": "ranked_0.pdb" if (model_dir / "ranked_0.pdb").is_file() else None,
        "ranked": [p.name for p in ranked],
        "ranking": "ranking_debug.json",
        "timings": "timings.json",
        "results": relative_outputs(model_dir, list(model_dir.glob("result_*.pkl"))),
    }
    if (model_dir / "features.pkl").is_file():
        outputs["features"] = "features.pkl"
    return outputs


def _num_predictions(env: TrainingEnv) -> int:
    text = env.hp(NUM_MULTIMER_PREDICTIONS.name, str(NUM_MULTIMER_PREDICTIONS.default))
    try:
        number = int(text)
    except ValueError:
        raise StepFailed(f"{NUM_MULTIMER_PREDICTIONS.name} {text!r} is not a number") from None
    if number < 1:
        raise StepFailed(f"{NUM_MULTIMER_PREDICTIONS.name} must be at least 1, got {number}")
    return number


def run_real(env: TrainingEnv, inputs: StepInputs, manifest: StepManifest, db_root: Path,
             msa_output: Path, num_predictions: int) -> None:  # fmt: skip
    data_dir = weights_dir(env, inputs.model_preset)
    assert data_dir is not None
    require_databases(db_root, inputs.db_preset, inputs.model_preset)
    work = scratch_dir(env, "alphafold-")
    output_dir = work / "output"
    place_msas(msa_output, output_dir, inputs.target)
    manifest.command = alphafold_command(
        env, inputs, db_root, data_dir, output_dir, num_predictions
    )
    manifest.write(env.model_dir)
    result = run_tool(manifest.command, env=env.env)
    if not result.ok:
        fail_with(manifest, env, result.failure_text(), result.returncode)
    produced = output_dir / inputs.target
    move_contents(produced, env.model_dir, skip=("msas",))
    shutil.rmtree(work, ignore_errors=True)
    if not (env.model_dir / "ranked_0.pdb").is_file():
        fail_with(manifest, env, "run_alphafold.py exited 0 but wrote no ranked_0.pdb", 1)


def run_stand_in(env: TrainingEnv, inputs: StepInputs, manifest: StepManifest, db_root: Path,
                 msa_output: Path) -> None:  # fmt: skip
    """The CPU stand-in, written in AlphaFold's layout, every file naming template-cpu."""
    import numpy as np

    predictions, elapsed = stand_in_predictions(env, inputs, manifest, db_root, msa_output,
                                                "profile")
    confidences, order = {}, []
    for rank, prediction in enumerate(predictions):
        name = f"{STAND_IN}_{rank + 1}"
        text = stand_in_pdb(prediction.pdb_text, "AlphaFold")
        (env.model_dir / f"unrelaxed_{name}.pdb").write_text(text)
        (env.model_dir / f"ranked_{rank}.pdb").write_text(text)
        result = {
            "engine": STAND_IN,
            "plddt": np.asarray(prediction.plddt, dtype=float),
            "ranking_confidence": float(prediction.ranking_confidence),
            "template": prediction.template,
            "identity": float(prediction.identity),
        }
        with open(env.model_dir / f"result_{name}.pkl", "wb") as handle:
            pickle.dump(result, handle, protocol=4)
        confidences[name] = float(prediction.ranking_confidence)
        order.append(name)
    ranking = {"plddts": confidences, "order": order, "engine": STAND_IN}
    (env.model_dir / "ranking_debug.json").write_text(json.dumps(ranking, indent=4) + "\n")
    timings = {f"{STAND_IN}_predict": elapsed}
    (env.model_dir / "timings.json").write_text(json.dumps(timings, indent=4) + "\n")


def run(env: TrainingEnv) -> StepManifest:
    inputs = read_inputs(env)
    num_predictions = _num_predictions(env)
    db_root = env.channel(CHANNEL_DATABASES)
    assert db_root is not None
    env.model_dir.mkdir(parents=True, exist_ok=True)
    choice = fold_engine_choice(env)
    problem = real_engine_problem(env, inputs.model_preset)
    engine = "alphafold" if choice == "real" or (choice == "auto" and problem is None) else STAND_IN
    parameters = {**inputs.parameters(), NUM_MULTIMER_PREDICTIONS.name: num_predictions}
    manifest = StepManifest(ALPHAFOLD_STEP.name, engine,
                            engine_version(env, engine, "alphafold", "ALPHAFOLD_VERSION"), parameters)
    if not inputs.max_template_date_given:
        manifest.notes.append(f"MaxTemplateDate was empty: used {inputs.max_template_date}")
    if engine == STAND_IN and choice == "auto":
        manifest.notes.append(f"no real AlphaFold here ({problem}); used the CPU stand-in")
    if engine == "alphafold" and problem is not None:
        fail_with(manifest, env, problem, 1)
    work = scratch_dir(env, "msa-input-")
    with recording(manifest, env):
        msa_output = msa_step_output(env, work)
        if engine == "alphafold":
            run_real(env, inputs, manifest, db_root, msa_output, num_predictions)
        else:
            run_stand_in(env, inputs, manifest, db_root, msa_output)
    shutil.rmtree(work, ignore_errors=True)
    manifest.outputs = _outputs(env.model_dir)
    manifest.finish(0)
    manifest.write(env.model_dir)
    return manifest


def main() -> int:
    return run_step(ALPHAFOLD_STEP.name, run)


if __name__ == "__main__":
    raise SystemExit(main())
