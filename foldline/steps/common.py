"""What all three step programs share: their inputs, the MSA archive, the run wrapper."""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import sys
import tarfile
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from foldline.intake.fasta import Chain, IntakeLimits, decide
from foldline.spec.layout import MODEL_ARCHIVE
from foldline.spec.parameters import (
    CHANNEL_FASTA,
    CHANNEL_MSA,
    DB_PRESET,
    DB_PRESETS,
    FASTA_FILE_NAME,
    MAX_TEMPLATE_DATE,
    MODEL_PRESET,
    MODEL_PRESETS,
)
from foldline.steps.contract import StepFailed, TrainingEnv, write_failure
from foldline.steps.manifest import StepManifest

# The start function already judged the file; here we only parse it, whatever its size.
_NO_LIMITS = IntakeLimits(
    min_length=1, max_total_residues=10**9, max_chains=10**6, max_bytes=10**10
)


@dataclass(frozen=True)
class StepInputs:
    """The run's facts every step needs, read and checked once."""

    fasta_path: Path
    chains: tuple[Chain, ...]
    model_preset: str
    db_preset: str
    max_template_date: str
    max_template_date_given: bool  # False: the parameter was empty and today was used

    @property
    def target(self) -> str:
        """AlphaFold names its output folder after the FASTA file's stem."""
        return self.fasta_path.stem

    def parameters(self) -> dict[str, str]:
        return {
            FASTA_FILE_NAME.name: self.fasta_path.name,
            MODEL_PRESET.name: self.model_preset,
            DB_PRESET.name: self.db_preset,
            MAX_TEMPLATE_DATE.name: self.max_template_date,
        }


def read_inputs(env: TrainingEnv) -> StepInputs:
    fasta_dir = env.channel(CHANNEL_FASTA)
    assert fasta_dir is not None
    name = env.hp(FASTA_FILE_NAME.name)
    fasta_path = fasta_dir / name
    if not fasta_path.is_file():
        present = ", ".join(sorted(p.name for p in fasta_dir.iterdir())) or "nothing"
        raise StepFailed(f"FASTA {name!r} is not in the fasta channel (it holds {present})")
    decision = decide(fasta_path.read_bytes(), _NO_LIMITS)
    if not decision.accepted:
        raise StepFailed(f"cannot read {name}: {decision.reason}")
    model_preset = env.hp(MODEL_PRESET.name, str(MODEL_PRESET.default))
    if model_preset not in MODEL_PRESETS:
        raise StepFailed(f"ModelPreset {model_preset!r} is not one of {', '.join(MODEL_PRESETS)}")
    if model_preset != "multimer" and len(decision.chains) > 1:
        raise StepFailed(
            f"ModelPreset {model_preset} folds one chain; {name} has {len(decision.chains)}"
        )
    db_preset = env.hp(DB_PRESET.name, str(DB_PRESET.default))
    if db_preset not in DB_PRESETS:
        raise StepFailed(f"DbPreset {db_preset!r} is not one of {', '.join(DB_PRESETS)}")
    given = env.hp(MAX_TEMPLATE_DATE.name, "").strip()
    if given:
        try:
            date = _dt.date.fromisoformat(given).isoformat()
        except ValueError:
            raise StepFailed(f"MaxTemplateDate {given!r} is not a YYYY-MM-DD date") from None
    else:  # a start by hand: the day the step runs, recorded in the manifest
        date = _dt.datetime.now(_dt.UTC).date().isoformat()
    return StepInputs(fasta_path, decision.chains, model_preset, db_preset, date, bool(given))


def scratch_dir(env: TrainingEnv, prefix: str) -> Path:
    """A work folder beside the model dir (on SageMaker: the job's EBS volume, not /tmp)."""
    root = Path(env.env.get("FOLDLINE_SCRATCH_DIR") or env.model_dir.parent)
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root))


def msa_step_output(env: TrainingEnv, work: Path) -> Path:
    """The MSA step's output folder (holding ``msas/``), from the ``msa`` channel.

    SageMaker delivers the MSA step's ``model.tar.gz``; it is extracted into ``work``.
    A channel that already holds ``msas/`` (a cache hit, or a local run handing over
    a folder) is used as it is.
    """
    channel = env.channel(CHANNEL_MSA)
    assert channel is not None
    if (channel / "msas").is_dir():
        return channel
    archive = channel / MODEL_ARCHIVE
    if not archive.is_file():
        archives = sorted(channel.glob("*.tar.gz"))
        if len(archives) != 1:
            raise StepFailed(f"the msa channel {channel} holds neither msas/ nor {MODEL_ARCHIVE}")
        archive = archives[0]
    target = work / "msa-step"
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        extract_safely(tar, target)
    if not (target / "msas").is_dir():
        raise StepFailed(f"{archive.name} from the MSA step holds no msas/ folder")
    return target


def extract_safely(tar: tarfile.TarFile, target: Path) -> None:
    """Extract an archive that cannot write outside ``target``.

    tarfile's ``filter="data"`` does that from Python 3.11.4 (and 3.12); the step images'
    Python is Debian bookworm's 3.11.2, which lacks it: there, members are checked by hand
    (no absolute paths, no ``..``, only files, folders and links that stay inside).
    """
    if hasattr(tarfile, "data_filter"):
        tar.extractall(target, filter="data")
        return
    root = target.resolve()
    for member in tar.getmembers():
        destination = (root / member.name).resolve()
        if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            raise StepFailed(f"{member.name} in the MSA archive is not a file or folder")
        if os.path.isabs(member.name) or not destination.is_relative_to(root):
            raise StepFailed(f"{member.name} in the MSA archive points outside its folder")
        if member.issym() or member.islnk():
            link = (
                destination.parent / member.linkname if member.issym() else root / member.linkname
            ).resolve()
            if os.path.isabs(member.linkname) or not link.is_relative_to(root):
                raise StepFailed(f"{member.name} in the MSA archive links outside its folder")
    tar.extractall(target)


def move_contents(source: Path, target: Path, *, skip: tuple[str, ...] = ()) -> list[Path]:
    """Move every entry of ``source`` into ``target``; return the moved files' new paths."""
    target.mkdir(parents=True, exist_ok=True)
    moved: list[Path] = []
    for entry in sorted(source.iterdir()):
        if entry.name in skip:
            continue
        destination = target / entry.name
        if destination.is_dir():
            shutil.rmtree(destination)
        shutil.move(str(entry), destination)
        moved.extend(
            [destination]
            if destination.is_file()
            else [p for p in destination.rglob("*") if p.is_file()]
        )
    return moved


def run_step(step_name: str, body: Callable[[TrainingEnv], StepManifest | None]) -> int:
    """Run a step's body under the contract; turn any failure into the failure file.

    ``body`` writes its own manifest on the paths it knows; an exception that escapes it
    is still recorded (failure file, and a manifest if none was written), and the
    process exits non-zero so SageMaker marks the job Failed with that reason.
    """
    env = TrainingEnv.from_env()
    try:
        body(env)
    except StepFailed as failed:
        write_failure(env.failure_file, str(failed))
        print(f"[foldline] {step_name} failed: {failed}", file=sys.stderr, flush=True)
        return 1
    except Exception as err:  # noqa: BLE001 - a bug, or an engine raising in-process
        text = f"{type(err).__name__}: {err}"
        write_failure(env.failure_file, text + "\n" + traceback.format_exc(limit=-3))
        traceback.print_exc()
        return 1
    return 0


def fail_with(manifest: StepManifest, env: TrainingEnv, reason: str, exit_status: int) -> None:
    """Record a failure in the manifest and raise it to :func:`run_step`."""
    manifest.failure = reason
    manifest.finish(exit_status)
    manifest.write(env.model_dir)
    raise StepFailed(reason)


@contextmanager
def recording(manifest: StepManifest, env: TrainingEnv) -> Iterator[StepManifest]:
    """Whatever fails inside is also recorded in the manifest (status failed, the reason)."""
    try:
        yield manifest
    except Exception as err:
        if manifest.exit_status is None:
            reason = str(err) if isinstance(err, StepFailed) else f"{type(err).__name__}: {err}"
            manifest.failure = reason
            manifest.finish(1)
            manifest.write(env.model_dir)
        raise


def engine_python(env: TrainingEnv) -> str:
    """The interpreter that runs a real engine (the images run AlphaFold/OpenFold in their
    own conda Python, foldline in another); default: ours."""
    return env.env.get("FOLDLINE_ENGINE_PYTHON") or sys.executable


FOLD_ENGINE_ENV = "FOLDLINE_FOLD_ENGINE"
FOLD_ENGINE_CHOICES = ("real", "template-cpu", "auto")
STAND_IN = "template-cpu"


def fold_engine_choice(env: TrainingEnv) -> str:
    """``real``, ``template-cpu`` or ``auto`` from FOLDLINE_FOLD_ENGINE (default auto).

    The images set ``real``: in the cloud a missing engine or weights fails the step
    rather than quietly folding with the stand-in.
    """
    choice = env.env.get(FOLD_ENGINE_ENV, "auto").strip().lower() or "auto"
    if choice not in FOLD_ENGINE_CHOICES:
        raise StepFailed(
            f"{FOLD_ENGINE_ENV}={choice!r}; use one of {', '.join(FOLD_ENGINE_CHOICES)}"
        )
    return choice


def stand_in_pdb(pdb_text: str, slot: str) -> str:
    """A stand-in model's PDB text, guaranteed to name its engine in a REMARK."""
    if STAND_IN in pdb_text[:2000]:
        return pdb_text
    return f"REMARK 250 ENGINE {STAND_IN} (CPU stand-in in the {slot} slot)\n" + pdb_text


def stand_in_predictions(
    env: TrainingEnv,
    inputs: StepInputs,
    manifest: StepManifest,
    db_root: Path,
    msa_output: Path,
    variant: str,
) -> tuple[list, float]:
    """Run the CPU stand-in on the MSA step's hits: (predictions best first, seconds).

    Fails the step, with the reason, when the stand-in breaks or finds no usable template.
    """
    import time

    from foldline.steps.engines.template_model import placeholder, predict

    manifest.call = f"foldline.steps.engines.template_model.predict(variant={variant!r})"
    manifest.write(env.model_dir)
    started = time.monotonic()
    rejected: list[str] = []
    try:
        predictions = predict(
            inputs.chains,
            msa_output / "msas",
            db_root,
            variant=variant,
            max_template_date=inputs.max_template_date,
            rejections=rejected,
        )
    except Exception as err:  # noqa: BLE001 - any error of the stand-in fails the step, with its reason
        fail_with(manifest, env, f"{STAND_IN} failed: {type(err).__name__}: {err}", 1)
    if rejected:
        manifest.notes.append("templates rejected by AlphaFold's prefilter: " + "; ".join(rejected))
    if not predictions:  # AlphaFold folds without templates; the stand-in cannot
        reason = (
            f"no usable template among the MSA step's hits (released on or before "
            f"{inputs.max_template_date}, passing AlphaFold's prefilter)"
        )
        predictions = [placeholder(inputs.chains, variant, reason)]
        manifest.notes.append(
            f"{STAND_IN}: {reason}: wrote a placeholder (a straight CA trace, "
            "confidence 0), not a prediction"
        )
    elapsed = time.monotonic() - started
    best = predictions[0]
    manifest.stand_in = {**best.record(), "templates_rejected": rejected}
    if best.low_coverage and not best.record()["no_template"]:
        manifest.notes.append(
            f"{STAND_IN}: low coverage: template {best.template} covers "
            f"{best.coverage:.0%} of the query; the rest is an interpolated "
            "CA trace"
        )
    return predictions, elapsed


def engine_version(env: TrainingEnv, engine: str, real_engine: str, version_variable: str) -> str:
    """The version the manifest records: the real engine's (set in its image), else foldline's."""
    if engine == real_engine:
        return env.env.get(version_variable, "unknown")
    from foldline import __version__

    return f"foldline {__version__}"
