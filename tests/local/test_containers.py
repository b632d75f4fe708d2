"""``foldline local run --containers``: each step in its real image, as SageMaker runs it.

The images are the ones ``containers/build_local.sh`` builds (``foldline-msa:local`` and
``foldline-alphafold:local``, CPU variant), through the image tests' own session fixture
(``tests/containers/conftest.py``: the build, and the bundled databases plus a pdb70 made
from their template chains). The OpenFold image cannot be built here (its source is on
GitHub), so RunOpenFold runs as a local process (``--no-container RunOpenFold``).

No AlphaFold weights can be downloaded here: RunAlphaFold folds with random parameters in
the real shapes (``tests/containers/in_image/make_random_params.py``), one model
(``FOLDLINE_ALPHAFOLD_MODELS=model_1``). The query is the bundled example's first 30
residues: AlphaFold on the CPU takes minutes for them and far longer for all 188 (over 17
minutes for one model on this shared 2-core machine, unfinished). The bundled databases
hold small BFD, not BFD/UniRef30, hence DbPreset reduced_dbs.

Skips only where Docker itself is absent (CI has it).
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.local import containers, training
from foldline.local.containers import StepImage
from foldline.local.paths import LOCAL_STACK_PARAMETERS
from foldline.local.runtime import LocalRuntime
from foldline.local.training import TrainingJob
from foldline.spec.layout import STEP_MANIFEST
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP
from foldline.steps import msa_cache
from pipeline import placeholders
from tests.containers.conftest import databases, images, run_in_image  # noqa: F401 - fixtures

from .conftest import EXAMPLE

#: the bundled example's first residues: a real query with real hits, quick to fold
FRAGMENT = 30

DOCKER_PROBLEM = containers.docker_problem()
needs_docker = pytest.mark.skipif(DOCKER_PROBLEM is not None, reason=str(DOCKER_PROBLEM))

TOOLKIT_START = "Invoking script with the following command"  # sagemaker-training's log


def _invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, ["local", "run", *args], env=env)


def _plain(text: str) -> str:
    """Output without rich's panel borders, whitespace runs as one space."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


# -- what --containers says before anything starts (no image needed) -----------------------


def test_without_docker_the_run_says_so_and_starts_nothing(tmp_path):
    result = _invoke(
        str(EXAMPLE),
        "--workdir",
        str(tmp_path / "work"),
        "--containers",
        env={"PATH": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "docker command is not installed" in result.output
    assert "run without --containers" in result.output
    assert not (tmp_path / "work").exists()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--no-container", "RunOpenFold"], "need --containers"),
        (["--image", "RunMSA=foldline-msa:dev"], "need --containers"),
        (["--containers", "--no-container", "RunNothing"], "no pipeline step named 'RunNothing'"),
        (["--containers", "--image", "RunMSA"], "use STEP=IMAGE"),
        (["--param", "DbPreset=tiny_dbs"], "DbPreset 'tiny_dbs' is not allowed"),
        (["--param", "RunId=mine"], "'RunId' is not a run parameter a user sets"),
        (["--job-env", "NOVALUE"], "use KEY=VALUE"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path, args, says):
    result = _invoke(str(EXAMPLE), "--workdir", str(tmp_path / "work"), *args)
    assert result.exit_code == 2, result.output
    assert says in _plain(result.output), result.output
    assert not (tmp_path / "work").exists()


def test_the_msa_engine_parameter_is_the_stacks():
    """--containers sets the stack parameter MsaEngine from the MSA image's
    FOLDLINE_MSA_ENGINE: the name must be the template's, the default of the run's
    MsaEngine, which feeds that variable (an upload's tag may pick another)."""
    name = containers.MSA_ENGINE_PARAMETER
    assert name == placeholders.MSA_ENGINE and name in LOCAL_STACK_PARAMETERS
    template = (Path(__file__).resolve().parents[2] / "template.yaml").read_text()
    assert f'"DefaultValue": "${{{name}}}"' in template
    assert f'"{msa_cache.ENGINE_ENV}": {{\n' in template
    image = StepImage(MSA_STEP.name, "msa:x", "sha256:0", {msa_cache.ENGINE_ENV: "alphafold"})
    assert containers.stack_parameters({MSA_STEP.name: image}) == {name: "alphafold"}
    assert containers.stack_parameters({MSA_STEP.name: StepImage(MSA_STEP.name, "m", "i")}) == {}
    assert containers.stack_parameters({}) == {}


def test_the_build_command_named_is_the_images_build_script():
    script = Path(__file__).resolve().parents[2] / containers.BUILD_COMMAND
    assert script.is_file() and os.access(script, os.X_OK)


@needs_docker
def test_a_missing_image_is_named_with_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setattr(containers, "LOCAL_IMAGE_TAG", "no-such-tag-for-the-test")
    with pytest.raises(containers.ContainersUnavailable) as missing:
        containers.resolve(
            [MSA_STEP.name, OPENFOLD_STEP.name], {MSA_STEP.name: "foldline-test/absent:none"}
        )
    text = str(missing.value)
    assert "RunMSA: foldline-test/absent:none" in text
    assert "RunOpenFold: foldline-openfold:no-such-tag-for-the-test" in text
    assert f"`{containers.BUILD_COMMAND} {OPENFOLD_STEP.image}`" in text
    assert "--no-container RunMSA --no-container RunOpenFold" in text


# -- a whole run with RunMSA and RunAlphaFold in their images ------------------------------


@pytest.fixture(scope="module")
def weights_and_databases(tmp_path_factory, images, databases):  # noqa: F811 - fixtures
    """The image tests' databases plus random AlphaFold parameters for model_1."""
    root = tmp_path_factory.mktemp("databases-with-weights")
    shutil.copytree(databases, root, dirs_exist_ok=True)
    tools = Path(__file__).resolve().parents[1] / "containers" / "in_image"
    done = run_in_image(
        images["alphafold"],
        "/opt/alphafold-env/bin/python",
        "/t/make_random_params.py",
        "/db",
        "model_1",
        mounts={tools: "/t:ro", root: "/db"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory, images, weights_and_databases):  # noqa: F811 - fixture
    """Two runs in one work folder: one that folds, then one whose AlphaFold job fails in
    its image (weights for a model that has none), its MSA step a step-cache hit; and the
    images' ids as the runs began (a later build may move the tags)."""
    files = tmp_path_factory.mktemp("inputs")
    work = files.parent / "work"
    common = [
        "--workdir",
        str(work),
        "--databases",
        str(weights_and_databases),
        "--containers",
        "--no-container",
        OPENFOLD_STEP.name,
        "--param",
        "DbPreset=reduced_dbs",
    ]
    header, *lines = EXAMPLE.read_text().splitlines()
    fragment = f"{header}\n{''.join(lines)[:FRAGMENT]}\n"
    good, bad = files / "xylanase.fasta", files / "xylanase-again.fasta"
    for path in (good, bad):
        path.write_text(fragment)
    ids = {key: _image_id(ref) for key, ref in images.items()}
    started = time.monotonic()
    folded = _invoke(str(good), *common, "--job-env", "FOLDLINE_ALPHAFOLD_MODELS=model_1")
    took = time.monotonic() - started
    failed = _invoke(str(bad), *common, "--job-env", "FOLDLINE_ALPHAFOLD_MODELS=model_2")
    return work, folded, failed, took, ids


def _jobs(work: Path, step: str) -> list[Path]:
    return sorted((work / "jobs").glob(f"pipelines-*-{step}-*"), key=lambda p: p.stat().st_mtime)


def _manifest(job: Path) -> dict:
    with tarfile.open(job / "model.tar.gz") as tar:
        return json.load(tar.extractfile(STEP_MANIFEST))


def _records(work: Path) -> list[dict]:
    found = [json.loads(p.read_text()) for p in (work / "executions").glob("*.json")]
    return sorted(found, key=lambda r: r["execution"]["CreationTime"])


def _image_id(ref: str) -> str:
    return containers.inspect(ref)["Id"]


@pytest.mark.slow
@pytest.mark.containers
@needs_docker
def test_steps_run_in_their_images(runs, images):  # noqa: F811 - fixture
    """One test for the two runs' checks: under pytest-xdist's default (load) scheduling,
    tests of one module may land on both workers, and each would make the runs again."""
    work, folded, failed, took, ids = runs
    print(f"run with RunMSA and RunAlphaFold in their images: {took:.0f} s")
    _check_the_run_succeeds_and_the_report_is_made(work, folded)
    _check_the_output_says_where_each_step_runs(folded, images, ids)
    for step, key in ((MSA_STEP, "msa"), (ALPHAFOLD_STEP, "alphafold")):
        _check_the_step_ran_in_its_image_under_the_toolkit(work, images[key], ids[key], step)
    _check_the_engines_are_the_images(work)
    _check_the_msa_step_reached_the_local_cloud_from_its_container(work, folded)
    _check_the_training_job_names_the_image_that_ran(work, images["msa"], ids["msa"])
    _check_the_work_folder_stays_the_users(work)
    _check_a_failure_in_the_image_is_the_jobs_failure_reason(work, failed)


def _check_the_run_succeeds_and_the_report_is_made(work, folded):
    assert folded.exit_code == 0, folded.output
    assert "xylanase.fasta: Succeeded" in folded.output
    (report,) = (work / "reports").glob("*/report.html")
    assert report.stat().st_size > 0


def _check_the_output_says_where_each_step_runs(folded, images, ids):  # noqa: F811
    lines = folded.output.splitlines()
    msa_id = ids["msa"].removeprefix("sha256:")[:12]
    af_id = ids["alphafold"].removeprefix("sha256:")[:12]
    assert any(line.split() == [MSA_STEP.name, images["msa"], f"({msa_id})"] for line in lines)
    assert any(
        line.split() == [ALPHAFOLD_STEP.name, images["alphafold"], f"({af_id})"] for line in lines
    )
    assert any(
        line.split()[:2] == [OPENFOLD_STEP.name, "local"] and "--no-container" in line
        for line in lines
    )


def _check_the_step_ran_in_its_image_under_the_toolkit(work, ref, image_id, step):
    job = _jobs(work, step.name)[0]
    record = json.loads((job / "container.json").read_text())
    assert record["image"] == ref and record["exit_status"] == 0
    assert record["image_id"] == image_id
    command = record["command"]
    assert command[:3] == ["docker", "run", "--rm"]
    assert command[-2:] == [record["image_id"], "train"]
    assert "--network" in command and command[command.index("--network") + 1] == "host"
    assert f"type=bind,source={job / 'model'},target=/opt/ml/model" in command
    assert any(m.endswith(",target=/opt/ml/input/data/databases,readonly") for m in command)
    log = (job / "training.log").read_text()
    assert TOOLKIT_START in log and "Reporting training SUCCESS" in log
    # the toolkit read the config files as SageMaker writes them
    training_env = json.loads(
        next(line for line in log.splitlines() if line.startswith("SM_TRAINING_ENV="))[16:]
    )
    assert training_env["job_name"] == job.name
    assert training_env["current_host"] == "algo-1" and training_env["hosts"] == ["algo-1"]
    assert training_env["channel_input_dirs"]["databases"] == "/opt/ml/input/data/databases"
    assert training_env["hyperparameters"]["DbPreset"] == "reduced_dbs"
    assert training_env["current_instance_type"].startswith("ml.")
    assert (job / "output" / "success").is_file()  # the toolkit's own mark


def _check_the_engines_are_the_images(work):
    msa = _manifest(_jobs(work, MSA_STEP.name)[0])
    # MsaEngine followed the image's FOLDLINE_MSA_ENGINE: AlphaFold's own data pipeline
    assert msa["engine"] == "alphafold" and msa["status"] == "succeeded"
    assert msa["command"][0].startswith("/opt/alphafold-env/")
    alphafold = _manifest(_jobs(work, ALPHAFOLD_STEP.name)[0])
    assert alphafold["engine"] == "alphafold" and alphafold["status"] == "succeeded"
    assert alphafold["weights"]["kind"] == "random"
    assert alphafold["outputs"]["ranked"] == ["ranked_0.pdb"]
    openfold_job = _jobs(work, OPENFOLD_STEP.name)[0]
    assert not (openfold_job / "container.json").exists()  # --no-container: a process
    assert _manifest(openfold_job)["engine"] == "template-cpu"


def _check_the_msa_step_reached_the_local_cloud_from_its_container(work, folded):
    run_id = next(
        line.split()[-1] for line in folded.output.splitlines() if line.startswith("run id:")
    )
    (entry,) = (work / "state" / "s3").glob("*/objects/msa-cache/*/manifest.json")
    stored = json.loads(entry.read_text())
    assert stored["engine"] == "alphafold"
    # the step named its run from DescribeTrainingJob, asked of the local cloud
    assert stored["origin_run"] == run_id


def _check_the_training_job_names_the_image_that_ran(work, ref, image_id):
    cache = json.loads((work / "state" / "step-cache.json").read_text())
    (entry,) = [e for e in cache.values() if MSA_STEP.name in e["job_name"]]
    image = entry["job_arguments"]["AlgorithmSpecification"]["TrainingImage"]
    assert image == f"{ref}@{image_id}"


def _check_the_work_folder_stays_the_users(work):
    uid = os.getuid()
    assert all(p.lstat().st_uid == uid for p in (work / "jobs").rglob("*"))


def _check_a_failure_in_the_image_is_the_jobs_failure_reason(work, failed):
    assert failed.exit_code == 1, failed.output
    record = _records(work)[-1]
    assert record["execution"]["PipelineExecutionStatus"] == "Failed"
    steps = {s["StepName"]: s for s in record["steps"]}
    assert "CacheHitResult" in steps[MSA_STEP.name]  # same image, same arguments
    assert len(_jobs(work, MSA_STEP.name)) == 1
    job = _jobs(work, ALPHAFOLD_STEP.name)[-1]
    written = (job / "output" / "failure").read_text().strip()
    assert "params_model_2.npz" in written  # the step's own words, from the image
    assert steps[ALPHAFOLD_STEP.name]["FailureReason"] == f"AlgorithmError: {written}"
    assert json.loads((job / "container.json").read_text())["exit_status"] == 1


# -- stopping an execution stops its container ---------------------------------------------


SLEEP_STEP = """import time
print("sleeping", flush=True)
time.sleep(600)
"""
WRITE_STEP = """import pathlib
pathlib.Path("/opt/ml/model/made.txt").write_text("made")
pathlib.Path("/opt/ml/output/data/note.txt").write_text("note")
"""


@pytest.fixture(scope="module")
def toy_image(tmp_path_factory, images):  # noqa: F811 - fixture
    """The MSA image with two more step programs for the toolkit to run (SAGEMAKER_PROGRAM):
    one sleeps (saying when it started), one writes a model file and output data."""
    ref = "foldline-test/toy-steps:local"
    context = tmp_path_factory.mktemp("toy-image")
    (context / "sleep_step.py").write_text(SLEEP_STEP)
    (context / "write_step.py").write_text(WRITE_STEP)
    (context / "Dockerfile").write_text(
        f"FROM {images['msa']}\nCOPY sleep_step.py write_step.py /opt/ml/code/\n"
        "ENV SAGEMAKER_PROGRAM=sleep_step.py\n"
    )
    done = subprocess.run(
        ["docker", "build", "-q", "-t", ref, str(context)],
        capture_output=True,
        text=True,
        env={**os.environ, "DOCKER_BUILDKIT": "0"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return StepImage(MSA_STEP.name, ref, containers.inspect(ref)["Id"])


def _containers_of(label_value: str = "") -> list[str]:
    label = containers.JOB_LABEL + (f"={label_value}" if label_value else "")
    listed = subprocess.run(
        ["docker", "ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return listed.stdout.split()


@pytest.mark.slow
@pytest.mark.containers
@needs_docker
def test_stopping_the_execution_stops_the_container(tmp_path, toy_image):
    runtime = LocalRuntime(tmp_path / "work", images={MSA_STEP.name: toy_image})
    with runtime:
        sub = runtime.upload(EXAMPLE)
        deadline = time.monotonic() + 120
        job = None
        while job is None and time.monotonic() < deadline:
            for candidate in (runtime.workdir / "jobs").glob(f"pipelines-*-{MSA_STEP.name}-*"):
                log = candidate / "training.log"
                if log.is_file() and "sleeping" in log.read_text():
                    job = candidate
            time.sleep(0.5)
        assert job is not None, "the step's container did not start"
        assert _containers_of(job.name) == [containers.container_name(job.name)]
        arn = runtime.run(sub.run_id)["execution_arn"]
        runtime.cloud.client("sagemaker").stop_pipeline_execution(PipelineExecutionArn=arn)
        items = runtime.wait([sub.run_id], timeout=120)
        steps = {s["StepName"]: s["StepStatus"] for s in runtime.steps(arn)}
    assert items[sub.run_id]["status"] == "Stopped"
    assert steps == {MSA_STEP.name: "Stopped"}
    assert _containers_of(job.name) == []  # stopped and removed (--rm)
    record = json.loads((job / "container.json").read_text())
    assert record["exit_status"] != 0 and record["image_id"] == toy_image.id


@pytest.mark.slow
@pytest.mark.containers
@needs_docker
def test_files_the_container_writes_go_back_to_the_workspace_owner(tmp_path, toy_image):
    """Containers run as root, as SageMaker runs them; the work folder must stay the user's."""
    owner = (4242, 4343)  # not this process's user: the give-back must really happen
    job = TrainingJob(
        name="toy-job",
        program="unused",
        root=tmp_path / "toy-job",
        databases=tmp_path,
        arguments={
            "OutputDataConfig": {"S3OutputPath": "s3://toy-bucket/out/"},
            "HyperParameters": {"sagemaker_program": "write_step.py"},
        },
        env={"SAGEMAKER_PROGRAM": "write_step.py"},
        image=toy_image,
        owner=owner,
    )
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="toy-bucket")
        result = training.run(job, s3)
        archive = s3.get_object(Bucket="toy-bucket", Key="out/toy-job/output/model.tar.gz")
        with tarfile.open(fileobj=io.BytesIO(archive["Body"].read())) as tar:
            assert tar.extractfile("made.txt").read() == b"made"
        s3.head_object(Bucket="toy-bucket", Key="out/toy-job/output/output.tar.gz")
    assert result.succeeded, (job.root / "training.log").read_text()[-3000:]
    written = [
        job.model_dir / "made.txt",
        job.output_dir / "data" / "note.txt",
        job.output_dir / "success",
        job.root / "training.log",
    ]
    for path in written:
        assert (path.stat().st_uid, path.stat().st_gid) == owner, path
    record = json.loads((job.root / "container.json").read_text())
    assert record["files"] == "given back to 4242:4343"
