"""The AlphaFold step (GPU): AlphaFold 2.3 on the MSA step's MSAs, run_alphafold.py's outputs.

The image runs foldline's AlphaFold runner (``containers/alphafold/run_alphafold.py``,
``FOLDLINE_AF_RUNNER``, default ``/opt/foldline/run_alphafold.py``): run_alphafold.py's
flags and output layout over alphafold-colabfold's ``alphafold`` package, in the engine's
own Python (``FOLDLINE_ENGINE_PYTHON``) with a clean environment. The runner reads
precomputed MSAs from ``<output_dir>/<FASTA stem>/msas/``; the step extracts the MSA
step's ``model.tar.gz`` (channel ``msa``) and places its ``msas/`` there, passes every
database flag the presets need (the template search runs again, as in run_alphafold.py),
relaxes the best model (on the GPU when the instance has one), and moves the output folder
content into SM_MODEL_DIR (the ``msas/`` copy excepted).

Weights: ``params/params_<model>.npz`` from the ``param`` channel, else the databases;
``foldline-step.json``'s ``weights`` names them (kind ``alphafold``, or what
``params/foldline-weights.json`` beside them declares, e.g. ``random`` for test weights).
``FOLDLINE_ALPHAFOLD_MODELS`` (comma-separated) runs a subset of the preset's five models.

Engines (``FOLDLINE_FOLD_ENGINE``): ``real`` (the runner, with weights), ``template-cpu``
(the CPU stand-in :func:`foldline.steps.engines.template_model.predict`, variant
"profile", written in AlphaFold's layout and labelled template-cpu everywhere), ``auto``
(real where installed with weights, else the stand-in).

Reads: channels ``fasta``, ``msa``, ``databases``, optional ``param``; hyperparameters
FastaFileName, DbPreset, MaxTemplateDate, ModelPreset, NumMultimerPredictionsPerModel.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

from foldline.spec.parameters import (
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
    move_contents,
    msa_step_output,
    read_inputs,
    recording,
    run_step,
    scratch_dir,
    stand_in_pdb,
    stand_in_predictions,
)
from foldline.steps.contract import StepFailed, TrainingEnv, engine_environment, run_tool
from foldline.steps.databases import ALPHAFOLD_PARAMS, database_args, require_databases
from foldline.steps.manifest import StepManifest, relative_outputs

RUNNER_ENV = "FOLDLINE_AF_RUNNER"
DEFAULT_RUNNER = "/opt/foldline/run_alphafold.py"  # containers/alphafold/run_alphafold.py
MODELS_ENV = "FOLDLINE_ALPHAFOLD_MODELS"
#: AlphaFold 2.3's models per preset (alphafold.model.config.MODEL_PRESETS; the image
#: test checks this copy against the installed package)
PRESET_MODELS: dict[str, tuple[str, ...]] = {
    "monomer": tuple(f"model_{n}" for n in range(1, 6)),
    "monomer_casp14": tuple(f"model_{n}" for n in range(1, 6)),
    "monomer_ptm": tuple(f"model_{n}_ptm" for n in range(1, 6)),
    "multimer": tuple(f"model_{n}_multimer_v3" for n in range(1, 6)),
}
#: written beside test or home-made weights to say what they are (kind, name)
WEIGHTS_DESCRIPTION = "foldline-weights.json"


def runner_script(env: TrainingEnv) -> Path:
    return Path(env.env.get(RUNNER_ENV) or DEFAULT_RUNNER)


def models_to_run(env: TrainingEnv, model_preset: str) -> tuple[str, ...]:
    """The preset's models, or the subset FOLDLINE_ALPHAFOLD_MODELS names (preset order)."""
    preset = PRESET_MODELS[model_preset]
    chosen = [m.strip() for m in env.env.get(MODELS_ENV, "").split(",") if m.strip()]
    if not chosen:
        return preset
    unknown = [m for m in chosen if m not in preset]
    if unknown:
        raise StepFailed(
            f"{MODELS_ENV} names {', '.join(unknown)}, not models of "
            f"ModelPreset {model_preset} ({', '.join(preset)})"
        )
    return tuple(m for m in preset if m in chosen)


def weights_dir(env: TrainingEnv, model_preset: str) -> Path | None:
    """AlphaFold's ``--data_dir``: the folder holding ``params/params_<model>.npz``.

    The ``param`` channel comes first (weights chosen for this run), then the databases;
    the first holding the weights of every model to run wins.
    """
    wanted = [f"params_{model}.npz" for model in models_to_run(env, model_preset)]
    for name in (CHANNEL_PARAMS, CHANNEL_DATABASES):
        root = env.channel(name, required=False)
        if root is not None and all((root / ALPHAFOLD_PARAMS / w).is_file() for w in wanted):
            return root
    return None


def weights_record(data_dir: Path, models: tuple[str, ...]) -> dict[str, object]:
    """The manifest's ``weights``: what the models ran with and where it was read from."""
    params = data_dir / ALPHAFOLD_PARAMS
    record: dict[str, object] = {
        "kind": "alphafold",
        "name": f"AlphaFold 2.3 parameters ({', '.join(models)})",
        "source": str(params),
        "files": [f"params_{model}.npz" for model in models],
    }
    described = params / WEIGHTS_DESCRIPTION
    if described.is_file():
        declared = json.loads(described.read_text())
        record["kind"] = str(declared.get("kind", record["kind"]))
        record["name"] = str(declared.get("name", record["name"]))
        record["declared_by"] = WEIGHTS_DESCRIPTION
    return record


def real_engine_problem(env: TrainingEnv, model_preset: str) -> str | None:
    """Why the real AlphaFold cannot run here, or None when it can."""
    script = runner_script(env)
    if not script.is_file():
        return f"AlphaFold is not installed: no runner {script} (set {RUNNER_ENV})"
    if weights_dir(env, model_preset) is None:
        wanted = ", ".join(
            f"{ALPHAFOLD_PARAMS}/params_{m}.npz" for m in models_to_run(env, model_preset)
        )
        return f"AlphaFold weights missing: no {wanted} in the param channel or the databases"
    return None


def alphafold_command(
    env: TrainingEnv,
    inputs: StepInputs,
    db_root: Path,
    data_dir: Path,
    output_dir: Path,
    num_predictions: int,
) -> list[str]:
    """The runner's exact argv (run_alphafold.py's AlphaFold 2.3 flags)."""
    models = models_to_run(env, inputs.model_preset)
    subset = (
        []
        if models == PRESET_MODELS[inputs.model_preset]
        else [f"--model_names={','.join(models)}"]
    )
    return [
        engine_python(env),
        str(runner_script(env)),
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
        *subset,
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
    for name, file in (("features", "features.pkl"), ("relax_metrics", "relax_metrics.json")):
        if (model_dir / file).is_file():
            outputs[name] = file
    relaxed = sorted(model_dir.glob("relaxed_*.pdb"))
    if relaxed:
        outputs["relaxed"] = [p.name for p in relaxed]
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


def run_real(
    env: TrainingEnv,
    inputs: StepInputs,
    manifest: StepManifest,
    db_root: Path,
    msa_output: Path,
    num_predictions: int,
) -> None:
    data_dir = weights_dir(env, inputs.model_preset)
    assert data_dir is not None
    models = models_to_run(env, inputs.model_preset)
    manifest.weights = weights_record(data_dir, models)
    if models != PRESET_MODELS[inputs.model_preset]:
        manifest.notes.append(
            f"ran {len(models)} of the preset's "
            f"{len(PRESET_MODELS[inputs.model_preset])} models "
            f"({MODELS_ENV}={','.join(models)})"
        )
    require_databases(db_root, inputs.db_preset, inputs.model_preset)
    work = scratch_dir(env, "alphafold-")
    output_dir = work / "output"
    place_msas(msa_output, output_dir, inputs.target)
    manifest.command = alphafold_command(
        env, inputs, db_root, data_dir, output_dir, num_predictions
    )
    manifest.write(env.model_dir)
    result = run_tool(manifest.command, env=engine_environment(env.env))
    if not result.ok:
        fail_with(manifest, env, result.failure_text(), result.returncode)
    produced = output_dir / inputs.target
    move_contents(produced, env.model_dir, skip=("msas",))
    shutil.rmtree(work, ignore_errors=True)
    if not (env.model_dir / "ranked_0.pdb").is_file():
        fail_with(manifest, env, f"{runner_script(env).name} exited 0 but wrote no ranked_0.pdb", 1)


def run_stand_in(
    env: TrainingEnv, inputs: StepInputs, manifest: StepManifest, db_root: Path, msa_output: Path
) -> None:
    """The CPU stand-in, written in AlphaFold's layout, every file naming template-cpu."""
    import numpy as np

    predictions, elapsed = stand_in_predictions(
        env, inputs, manifest, db_root, msa_output, "profile"
    )
    manifest.weights = {
        "kind": "none",
        "name": f"none: the CPU stand-in ({STAND_IN})",
        "source": None,
        "files": [],
    }
    confidences, order = {}, []
    for rank, prediction in enumerate(predictions):
        name = f"{STAND_IN}_{rank + 1}"
        text = stand_in_pdb(prediction.pdb_text, "AlphaFold")
        (env.model_dir / f"unrelaxed_{name}.pdb").write_text(text)
        (env.model_dir / f"ranked_{rank}.pdb").write_text(text)
        result = {
            "engine": STAND_IN,
            # the stand-in's per-residue alignment-similarity score: not pLDDT, not named so
            "alignment_score": np.asarray(prediction.plddt, dtype=float),
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
    manifest = StepManifest(
        ALPHAFOLD_STEP.name,
        engine,
        engine_version(env, engine, "alphafold", "ALPHAFOLD_VERSION"),
        parameters,
    )
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
