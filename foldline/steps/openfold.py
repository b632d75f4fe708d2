"""The OpenFold step (GPU): ``run_pretrained_openfold.py --use_precomputed_alignments``.

OpenFold 1.0.1 reads precomputed alignments from ``<alignment dir>/<sequence tag>/``:
every ``*.a3m`` and ``*.sto`` there is an MSA, every ``*.hhr`` a template hit list. The
MSA step's ``msas/`` is in AlphaFold's layout, so the step lays out a copy the way
OpenFold reads it (:func:`openfold_alignments`):

- ``uniref90_hits.sto``, ``mgnify_hits.sto``, ``bfd_uniref_hits.a3m``,
  ``small_bfd_hits.sto`` keep their names (OpenFold's own alignment runner uses them);
- ``pdb_hits.hhr`` (AlphaFold's HHsearch output) becomes ``hhsearch_output.hhr``, the
  name OpenFold writes;
- ``pdb_hits.sto`` (hmmsearch template hits) and ``uniprot_hits.sto`` (multimer pairing)
  are left out: OpenFold 1.0.1 would read them as MSAs of the query.

The FASTA is rewritten with a tag of word characters only, so that OpenFold's tag (the
header up to the first non-word character) is the folder name; outputs are
``predictions/<tag>_<config preset>_{unrelaxed,relaxed}.pdb``.

Presets: monomer -> ``model_1``, monomer_ptm -> ``model_1_ptm``, monomer_casp14 ->
``model_1`` (OpenFold has no 8-fold evaluation ensembling; the manifest says so).
OpenFold 1.0.1 has no multimer model: for multimer the step writes a manifest with
status ``skipped`` saying so, no model, and exits 0, so the run carries on with
the AlphaFold slot's models (the report then covers that engine alone).

Weights never ride in the image or the code upload, and the step runs only the kind it was
asked for (``FOLDLINE_OPENFOLD_WEIGHTS``, set on the step's container):

- ``openfold`` (default): an OpenFold checkpoint, ``--openfold_checkpoint_path``, from the
  ``param`` channel or ``openfold_params/`` in the databases (``FOLDLINE_OPENFOLD_CHECKPOINT``
  names a file; else the released ``finetuning_*.pt`` for the preset). None there fails the
  step, saying what is missing and how to allow AlphaFold's params instead: OpenFold never
  falls back to them unasked, so "AlphaFold vs OpenFold" never compares one set of weights
  twice without saying so;
- ``alphafold-params``: AlphaFold's ``params/params_<preset>.npz``, ``--jax_param_path``
  (OpenFold derives the model version from that file name).

``foldline-step.json``'s ``weights`` records which (kind, file, where from); the report
and the notice show it. The CPU stand-in records kind ``none``.

OpenFold 1.0.1 folds on a CUDA GPU only: in inference its Evoformer's attention (and its
structure module) call its CUDA kernel ``attn_core_inplace_cuda`` whatever ``--model_device``
says (on the CPU: ``RuntimeError: input must be a CUDA tensor``, seen in the image), so a
real run without a GPU fails up front rather than deep inside the model.

Engines (``FOLDLINE_FOLD_ENGINE``): ``real`` (OpenFold at ``OPENFOLD_DIR``, default
``/opt/openfold``), ``template-cpu`` (the stand-in, variant "pairwise", in OpenFold's
layout), ``auto``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from foldline.spec.parameters import CHANNEL_DATABASES, CHANNEL_PARAMS, OPENFOLD_STEP
from foldline.steps.alphafold import WEIGHTS_DESCRIPTION
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
from foldline.steps.databases import ALPHAFOLD_PARAMS, MMCIF_DIR, OBSOLETE, OPENFOLD_PARAMS
from foldline.steps.manifest import StepManifest, relative_outputs

OPENFOLD_DIR_ENV = "OPENFOLD_DIR"
DEFAULT_OPENFOLD_DIR = "/opt/openfold"
CHECKPOINT_ENV = "FOLDLINE_OPENFOLD_CHECKPOINT"
#: which weights OpenFold may run: its own checkpoints (default) or AlphaFold's params
WEIGHTS_ENV = "FOLDLINE_OPENFOLD_WEIGHTS"
OPENFOLD_WEIGHTS = "openfold"
ALPHAFOLD_WEIGHTS = "alphafold-params"
WEIGHTS_CHOICES = (OPENFOLD_WEIGHTS, ALPHAFOLD_WEIGHTS)
KALIGN_ENV = "KALIGN_BINARY_PATH"

#: AlphaFold model preset -> OpenFold config preset (None: OpenFold 1.0.1 cannot)
CONFIG_PRESET: dict[str, str | None] = {
    "monomer": "model_1",
    "monomer_casp14": "model_1",
    "monomer_ptm": "model_1_ptm",
    "multimer": None,
}
#: OpenFold's released checkpoints for each config preset, preferred first
CHECKPOINTS = {
    "model_1": ("finetuning_5.pt", "finetuning_4.pt", "finetuning_3.pt", "finetuning_2.pt"),
    "model_1_ptm": ("finetuning_ptm_2.pt", "finetuning_ptm_1.pt"),
}
#: AlphaFold file name -> OpenFold file name; None: leave it out (see the module doc)
ALIGNMENT_NAMES: dict[str, str | None] = {
    "pdb_hits.hhr": "hhsearch_output.hhr",
    "pdb_hits.sto": None,
    "uniprot_hits.sto": None,
}
MULTIMER_UNSUPPORTED = (
    "OpenFold 1.0.1 has no multimer model (multimer came with OpenFold 2): no OpenFold "
    "model for this run; the run carries on with the AlphaFold slot's models"
)


def openfold_script(env: TrainingEnv) -> Path:
    return (
        Path(env.env.get(OPENFOLD_DIR_ENV) or DEFAULT_OPENFOLD_DIR) / "run_pretrained_openfold.py"
    )


#: longest tag: OpenFold names files ``<tag>_<config preset>_<kind>.pdb``/``.pkl`` and a
#: folder after it; a file name stops at 255 bytes
MAX_TAG_LENGTH = 100


def sequence_tag(chain_id: str) -> str:
    """A tag OpenFold reads back unchanged: ASCII word characters only, and short enough
    for the file names OpenFold builds from it (a longer id keeps its start and gains a
    digest of the whole, so two long ids stay apart)."""
    tag = re.sub(r"[^A-Za-z0-9_]", "_", chain_id) or "query"
    if len(tag) <= MAX_TAG_LENGTH:
        return tag
    digest = hashlib.sha256(chain_id.encode()).hexdigest()[:12]
    return f"{tag[: MAX_TAG_LENGTH - len(digest) - 1]}_{digest}"


def openfold_alignments(msas_dir: Path, destination: Path) -> dict[str, str | None]:
    """Copy AlphaFold-layout MSA files into ``destination`` under OpenFold's names.

    Returns AlphaFold name -> OpenFold name (None where left out), for the manifest.
    """
    destination.mkdir(parents=True, exist_ok=True)
    placed: dict[str, str | None] = {}
    for source in sorted(msas_dir.iterdir()):
        if not source.is_file() or source.suffix not in (".a3m", ".sto", ".hhr"):
            continue
        name = ALIGNMENT_NAMES.get(source.name, source.name)
        placed[source.name] = name
        if name is not None:
            shutil.copyfile(source, destination / name)
    return placed


@dataclass(frozen=True)
class Weights:
    """The weights one OpenFold run uses: which kind, which file, from which channel."""

    kind: str  # "openfold" (a checkpoint) or "alphafold" (AlphaFold's params, run by OpenFold)
    path: Path
    channel: str  # the input channel it was found in ("param", "databases"), or "path"

    @property
    def flag(self) -> str:
        """run_pretrained_openfold.py's flag for this kind of weights."""
        return "openfold_checkpoint_path" if self.kind == "openfold" else "jax_param_path"

    def record(self, requested: str) -> dict[str, Any]:
        """The manifest's ``weights`` (foldline.steps.manifest), as the report shows it.

        A ``foldline-weights.json`` beside the file says what home-made or test weights are
        (``{"kind": "random", "name": ...}``), as it does for the AlphaFold step.
        """
        if self.kind == "openfold":
            name = f"OpenFold checkpoint {self.path.name}"
        else:
            name = f"AlphaFold params {self.path.stem.removeprefix('params_')}"
        record: dict[str, Any] = {
            "kind": self.kind,
            "name": name,
            "source": str(self.path.parent),
            "files": [self.path.name],
            "channel": self.channel,
            "requested": f"{WEIGHTS_ENV}={requested}",
        }
        described = self.path.parent / WEIGHTS_DESCRIPTION
        if described.is_file():
            declared = json.loads(described.read_text())
            record["kind"] = str(declared.get("kind", self.kind))
            record["name"] = str(declared.get("name", name))
            record["declared_by"] = WEIGHTS_DESCRIPTION
        if self.kind == "alphafold":
            record["name"] += ", run by OpenFold"
        return record


#: the stand-in's record: it copies a template's coordinates, no model weights
STAND_IN_WEIGHTS = {
    "kind": "none",
    "name": f"none ({STAND_IN}: no model weights)",
    "source": None,
    "files": [],
}


def weights_choice(env: TrainingEnv) -> str:
    """``openfold`` or ``alphafold-params`` from FOLDLINE_OPENFOLD_WEIGHTS (default openfold)."""
    choice = (env.env.get(WEIGHTS_ENV) or OPENFOLD_WEIGHTS).strip().lower()
    if choice not in WEIGHTS_CHOICES:
        raise StepFailed(f"{WEIGHTS_ENV}={choice!r}; use one of {', '.join(WEIGHTS_CHOICES)}")
    return choice


def _roots(env: TrainingEnv) -> list[tuple[str, Path]]:
    """(channel, folder) of the channels weights may come from, param channel first."""
    found = []
    for name in (CHANNEL_PARAMS, CHANNEL_DATABASES):
        root = env.channel(name, required=False)
        if root is not None:
            found.append((name, root))
    return found


def find_checkpoint(env: TrainingEnv, config_preset: str) -> Weights | None:
    """An OpenFold checkpoint: the one FOLDLINE_OPENFOLD_CHECKPOINT names, else the released
    one for the preset, in the param channel or ``openfold_params/`` (param channel first)."""
    named = env.env.get(CHECKPOINT_ENV)
    wanted = (named,) if named else CHECKPOINTS.get(config_preset, ())
    if named and Path(named).is_absolute():
        return Weights("openfold", Path(named), "path") if Path(named).is_file() else None
    for channel, root in _roots(env):  # a checkpoint the user put in the param channel wins
        for folder in (root, root / OPENFOLD_PARAMS):
            for name in wanted:
                if (folder / name).is_file():
                    return Weights("openfold", folder / name, channel)
    return None


def find_alphafold_params(env: TrainingEnv, config_preset: str) -> Weights | None:
    """AlphaFold's ``params/params_<preset>.npz`` (param channel first, then the databases)."""
    for channel, root in _roots(env):
        path = root / ALPHAFOLD_PARAMS / f"params_{config_preset}.npz"
        if path.is_file():
            return Weights("alphafold", path, channel)
    return None


def find_weights(env: TrainingEnv, config_preset: str) -> Weights | None:
    """The weights FOLDLINE_OPENFOLD_WEIGHTS asks for, or None where they are absent."""
    if weights_choice(env) == ALPHAFOLD_WEIGHTS:
        return find_alphafold_params(env, config_preset)
    return find_checkpoint(env, config_preset)


def missing_weights(env: TrainingEnv, config_preset: str) -> str:
    """What is missing, where it was looked for, and what the user can do about it."""
    channels = (
        " or ".join(
            f"{channel} channel ({root}{'' if channel == CHANNEL_PARAMS else '/' + OPENFOLD_PARAMS})"
            for channel, root in _roots(env)
        )
        or "no param or databases channel"
    )
    if weights_choice(env) == ALPHAFOLD_WEIGHTS:
        return (
            f"AlphaFold params missing: {WEIGHTS_ENV}={ALPHAFOLD_WEIGHTS} asks OpenFold to run "
            f"{ALPHAFOLD_PARAMS}/params_{config_preset}.npz, which is in neither the param "
            f"channel nor the databases"
        )
    named = env.env.get(CHECKPOINT_ENV)
    wanted = named or " or ".join(CHECKPOINTS.get(config_preset, ()))
    text = (
        f"OpenFold weights missing: no {wanted} in the {channels}. Put OpenFold's "
        f"checkpoints in {OPENFOLD_PARAMS}/ of the databases (the database setup's OpenFold "
        f"params option) or in the param channel."
    )
    if find_alphafold_params(env, config_preset) is not None:
        text += (
            f" AlphaFold's {ALPHAFOLD_PARAMS}/params_{config_preset}.npz is there, but "
            f"OpenFold runs AlphaFold's weights only when asked: set {WEIGHTS_ENV}="
            f"{ALPHAFOLD_WEIGHTS} on the {OPENFOLD_STEP.name} step to run them (the "
            "report then says both models came from AlphaFold's weights)."
        )
    else:
        text += (
            f" To run AlphaFold's params in OpenFold instead, set {WEIGHTS_ENV}="
            f"{ALPHAFOLD_WEIGHTS} (needs {ALPHAFOLD_PARAMS}/params_{config_preset}.npz)."
        )
    return text


def real_engine_problem(env: TrainingEnv, config_preset: str) -> str | None:
    script = openfold_script(env)
    if not script.is_file():
        return f"OpenFold is not installed: no {script} (set {OPENFOLD_DIR_ENV})"
    try:
        weights = find_weights(env, config_preset)
    except StepFailed as bad_choice:
        return str(bad_choice)
    if weights is None:
        return missing_weights(env, config_preset)
    if env.num_gpus < 1:
        return (
            "OpenFold 1.0.1 needs a CUDA GPU: in inference it runs its CUDA attention "
            "kernel on any --model_device; run RunOpenFold on a GPU instance"
        )
    return None


def _kalign(env: TrainingEnv) -> str:
    return env.env.get(KALIGN_ENV) or shutil.which("kalign") or "/usr/bin/kalign"


def openfold_command(
    env: TrainingEnv,
    inputs: StepInputs,
    db_root: Path,
    fasta_dir: Path,
    alignment_dir: Path,
    output_dir: Path,
    config_preset: str,
    weights: Weights,
) -> list[str]:
    """The exact ``run_pretrained_openfold.py`` argv (OpenFold 1.0.1 arguments).

    tests/data/openfold-parser.json records what that version's parser accepts (read from
    its source); the unit tests and the image build check this argv against it.
    """
    return [
        engine_python(env),
        str(openfold_script(env)),
        str(fasta_dir),
        str(db_root / MMCIF_DIR),
        f"--use_precomputed_alignments={alignment_dir}",
        f"--output_dir={output_dir}",
        f"--config_preset={config_preset}",
        f"--model_device={'cuda:0' if env.num_gpus > 0 else 'cpu'}",
        f"--{weights.flag}={weights.path}",
        f"--max_template_date={inputs.max_template_date}",
        f"--obsolete_pdbs_path={db_root / OBSOLETE}",
        f"--kalign_binary_path={_kalign(env)}",
        f"--cpus={env.num_cpus}",
    ]


def prepare_inputs(
    inputs: StepInputs, msa_output: Path, work: Path
) -> tuple[Path, Path, str, dict]:
    """Write OpenFold's FASTA folder and alignment folder; return them, the tag, the name map."""
    chain = inputs.chains[0]
    tag = sequence_tag(chain.id)
    fasta_dir = work / "fasta"
    fasta_dir.mkdir(parents=True)
    (fasta_dir / f"{inputs.target}.fasta").write_text(f">{tag}\n{chain.sequence}\n")
    alignment_dir = work / "alignments"
    placed = openfold_alignments(msa_output / "msas", alignment_dir / tag)
    return fasta_dir, alignment_dir, tag, placed


def _outputs(model_dir: Path) -> dict[str, object]:
    predictions = sorted((model_dir / "predictions").glob("*.pdb"))
    relaxed = [p for p in predictions if p.name.endswith("_relaxed.pdb")]
    unrelaxed = [p for p in predictions if p.name.endswith("_unrelaxed.pdb")]
    best = (relaxed or unrelaxed or [None])[0]
    return {
        "best_model": None if best is None else str(best.relative_to(model_dir)),
        "predictions": relative_outputs(model_dir, predictions),
        "timings": "timings.json",
    }


def run_real(
    env: TrainingEnv,
    inputs: StepInputs,
    manifest: StepManifest,
    db_root: Path,
    msa_output: Path,
    config_preset: str,
) -> None:
    weights = find_weights(env, config_preset)
    assert weights is not None
    manifest.weights = weights.record(weights_choice(env))
    if weights.kind == "alphafold":
        manifest.notes.append(
            f"OpenFold ran AlphaFold's params ({weights.path.name}), as "
            f"{WEIGHTS_ENV}={ALPHAFOLD_WEIGHTS} asked: the comparison is of "
            "two implementations of one set of weights"
        )
    work = scratch_dir(env, "openfold-")
    fasta_dir, alignment_dir, tag, placed = prepare_inputs(inputs, msa_output, work)
    manifest.outputs["alignment_names"] = placed
    if "hhsearch_output.hhr" not in placed.values():
        manifest.notes.append(
            "no HHsearch template hits (pdb_hits.hhr): OpenFold 1.0.1 folds without templates"
        )
    output_dir = work / "output"
    manifest.command = openfold_command(
        env, inputs, db_root, fasta_dir, alignment_dir, output_dir, config_preset, weights
    )
    manifest.write(env.model_dir)
    started = time.monotonic()
    result = run_tool(manifest.command, env=engine_environment(env.env))
    elapsed = time.monotonic() - started
    if not result.ok:
        fail_with(manifest, env, result.failure_text(), result.returncode)
    timings: dict[str, float] = {"openfold_total": elapsed}
    own = output_dir / "timings.json"
    if own.is_file():  # {tag: {"inference": s}} in the OpenFold versions that write it
        for key, value in json.loads(own.read_text()).items():
            for name, seconds in value.items() if isinstance(value, dict) else [("", value)]:
                timings[f"{key}_{name}".rstrip("_")] = seconds
    move_contents(output_dir / "predictions", env.model_dir / "predictions")
    (env.model_dir / "timings.json").write_text(json.dumps(timings, indent=4) + "\n")
    shutil.rmtree(work, ignore_errors=True)
    expected = env.model_dir / "predictions" / f"{tag}_{config_preset}_unrelaxed.pdb"
    if not expected.is_file():
        fail_with(
            manifest,
            env,
            f"run_pretrained_openfold.py exited 0 but wrote no predictions/{expected.name}",
            1,
        )


def run_stand_in(
    env: TrainingEnv, inputs: StepInputs, manifest: StepManifest, db_root: Path, msa_output: Path
) -> None:
    """The CPU stand-in in OpenFold's layout; the preset slot of the name says template-cpu."""
    manifest.weights = dict(STAND_IN_WEIGHTS)
    predictions, elapsed = stand_in_predictions(
        env, inputs, manifest, db_root, msa_output, "pairwise"
    )
    tag = sequence_tag(inputs.chains[0].id)
    folder = env.model_dir / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    best = predictions[0]
    (folder / f"{tag}_{STAND_IN}_unrelaxed.pdb").write_text(stand_in_pdb(best.pdb_text, "OpenFold"))
    manifest.notes.append(f"{STAND_IN} does not relax: only the unrelaxed model is written")
    timings = {f"{STAND_IN}_predict": elapsed}
    (env.model_dir / "timings.json").write_text(json.dumps(timings, indent=4) + "\n")


def run(env: TrainingEnv) -> StepManifest:
    inputs = read_inputs(env)
    db_root = env.channel(CHANNEL_DATABASES)
    assert db_root is not None
    env.model_dir.mkdir(parents=True, exist_ok=True)
    choice = fold_engine_choice(env)
    config_preset = CONFIG_PRESET[inputs.model_preset]
    problem = None if config_preset is None else real_engine_problem(env, config_preset)
    engine = "openfold" if choice == "real" or (choice == "auto" and problem is None) else STAND_IN
    parameters = {**inputs.parameters(), "config_preset": config_preset}
    manifest = StepManifest(
        OPENFOLD_STEP.name,
        engine,
        engine_version(env, engine, "openfold", "OPENFOLD_VERSION"),
        parameters,
    )
    if not inputs.max_template_date_given:
        manifest.notes.append(f"MaxTemplateDate was empty: used {inputs.max_template_date}")
    if config_preset is None:  # what OpenFold cannot do, said plainly; not a failure
        manifest.notes.append(MULTIMER_UNSUPPORTED)
        manifest.finish(0, status="skipped")
        manifest.write(env.model_dir)
        print(f"[foldline] {OPENFOLD_STEP.name} skipped: {MULTIMER_UNSUPPORTED}", flush=True)
        return manifest
    if inputs.model_preset == "monomer_casp14":
        manifest.notes.append(
            "monomer_casp14 asks for 8-fold evaluation ensembling, which "
            "OpenFold lacks: ran model_1 without ensembling"
        )
    if engine == STAND_IN and choice == "auto":
        manifest.notes.append(f"no real OpenFold here ({problem}); used the CPU stand-in")
    if engine == "openfold" and problem is not None:
        fail_with(manifest, env, problem, 1)
    work = scratch_dir(env, "msa-input-")
    with recording(manifest, env):
        msa_output = msa_step_output(env, work)
        if engine == "openfold":
            run_real(env, inputs, manifest, db_root, msa_output, config_preset)
        else:
            run_stand_in(env, inputs, manifest, db_root, msa_output)
    shutil.rmtree(work, ignore_errors=True)
    manifest.outputs.update(_outputs(env.model_dir))
    manifest.finish(0)
    manifest.write(env.model_dir)
    return manifest


def main() -> int:
    return run_step(OPENFOLD_STEP.name, run)


if __name__ == "__main__":
    raise SystemExit(main())
