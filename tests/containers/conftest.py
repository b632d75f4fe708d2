"""Build the MSA and AlphaFold step images here, and run training jobs in them as SageMaker does.

A session fixture builds ``foldline-msa:local`` and ``foldline-alphafold:local`` (the CPU
variant, ``--cpu``) through ``containers/build_local.sh``; Docker's layer cache makes a
repeat take seconds. The base image is ``$FOLDLINE_BASE_IMAGE``, default
``foldline-base/debian:bookworm`` (``tests/containers/prepare.sh`` makes it with
``../shared/tools/local-base-image.sh``: no container registry is reachable here).

:class:`TrainingJob` lays out what SageMaker gives a training container —
``/opt/ml/input/config/{hyperparameters,inputdataconfig,resourceconfig}.json``,
``/opt/ml/input/data/<channel>/`` — and runs
``docker run --rm -v input:/opt/ml/input -v model:/opt/ml/model -v output:/opt/ml/output
IMAGE train``: the image's own ``train`` (the SageMaker training toolkit) starts the step.
The databases channel is mounted read-only, as the FSx channel is. No network.

Skips only where Docker itself is absent (CI has it); a failing build is an error.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

from foldline.spec.parameters import ALPHAFOLD_STEP, LOCAL_IMAGE_TAG, MSA_STEP

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
IN_IMAGE = HERE / "in_image"
EXAMPLES = REPO / "examples"
BASE_IMAGE = os.environ.get("FOLDLINE_BASE_IMAGE", "foldline-base/debian:bookworm")
MSA_IMAGE = f"{MSA_STEP.image}:{LOCAL_IMAGE_TAG}"
ALPHAFOLD_IMAGE = f"{ALPHAFOLD_STEP.image}:{LOCAL_IMAGE_TAG}"
HOST = "algo-1"  # SageMaker's name for a job's first (here: only) instance


def docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "docker is not installed (tests/containers/prepare.sh installs and starts it)"
    if subprocess.run(["docker", "info"], capture_output=True, check=False).returncode != 0:
        return "the docker daemon is not reachable"
    return None


def pytest_collection_modifyitems(items):
    ours = [item for item in items if "tests/containers/" in str(item.fspath).replace(os.sep, "/")]
    problem = docker_problem() if ours else None
    for item in ours:
        item.add_marker(pytest.mark.containers)
        item.add_marker(pytest.mark.slow)
        if problem:
            item.add_marker(pytest.mark.skip(reason=problem))


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    """Build (or find cached) the MSA and AlphaFold images, CPU variant.

    pytest-xdist workers each run session fixtures: a lock makes the second wait for the
    first build and then find every layer cached.
    """
    with open(Path(tempfile.gettempdir()) / "foldline-image-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = subprocess.run(
            [
                str(REPO / "containers" / "build_local.sh"),
                "--cpu",
                "--base",
                BASE_IMAGE,
                MSA_STEP.image,
                ALPHAFOLD_STEP.image,
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.split() == [MSA_IMAGE, ALPHAFOLD_IMAGE]
    return {"msa": MSA_IMAGE, "alphafold": ALPHAFOLD_IMAGE}


def run_in_image(
    image: str, *command: str, mounts: dict[Path, str] | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    """A command in the image (entry point replaced), e.g. the engine's Python."""
    argv = ["docker", "run", "--rm", "--network", "none"]
    for host, inside in (mounts or {}).items():
        argv += ["-v", f"{host}:{inside}"]
    argv += ["--entrypoint", command[0], image, *command[1:]]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


class TrainingJob:
    """One SageMaker training job's /opt/ml, on the host, and its run in an image."""

    def __init__(self, root: Path, hyperparameters: dict[str, str]):
        self.root = root
        self.input = root / "input"
        self.model = root / "model"
        self.output = root / "output"
        self.read_only: dict[str, Path] = {}
        for folder in (self.input / "config", self.input / "data", self.model, self.output):
            folder.mkdir(parents=True, exist_ok=True)
        self.hyperparameters = hyperparameters
        self.environment: dict[str, str] = {}

    def channel(self, name: str) -> Path:
        path = self.input / "data" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def read_only_channel(self, name: str, source: Path) -> None:
        """A channel mounted read-only from elsewhere, as SageMaker mounts FSx."""
        self.channel(name)
        self.read_only[name] = source

    def write_config(self) -> None:
        config = self.input / "config"
        # SageMaker passes hyperparameters as strings; the SDK JSON-quotes them
        (config / "hyperparameters.json").write_text(
            json.dumps({k: json.dumps(v) for k, v in self.hyperparameters.items()})
        )
        channels = sorted(p.name for p in (self.input / "data").iterdir() if p.is_dir())
        (config / "inputdataconfig.json").write_text(
            json.dumps(
                {
                    name: {
                        "TrainingInputMode": "File",
                        "S3DistributionType": "FullyReplicated",
                        "RecordWrapperType": "None",
                    }
                    for name in channels
                }
            )
        )
        (config / "resourceconfig.json").write_text(
            json.dumps(
                {
                    "current_host": HOST,
                    "hosts": [HOST],
                    "network_interface_name": "eth0",
                    "current_instance_type": "ml.m5.xlarge",
                }
            )
        )

    def run(self, image: str, timeout: int = 1800) -> subprocess.CompletedProcess:
        self.write_config()
        # the toolkit waits (for ever) until every host of resourceconfig.json resolves:
        # the container is algo-1, as SageMaker (and its Local Mode) names it, and without
        # a network Docker writes no /etc/hosts line for it
        argv = [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--hostname",
            HOST,
            "--add-host",
            f"{HOST}:127.0.0.1",
            "-v",
            f"{self.input}:/opt/ml/input",
            "-v",
            f"{self.model}:/opt/ml/model",
            "-v",
            f"{self.output}:/opt/ml/output",
        ]
        for name, source in self.read_only.items():
            argv += ["-v", f"{source}:/opt/ml/input/data/{name}:ro"]
        for key, value in self.environment.items():
            argv += ["-e", f"{key}={value}"]
        argv += [image, "train"]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        (self.root / "job.log").write_text(done.stdout + done.stderr)
        return done

    def manifest(self) -> dict:
        return json.loads((self.model / "foldline-step.json").read_text())

    def model_tar_gz(self, target: Path) -> Path:
        """What SageMaker uploads when the job ends: model/ as model.tar.gz."""
        target.mkdir(parents=True, exist_ok=True)
        archive = target / "model.tar.gz"
        with tarfile.open(archive, "w:gz") as tar:
            for entry in sorted(self.model.iterdir()):
                tar.add(entry, arcname=entry.name)
        return archive

    def failure(self) -> str | None:
        path = self.output / "failure"
        return path.read_text() if path.is_file() else None


@pytest.fixture(scope="session")
def databases(tmp_path_factory, images) -> Path:
    """The bundled example databases plus a pdb70 made from their template chains."""
    root = tmp_path_factory.mktemp("databases")
    shutil.copytree(EXAMPLES / "databases", root, dirs_exist_ok=True)
    done = run_in_image(
        images["msa"],
        "bash",
        "/t/make_pdb70.sh",
        "/db/pdb_seqres/pdb_seqres.txt",
        "/db/pdb70/pdb70",
        mounts={HERE: "/t:ro", root: "/db"},
    )
    assert done.returncode == 0, done.stderr
    return root


def fasta_of(name: str, sequence: str) -> str:
    return f">{name}\n{sequence}\n"
