"""Container definitions and the build scripts (the databases setup job and the file
system: tests/databases/, tests/infra/test_databases_path.py, the template).

What the built images do is tested in tests/containers/ (they build them and run the
steps under the real training toolkit); this file checks the definitions themselves.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from foldline.spec.parameters import LOCAL_IMAGE_TAG, STEPS

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = ROOT / "containers"
ALPHAFOLD = CONTAINERS / "alphafold"
BASH = shutil.which("bash") or "/bin/bash"
DOCKERFILES = [ALPHAFOLD / "Dockerfile", CONTAINERS / "openfold" / "Dockerfile"]
REQUIREMENTS = sorted(ALPHAFOLD.glob("requirements-*.txt"))


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def build_args(dockerfile: Path) -> dict[str, str]:
    args = {}
    for keyword, rest in instructions(dockerfile):
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value.strip('"')
    return args


def expand(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), text)


def stage_environments(dockerfile: Path) -> dict[str, dict[str, str]]:
    """Each build stage's ENV, inherited through ``FROM <stage>``."""
    stages: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            image, *alias = rest.split()
            current = dict(stages.get(image, {}))
            stages[alias[-1] if alias else image] = current
        elif keyword == "ENV":
            for name, value in re.findall(r'(\w+)=("[^"]*"|\S+)', rest):
                current[name] = value.strip('"')
    return stages


def build_script_table(name: str) -> dict[str, str]:
    """A bash associative array of containers/build_local.sh, as a dict."""
    text = (CONTAINERS / "build_local.sh").read_text()
    body = re.search(rf"declare -A {name}=\(([^)]*)\)", text, flags=re.DOTALL)[1]
    return dict(re.findall(r"\[([\w-]+)\]=(\S+)", body))


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_version_is_pinned(dockerfile):
    args = build_args(dockerfile)
    stages = set()
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            image, *alias = rest.split()
            image = expand(image, args)
            if alias:
                stages.add(alias[-1])
            if image in stages:
                continue  # a stage of this file
            assert (
                re.search(r":[\w.-]+$|@sha256:[0-9a-f]{64}$", image) and ":latest" not in image
            ), rest
        if keyword != "RUN":
            continue
        command = expand(rest, args)
        for pip in re.findall(r"pip3? install ([^&|;]+)", command):
            packages = [
                w for w in pip.split() if not w.startswith("-") and "/" not in w and w not in (".",)
            ]
            for package in packages:
                if package.startswith("http") or package.endswith(".html"):
                    continue
                assert "==" in package, f"unpinned pip package {package!r} in {dockerfile.name}"
        for clone in re.findall(r"git clone ([^&|;]+)", command):
            assert re.search(r"--branch \"?v?[0-9][\w.]*\"?", clone), f"unpinned clone: {clone}"
        for url in re.findall(r"https://\S+", command):
            assert "latest" not in url, f"floating download {url}"


@pytest.mark.parametrize("requirements", REQUIREMENTS, ids=lambda p: p.name)
def test_every_package_of_the_alphafold_images_is_pinned(requirements):
    """Installed with ``pip --no-deps``: each file lists everything, each at one version."""
    lines = [
        line.strip()
        for line in requirements.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines
    for line in lines:
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*==[0-9][\w.+!-]*", line), line
    assert f"-r /opt/foldline/{requirements.name}" in (ALPHAFOLD / "Dockerfile").read_text()


def pins(path: Path) -> dict[str, str]:
    found = re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+)$", path.read_text(), flags=re.MULTILINE)
    return dict(found)


def test_alphafold_images_pins():
    data, model = (
        pins(ALPHAFOLD / "requirements-data.txt"),
        pins(ALPHAFOLD / "requirements-model.txt"),
    )
    cuda = pins(ALPHAFOLD / "requirements-cuda12.txt")
    assert data["alphafold-colabfold"] == "2.3.20"
    # the MSA image's engine has AlphaFold's data pipeline only: no model, no relax
    assert not {"jax", "jaxlib", "dm-haiku", "openmm", "pdbfixer"} & set(data)
    assert {"jax", "jaxlib", "dm-haiku", "openmm", "pdbfixer", "ml-collections"} <= set(model)
    assert model["jax"] == model["jaxlib"] == cuda["jax-cuda12-plugin"] == cuda["jax-cuda12-pjrt"]
    assert cuda["openmm-cuda-12"] == model["openmm"]
    assert not set(data) & set(model) and not (set(data) | set(model)) & set(cuda)
    assert build_args(ALPHAFOLD / "Dockerfile")["CUDA"] == "12"  # as users build it


def test_foldline_environment_pins_are_pyprojects():
    pyproject = dict(
        re.findall(r'"([a-z0-9-]+)(?:\[[^]]*\])?==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    )
    steps = pins(ALPHAFOLD / "requirements-steps.txt")
    assert steps["sagemaker-training"] == "5.1.4"
    for package in ("boto3", "biopython", "numpy", "pyhmmer", "gemmi"):
        assert steps[package] == pyproject[package], package


def test_images_run_the_step_programs_with_the_real_engine():
    """Each image's SAGEMAKER_PROGRAM exists and runs the pipeline step's own module."""
    dockerfiles, targets = build_script_table("DOCKERFILE"), build_script_table("TARGET")
    for step in STEPS:
        dockerfile = CONTAINERS / dockerfiles[step.image]
        env = stage_environments(dockerfile)[targets[step.image]]
        program = env["SAGEMAKER_PROGRAM"]
        entry = (CONTAINERS / "entry" / program).read_text()
        assert f"from {step.program} import main" in entry
        assert env["FOLDLINE_FOLD_ENGINE"] == "real"
    for dockerfile in DOCKERFILES:
        commands = " ".join(
            rest for keyword, rest in instructions(dockerfile) if keyword in ("RUN", "COPY", "ADD")
        )
        assert not re.search(r"params_model|finetuning_.*\.pt|openfold_params|\.npz", commands), (
            "weights must not ride in the image"
        )
    env = stage_environments(ALPHAFOLD / "Dockerfile")
    # sagemaker-training runs the program from /opt/ml/code (its code_dir) unless the job's
    # hyperparameter sagemaker_submit_directory says otherwise; the variable is ignored
    copies = [rest for keyword, rest in instructions(ALPHAFOLD / "Dockerfile") if keyword == "COPY"]
    assert copies.count("containers/entry/ /opt/ml/code/") == 2  # msa and alphafold targets
    assert "SAGEMAKER_SUBMIT_DIRECTORY" not in env["alphafold"]
    assert env["msa"]["FOLDLINE_MSA_ENGINE"] == "alphafold"
    assert env["alphafold"]["FOLDLINE_AF_RUNNER"] == "/opt/foldline/run_alphafold.py"
    assert env["alphafold"]["FOLDLINE_ENGINE_PYTHON"] == "/opt/alphafold-env/bin/python"


def test_build_script_builds_every_step_image_under_the_local_tag():
    assert set(build_script_table("DOCKERFILE")) == {step.image for step in STEPS}
    assert set(build_script_table("TARGET")) == {step.image for step in STEPS}
    text = (CONTAINERS / "build_local.sh").read_text()
    assert f'TAG="{LOCAL_IMAGE_TAG}"' in text
    assert "ALL_IMAGES=(" + " ".join(step.image for step in STEPS) + ")" in text
    push = (CONTAINERS / "build_and_push.sh").read_text()
    assert "build_local.sh" in push  # one build recipe for local images and ECR


def run_build_local(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BASH, str(CONTAINERS / "build_local.sh"), *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_build_local_refuses_an_unknown_image_before_building():
    done = run_build_local("foldline-nothing")
    assert done.returncode == 64 and "unknown image foldline-nothing" in done.stderr


def test_build_local_without_docker_says_so_and_exits_2(tmp_path):
    for tool in ("cat", "sed", "mktemp"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    done = run_build_local("foldline-msa", PATH=str(tmp_path))
    assert done.returncode == 2 and "docker is not installed" in done.stderr


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BASH, str(CONTAINERS / "build_and_push.sh"), *args],
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_build_script_prints_one_tag_for_all_three_images():
    done = run_script(
        "--print-uris",
        AWS_ACCOUNT_ID="123456789012",
        AWS_REGION="eu-west-1",
        FOLDLINE_IMAGE_TAG="v0.1.0-3-gabc1234",
    )
    assert done.returncode == 0, done.stderr
    registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert done.stdout.split() == [
        f"MsaImageUri={registry}/foldline-msa:v0.1.0-3-gabc1234",
        f"AlphaFoldImageUri={registry}/foldline-alphafold:v0.1.0-3-gabc1234",
        f"OpenFoldImageUri={registry}/foldline-openfold:v0.1.0-3-gabc1234",
    ]


def test_build_script_without_docker_says_so_and_exits_2(tmp_path):
    # a PATH with the script's own needs and no docker, whatever this machine has
    for tool in ("cat", "sed", "tr"):
        (tmp_path / tool).symlink_to(shutil.which(tool))
    done = run_script(
        AWS_ACCOUNT_ID="1", AWS_REGION="eu-west-1", FOLDLINE_IMAGE_TAG="t", PATH=str(tmp_path)
    )
    assert done.returncode == 2
    assert "docker is not installed" in done.stderr
