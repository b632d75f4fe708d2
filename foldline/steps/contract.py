"""SageMaker's training-job contract, as the step programs see it.

SageMaker starts a training container with its inputs under ``/opt/ml/input``; the
SageMaker training toolkit (in the images) turns those into environment variables:
``SM_CHANNEL_<NAME>`` (a folder per channel), ``SM_HP_<KEY upper-cased>`` and ``SM_HPS``
(all hyperparameters as JSON), ``SM_MODEL_DIR`` (tarred to ``model.tar.gz`` when the job
ends), ``SM_OUTPUT_DATA_DIR``, ``SM_NUM_CPUS``, ``SM_NUM_GPUS``. The local executor sets
the same variables. Where the toolkit is absent the same facts are read from
``/opt/ml/input/config/*.json``, so a step never depends on how it was started.

A failing job reports the text of ``/opt/ml/output/failure`` as its FailureReason
(``FOLDLINE_FAILURE_FILE`` overrides the path for local runs); :func:`run_tool` puts the
tool's last output lines there.
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FAILURE_REASON_LIMIT",
    "StepFailed",
    "ToolResult",
    "TrainingEnv",
    "engine_environment",
    "run_tool",
    "write_failure",
]

DEFAULT_FAILURE_FILE = "/opt/ml/output/failure"
OPT_ML = Path("/opt/ml")
#: SageMaker keeps the first 1024 characters of FailureReason
FAILURE_REASON_LIMIT = 1024
TAIL_LINES = 40  # lines of tool output kept for the failure file and the manifest


class StepFailed(Exception):
    """The step cannot go on; the message is written to the failure file as is."""


def _decode_hp(value: object) -> str:
    """Hyperparameters arrive as strings, sometimes JSON-quoted by the SDK (``'"monomer"'``)."""
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except ValueError:
            return value
        return str(decoded) if isinstance(decoded, (str, int, float)) else value
    return str(value)


@dataclass(frozen=True)
class TrainingEnv:
    """Everything a step reads from its environment, typed."""

    channels: Mapping[str, Path]
    hyperparameters: Mapping[str, str]
    model_dir: Path
    output_data_dir: Path
    num_cpus: int
    num_gpus: int
    failure_file: Path
    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TrainingEnv:
        env = dict(os.environ if env is None else env)
        config = _config_files(env)
        channels = {
            key[len("SM_CHANNEL_") :].lower(): Path(value)
            for key, value in env.items()
            if key.startswith("SM_CHANNEL_") and value
        }
        if not channels:
            data = OPT_ML / "input" / "data"
            channels = {name: data / name for name in config.get("inputdataconfig", {})}
        hps: dict[str, str] = {}
        for key, value in json.loads(env.get("SM_HPS") or "{}").items():
            hps[key] = _decode_hp(value)
        if not hps:
            for key, value in config.get("hyperparameters", {}).items():
                hps[key] = _decode_hp(value)
        # SM_HP_<KEY> wins: it is what the toolkit (or the local executor) set last.
        upper = {key.upper(): key for key in hps}
        for key, value in env.items():
            if key.startswith("SM_HP_") and key != "SM_HPS":
                name = key[len("SM_HP_") :]
                hps[upper.get(name, name)] = _decode_hp(value)
        resources = config.get("resourceconfig", {})
        return cls(
            channels=channels,
            hyperparameters=hps,
            model_dir=Path(env.get("SM_MODEL_DIR", OPT_ML / "model")),
            output_data_dir=Path(env.get("SM_OUTPUT_DATA_DIR", OPT_ML / "output" / "data")),
            num_cpus=int(env.get("SM_NUM_CPUS") or os.cpu_count() or 1),
            num_gpus=int(env.get("SM_NUM_GPUS") or resources.get("num_gpus", 0) or 0),
            failure_file=Path(env.get("FOLDLINE_FAILURE_FILE", DEFAULT_FAILURE_FILE)),
            env=env,
        )

    def hp(self, name: str, default: str | None = None) -> str:
        """A hyperparameter by its pipeline-parameter name (``"ModelPreset"``)."""
        if name in self.hyperparameters:
            return self.hyperparameters[name]
        for key, value in self.hyperparameters.items():
            if key.upper() == name.upper():
                return value
        if default is None:
            raise StepFailed(f"hyperparameter {name} is missing (set SM_HP_{name.upper()})")
        return default

    def channel(self, name: str, *, required: bool = True) -> Path | None:
        path = self.channels.get(name)
        if path is None or not path.is_dir():
            if required:
                raise StepFailed(
                    f"input channel {name!r} is missing (SM_CHANNEL_{name.upper()} "
                    f"{'is not set' if path is None else f'points to {path}, not a folder'})"
                )
            return None
        return path


def _config_files(env: Mapping[str, str]) -> dict[str, dict]:
    """``/opt/ml/input/config/*.json``: read only when the toolkit's variables are absent."""
    if any(key.startswith(("SM_CHANNEL_", "SM_HP")) for key in env):
        return {}
    found = {}
    for name in ("hyperparameters", "inputdataconfig", "resourceconfig"):
        path = OPT_ML / "input" / "config" / f"{name}.json"
        if path.is_file():
            found[name] = json.loads(path.read_text())
    return found


#: Python's own start-up variables that an engine in another Python must not inherit
#: (the toolkit sets PYTHONPATH to its interpreter's sys.path for the user script).
#: PYTHONUNBUFFERED and PYTHONIOENCODING only shape output and are kept.
_PYTHON_KEPT = frozenset({"PYTHONUNBUFFERED", "PYTHONIOENCODING"})
#: what activating foldline's virtual environment (or a conda one) sets
_ENVIRONMENT_MARKERS = (
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "CONDA_PYTHON_EXE",
    "CONDA_SHLVL",
    "__PYVENV_LAUNCHER__",
)


def engine_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment an engine (AlphaFold, OpenFold, their runners) starts with.

    The step runs in foldline's Python under the training toolkit, which sets
    ``PYTHONPATH`` to its own interpreter's ``sys.path`` for the user script; an engine in
    its own Python (another version, other packages) that inherits it loads foldline's
    standard library and packages and dies or, worse, runs on the wrong ones. So: no
    ``PYTHON*`` start-up variables (``PYTHONPATH``, ``PYTHONHOME``, ``PYTHONSTARTUP``,
    ``PYTHONUSERBASE``...), no virtual-environment markers, and ``PATH`` without foldline's
    environment's ``bin`` folders. Everything else is kept: CUDA/NVIDIA, XLA and
    ``TF_FORCE_UNIFIED_MEMORY``, AWS, locale, ``HOME``, the ``SM_*`` variables.
    """
    own_bins = {str(Path(sys.prefix) / "bin"), str(Path(sys.executable).parent)}
    if sys.prefix == sys.base_prefix:  # not a virtual environment: its bin is the system's
        own_bins = set()
    if env.get("VIRTUAL_ENV"):
        own_bins.add(str(Path(env["VIRTUAL_ENV"]) / "bin"))
    if env.get("CONDA_PREFIX"):
        own_bins.add(str(Path(env["CONDA_PREFIX"]) / "bin"))
    clean = {
        key: value
        for key, value in env.items()
        if not (key.startswith("PYTHON") and key not in _PYTHON_KEPT)
        and key not in _ENVIRONMENT_MARKERS
    }
    if "PATH" in clean:
        kept = [
            part
            for part in clean["PATH"].split(os.pathsep)
            if part and os.path.normpath(part) not in own_bins
        ]
        clean["PATH"] = os.pathsep.join(kept) or os.defpath
    return clean


def write_failure(path: Path, text: str) -> None:
    """Write FailureReason text, keeping its end (where the error is) within SageMaker's limit."""
    if len(text) > FAILURE_REASON_LIMIT:
        text = "…" + text[-(FAILURE_REASON_LIMIT - 1) :]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@dataclass(frozen=True)
class ToolResult:
    argv: tuple[str, ...]
    returncode: int
    tail: tuple[str, ...]  # the last output lines, stdout and stderr interleaved

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def failure_text(self) -> str:
        name = Path(
            self.argv[1]
            if self.argv[0].endswith(("python", "python3")) and len(self.argv) > 1
            else self.argv[0]
        ).name
        lines = "\n".join(self.tail[-15:])
        return f"{name} exited with status {self.returncode}:\n{lines}"


def run_tool(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    keep: int = TAIL_LINES,
) -> ToolResult:
    """Run an external tool, stream its output to our stdout (CloudWatch), keep the tail.

    stderr is merged into stdout so the kept lines are in the order the tool wrote them.
    """
    print(f"[foldline] running: {' '.join(argv)}", flush=True)
    tail: collections.deque[str] = collections.deque(maxlen=keep)
    try:
        process = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    except OSError as err:  # not installed, not executable
        return ToolResult(tuple(argv), 127, (f"cannot start {argv[0]}: {err}",))
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(line)
        tail.append(line.rstrip("\n"))
    sys.stdout.flush()
    return ToolResult(tuple(argv), process.wait(), tuple(tail))
