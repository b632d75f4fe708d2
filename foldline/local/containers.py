"""Step images for ``foldline local run --containers``: which image runs a step, and Docker.

SageMaker starts a training job as ``docker run IMAGE train`` with the job's folders
mounted under ``/opt/ml``; SageMaker Local Mode does the same on one machine. The local
executor does it too when a step has an image here (:func:`resolve`): the image's
SageMaker training toolkit, step program and engines run as they would in the cloud,
and only the orchestration around them is local.

Each step's image is ``<Step.image>:<LOCAL_IMAGE_TAG>`` (``foldline-msa:local`` ...), as
the images' build script tags what it builds here, unless the user names another.
Nothing falls back silently: a missing Docker or image is an error that says how to get
it, and a step left out of the images (``--no-container``) is named in the run's output.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from foldline.spec.parameters import LOCAL_IMAGE_TAG, MSA_STEP, STEPS, Step, step_by_name
from foldline.steps import msa_cache

#: how the images are built here (the images' own build script, from the repository root)
BUILD_COMMAND = "containers/build_local.sh"
#: the Docker label every step container carries: its training job's name
JOB_LABEL = "foldline.training-job"
#: a container's name: its training job's, so `docker ps` shows which job it is
CONTAINER_PREFIX = "foldline-"
#: the stack parameter that sets the MSA step's engine (template.yaml; pipeline/placeholders.py)
MSA_ENGINE_PARAMETER = "MsaEngine"
_DOCKER_TIMEOUT = 30  # seconds for a docker CLI call that only asks the daemon something


class ContainersUnavailable(RuntimeError):
    """Docker or a step image is missing; the message says what and how to fix it."""


@dataclass(frozen=True)
class StepImage:
    """The image a step runs in, as Docker knows it."""

    step: str
    ref: str  # what the user (or the default) named: repository:tag
    id: str  # the image id (sha256:...), recorded with each job
    env: Mapping[str, str] = field(default_factory=dict, compare=False)  # its ENV

    @property
    def pinned(self) -> str:
        """The reference pinned to this very image (``name:tag@sha256:<id>``): a training
        job's TrainingImage. A rebuilt image under the same tag is another image, as a new
        tag is in the cloud (its repositories' tags are immutable)."""
        return f"{self.ref}@{self.id}"

    def describe(self) -> str:
        return f"{self.ref} ({self.id.removeprefix('sha256:')[:12]})"


def default_ref(step: Step) -> str:
    return f"{step.image}:{LOCAL_IMAGE_TAG}"


def container_name(job_name: str) -> str:
    return CONTAINER_PREFIX + job_name


def _docker(*args: str, timeout: float = _DOCKER_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["docker", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def docker_problem() -> str | None:
    """Why ``docker run`` cannot work here, or None when the daemon answers."""
    if shutil.which("docker") is None:
        return "the docker command is not installed (or not on PATH)"
    try:
        answer = _docker("version", "--format", "{{.Server.Version}}")
    except subprocess.TimeoutExpired:
        return f"the Docker daemon did not answer within {_DOCKER_TIMEOUT} s"
    if answer.returncode != 0:
        lines = (answer.stderr or answer.stdout).strip().splitlines()
        why = lines[-1] if lines else f"docker version exited with status {answer.returncode}"
        return f"the Docker daemon is not reachable: {why}"
    return None


def inspect(ref: str) -> dict | None:
    """``docker image inspect`` of one local image; None when Docker has no such image."""
    answer = _docker("image", "inspect", ref)
    if answer.returncode != 0:
        return None
    (found,) = json.loads(answer.stdout)
    return found


def parse_step_images(values: Iterable[str]) -> dict[str, str]:
    """``STEP=IMAGE`` options -> {step name: image}; unknown steps are an error."""
    images: dict[str, str] = {}
    for value in values:
        name, sep, ref = value.partition("=")
        if not sep or not ref.strip():
            raise ValueError(f"--image {value!r}: use STEP=IMAGE, e.g. RunMSA=foldline-msa:dev")
        images[step_by_name(name.strip()).name] = ref.strip()
    return images


def resolve(
    in_images: Iterable[str], overrides: Mapping[str, str] | None = None
) -> dict[str, StepImage]:
    """The image of each named step, checked with Docker.

    Raises :class:`ContainersUnavailable` when Docker does not answer or any image is
    missing, naming every missing image and how to build it (or to leave its step out).
    """
    steps = [step_by_name(name) for name in in_images]
    overrides = dict(overrides or {})
    problem = docker_problem()
    if problem is not None:
        raise ContainersUnavailable(
            f"--containers runs each step with `docker run IMAGE train`, but {problem}. "
            "Install Docker and start its daemon, or run without --containers."
        )
    found: dict[str, StepImage] = {}
    missing: list[str] = []
    for step in steps:
        ref = overrides.get(step.name) or default_ref(step)
        described = inspect(ref)
        if described is None:
            missing.append(f"  {step.name}: {ref}")
            continue
        env = dict(item.partition("=")[::2] for item in described["Config"].get("Env") or [])
        found[step.name] = StepImage(step.name, ref, described["Id"], env)
    if missing:
        to_build = [s.image for s in steps if s.name not in found and s.name not in overrides]
        text = "--containers: Docker has no image for these steps:\n" + "\n".join(missing)
        if to_build:
            text += (
                f"\nBuild them from the repository root: `{BUILD_COMMAND} "
                f"{' '.join(to_build)}` (--cpu: AlphaFold without CUDA; see "
                "containers/README.md)."
            )
        text += "\nOr run a step as a local process, as without --containers: " + " ".join(
            f"--no-container {name}" for name in [s.name for s in steps if s.name not in found]
        )
        raise ContainersUnavailable(text)
    return found


def steps_in_images(containers: bool, leave_out: Iterable[str]) -> list[str]:
    """The steps ``--containers`` runs in images: all, less those named by --no-container."""
    if not containers:
        return []
    left_out = {step_by_name(name.strip()).name for name in leave_out}
    return [step.name for step in STEPS if step.name not in left_out]


def stop(name: str, grace: int = 10) -> None:
    """``docker stop``: SIGTERM, then SIGKILL after ``grace`` seconds (as StopTrainingJob)."""
    try:
        _docker("stop", "--time", str(grace), name, timeout=grace + _DOCKER_TIMEOUT)
    except subprocess.TimeoutExpired:
        _docker("kill", name)


def describe_placement(images: Mapping[str, StepImage]) -> str:
    """Where each step runs, for the run's output: its image, or a local process."""
    width = max(len(step.name) for step in STEPS)
    lines = []
    for step in STEPS:
        image = images.get(step.name)
        where = image.describe() if image is not None else "local process (--no-container)"
        lines.append(f"  {step.name:<{width}}  {where}")
    return "steps (docker run IMAGE train):\n" + "\n".join(lines)


def stack_parameters(images: Mapping[str, StepImage]) -> dict[str, str]:
    """Stack parameters that follow the images, as a deployment sets them for its images.

    ``MsaEngine`` is the default of each run's MsaEngine, which feeds the MSA step's
    Environment (FOLDLINE_MSA_ENGINE, which wins over the image's own), and the start
    function's MSA cache key: where the MSA step runs in an image that names its engine,
    both must say that engine (unless an upload's MsaEngine tag asks for another).
    """
    image = images.get(MSA_STEP.name)
    engine = image.env.get(msa_cache.ENGINE_ENV) if image is not None else None
    return {MSA_ENGINE_PARAMETER: engine} if engine else {}
