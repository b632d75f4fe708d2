"""The MSA step (CPU): genetic search and template search, AlphaFold's ``msas/`` layout.

Engines (``FOLDLINE_MSA_ENGINE``):

``alphafold``
    AlphaFold 2.3's own data pipeline, no model, through the runner shipped in the
    AlphaFold image (``FOLDLINE_AF_DATA_PIPELINE``, default
    ``/opt/foldline/run_data_pipeline.py``). Writes ``msas/``, ``features.pkl``,
    ``timings.json`` into SM_MODEL_DIR.
``pyhmmer``
    :func:`foldline.local_engines.msa_search.run_msa_search`: jackhmmer/hmmsearch with
    AlphaFold's settings over FASTA databases, for machines without AlphaFold.
``auto`` (default)
    ``alphafold`` where its package and the runner are installed, else ``pyhmmer``.

Reads: channels ``fasta`` and ``databases`` (``msa`` too, only as a cache hit);
hyperparameters FastaFileName, DbPreset, MaxTemplateDate, ModelPreset.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import time
from pathlib import Path

from foldline.parameters import CHANNEL_DATABASES, CHANNEL_MSA, MSA_STEP
from foldline.steps.common import (
    StepInputs,
    engine_python,
    fail_with,
    read_inputs,
    recording,
    run_step,
)
from foldline.steps.contract import TrainingEnv, run_tool
from foldline.steps.databases import database_args, require_databases
from foldline.steps.manifest import StepManifest, relative_outputs

ENGINE_ENV = "FOLDLINE_MSA_ENGINE"
RUNNER_ENV = "FOLDLINE_AF_DATA_PIPELINE"
DEFAULT_RUNNER = "/opt/foldline/run_data_pipeline.py"
ENGINE_CHOICES = ("alphafold", "pyhmmer", "auto")


def runner_path(env: TrainingEnv) -> Path:
    return Path(env.env.get(RUNNER_ENV) or DEFAULT_RUNNER)


def choose_engine(env: TrainingEnv) -> str:
    choice = env.env.get(ENGINE_ENV, "auto").strip().lower() or "auto"
    if choice not in ENGINE_CHOICES:
        raise ValueError(f"{ENGINE_ENV}={choice!r}; use one of {', '.join(ENGINE_CHOICES)}")
    if choice != "auto":
        return choice
    if runner_path(env).is_file() and importlib.util.find_spec("alphafold") is not None:
        return "alphafold"
    return "pyhmmer"


def alphafold_command(env: TrainingEnv, inputs: StepInputs, db_root: Path) -> list[str]:
    """The exact argv of AlphaFold's data pipeline for this run."""
    return [
        engine_python(env),
        str(runner_path(env)),
        f"--fasta_path={inputs.fasta_path}",
        f"--output_dir={env.model_dir}",
        f"--model_preset={inputs.model_preset}",
        f"--db_preset={inputs.db_preset}",
        f"--max_template_date={inputs.max_template_date}",
        f"--n_cpu={env.num_cpus}",
        *database_args(db_root, inputs.db_preset, inputs.model_preset),
    ]


def _version(engine: str, env: TrainingEnv) -> str:
    if engine == "alphafold":
        return env.env.get("ALPHAFOLD_VERSION", "unknown")
    try:
        return importlib.metadata.version(engine)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _outputs(model_dir: Path) -> dict[str, object]:
    msa_files = [p for p in (model_dir / "msas").rglob("*") if p.is_file()]
    outputs: dict[str, object] = {"msas": "msas", "msa_files": relative_outputs(model_dir, msa_files)}
    for name, file in (("features", "features.pkl"), ("timings", "timings.json")):
        if (model_dir / file).is_file():
            outputs[name] = file
    return outputs


def reuse_cached_msas(env: TrainingEnv, inputs: StepInputs) -> StepManifest | None:
    """Cache hook: an ``msa`` channel given to this step holds finished MSAs to reuse.

    The pipeline may hand the MSA step ``msa-cache/<key>/`` (key: sequences, DbPreset,
    MaxTemplateDate) as its ``msa`` channel; the search is then skipped and the cached
    ``msas/`` (and features.pkl, timings.json) are passed on unchanged.
    """
    channel = env.channel(CHANNEL_MSA, required=False)
    if channel is None or not (channel / "msas").is_dir():
        return None
    manifest = StepManifest(MSA_STEP.name, "cache", "-", inputs.parameters(),
                            call=f"copy of {channel}")
    for entry in channel.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, env.model_dir / entry.name, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, env.model_dir / entry.name)
    previous = env.model_dir / "foldline-step.json"
    if previous.is_file():  # the cached run's own record becomes provenance
        manifest.notes.append(f"cached result made by: {json.loads(previous.read_text())}")
    manifest.outputs = _outputs(env.model_dir)
    manifest.finish(0)
    manifest.write(env.model_dir)
    return manifest


def run(env: TrainingEnv) -> StepManifest:
    inputs = read_inputs(env)
    env.model_dir.mkdir(parents=True, exist_ok=True)
    cached = reuse_cached_msas(env, inputs)
    if cached is not None:
        return cached
    db_root = env.channel(CHANNEL_DATABASES)
    assert db_root is not None
    engine = choose_engine(env)
    manifest = StepManifest(MSA_STEP.name, engine, _version(engine, env), inputs.parameters())
    if not inputs.max_template_date_given:
        manifest.notes.append(
            f"MaxTemplateDate was empty: used the run day {inputs.max_template_date}"
        )
    with recording(manifest, env):
        if engine == "alphafold":
            require_databases(db_root, inputs.db_preset, inputs.model_preset)
            manifest.command = alphafold_command(env, inputs, db_root)
            manifest.write(env.model_dir)
            result = run_tool(manifest.command, env=env.env)
            if not result.ok:
                fail_with(manifest, env, result.failure_text(), result.returncode)
        else:
            from foldline.local_engines.msa_search import run_msa_search

            manifest.call = "foldline.local_engines.msa_search.run_msa_search"
            manifest.write(env.model_dir)
            started = time.monotonic()
            try:
                timings = run_msa_search(
                    inputs.chains, db_root, env.model_dir,
                    db_preset=inputs.db_preset, model_preset=inputs.model_preset,
                    max_template_date=inputs.max_template_date, cpus=env.num_cpus,
                )  # fmt: skip
            except Exception as err:
                fail_with(manifest, env, f"pyhmmer search failed: {type(err).__name__}: {err}", 1)
            timings = dict(timings or {})
            timings.setdefault("features", time.monotonic() - started)
            timings_path = env.model_dir / "timings.json"
            if not timings_path.is_file():
                timings_path.write_text(json.dumps(timings, indent=4) + "\n")
        if not any((env.model_dir / "msas").rglob("*.*")):
            fail_with(manifest, env, f"{engine} finished but wrote no MSA files under msas/", 1)
    manifest.outputs = _outputs(env.model_dir)
    manifest.finish(0)
    manifest.write(env.model_dir)
    return manifest


def main() -> int:
    return run_step(MSA_STEP.name, run)


if __name__ == "__main__":
    raise SystemExit(main())
