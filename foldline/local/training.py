"""One training-job step, run locally under SageMaker's training contract.

The job's workspace is laid out like a training container's ``/opt/ml``::

    <work>/jobs/<job name>/
        input/config/{hyperparameters,inputdataconfig,resourceconfig}.json
        input/data/<channel>/      S3 channels downloaded from the local S3;
                                   FSx channels: the local database folder
        model/                     SM_MODEL_DIR, tarred to model.tar.gz afterwards
        output/data/               SM_OUTPUT_DATA_DIR
        output/failure             the FailureReason a failing program leaves
        training.log               the job's stdout and stderr (local CloudWatch)
        container.json             with an image: what ran, and how it ended

Two ways to run the step program, one contract (a *launch*):

- as a process (the default): ``python -m <Step.program>`` with the variables the
  SageMaker training toolkit would set (SM_CHANNEL_*, SM_HP_*, SM_HPS, SM_MODEL_DIR, ...),
  FSx channels linked to the database folder;
- in the step's image (``foldline local run --containers``): ``docker run IMAGE train``
  with ``input/``, ``model/`` and ``output/`` mounted at ``/opt/ml/...`` and the FSx channel
  bind-mounted read-only, as SageMaker and SageMaker Local Mode run a training image. The
  image's own toolkit reads the config files and sets the SM_* variables.

Either way the exit status and ``output/failure`` make the job's status and
FailureReason, and ``model/`` goes to ``<S3OutputPath>/<job name>/output/model.tar.gz``
as SageMaker puts it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from foldline.local import containers
from foldline.local.containers import StepImage
from foldline.spec import layout
from foldline.spec.layout import split_s3_uri
from foldline.spec.parameters import CHANNEL_DATABASES

#: SageMaker keeps the first 1024 characters of a FailureReason
FAILURE_REASON_LIMIT = 1024
_LOG_TAIL = 15
#: the one host of a single-instance job, as SageMaker and its Local Mode name it
HOST = "algo-1"
INSTANCE_GROUP = "homogeneousCluster"
#: where a training container sees the job's folders
OPT_ML = "/opt/ml"
RECORD_NAME = "container.json"


class StepStopped(Exception):
    """The execution was stopped while the job ran."""


def _owner() -> tuple[int, int]:
    return os.getuid(), os.getgid()


@dataclass
class TrainingJob:
    """A training job's resolved arguments and where it runs."""

    name: str
    arguments: dict[str, Any]  # the step's Arguments, expressions evaluated
    program: str  # module run as ``python -m`` (without an image)
    root: Path
    databases: Path
    env: dict[str, str] = field(default_factory=dict)
    num_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    image: StepImage | None = None  # run `docker run IMAGE train` instead of the module
    arn: str = ""
    #: who the workspace belongs to: files a container (root) leaves are given back
    owner: tuple[int, int] = field(default_factory=_owner)

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def log_path(self) -> Path:
        return self.root / layout.LOCAL_JOB_LOG

    @property
    def model_artifacts_uri(self) -> str:
        base = self.arguments["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        return f"{base}/{self.name}/output/model.tar.gz"

    def hyperparameters(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.arguments.get("HyperParameters") or {}).items()}

    def environment(self) -> dict[str, str]:
        """The job's Environment (CreateTrainingJob), from the pipeline definition."""
        return {k: str(v) for k, v in (self.arguments.get("Environment") or {}).items()}


@dataclass
class JobResult:
    succeeded: bool
    failure_reason: str | None = None
    model_artifacts: str | None = None


@dataclass
class Inputs:
    """The laid-out workspace: each channel's folder, and the FSx channels' sources."""

    channels: dict[str, Path]  # channel -> input/data/<channel>
    file_systems: dict[str, Path]  # FSx channel -> the local folder standing in for it


@dataclass
class Launch:
    """How one job's program is started and stopped."""

    argv: list[str]
    env: dict[str, str]
    what: str  # names the program in a FailureReason without a failure file
    stop: Callable[[subprocess.Popen], None]


def _hp_value(text: str) -> str:
    """The toolkit's SM_HP_<KEY>: JSON-decoded where it decodes, strings unquoted."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str) else json.dumps(value)


def _env_key(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def _download_channel(s3: Any, source: dict, dest: Path) -> None:
    uri = source["S3Uri"]
    if source.get("S3DataType", "S3Prefix") != "S3Prefix":
        raise RuntimeError(
            f"ClientError: S3DataType {source['S3DataType']} is not supported locally"
        )
    bucket, prefix = split_s3_uri(uri)
    found = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            if key.endswith("/"):
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
            found += 1
    if not found:
        raise RuntimeError(
            f'ClientError: No S3 objects found under S3 URL "{uri}" given in '
            "input data source. Please ensure that the bucket exists in the "
            "selected region, that objects exist under that S3 prefix, and "
            "that the role has the required permissions."
        )


def _filesystem_folder(channel: str, source: dict, databases: Path) -> Path:
    """The local folder standing in for an FSx channel: the database folder for
    ``databases``, else its subfolder named like the FSx path's last part."""
    if channel == CHANNEL_DATABASES:
        folder = databases
    else:
        folder = databases / Path(source.get("DirectoryPath", channel)).name
    if not folder.is_dir():
        raise RuntimeError(
            f"ClientError: the local folder for file-system channel {channel!r} "
            f"({folder}) does not exist"
        )
    return folder.resolve()


def _channel_config(channel: dict) -> dict[str, str]:
    """One channel's entry in inputdataconfig.json, as SageMaker writes it."""
    entry = {"TrainingInputMode": channel.get("InputMode", "File")}
    s3 = channel["DataSource"].get("S3DataSource")
    if s3 is not None:
        entry["S3DistributionType"] = s3.get("S3DataDistributionType", "FullyReplicated")
        entry["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
    if channel.get("ContentType"):
        entry["ContentType"] = channel["ContentType"]
    return entry


def resource_config(job: TrainingJob) -> dict[str, Any]:
    """resourceconfig.json of a one-instance job, as SageMaker writes it (the toolkit reads
    current_host, hosts, current_instance_type, current_group_name, instance_groups and
    network_interface_name)."""
    instance_type = (job.arguments.get("ResourceConfig") or {}).get("InstanceType", "local")
    return {
        "current_host": HOST,
        "current_instance_type": instance_type,
        "current_group_name": INSTANCE_GROUP,
        "hosts": [HOST],
        "instance_groups": [
            {"instance_group_name": INSTANCE_GROUP, "instance_type": instance_type, "hosts": [HOST]}
        ],
        "network_interface_name": "eth0",
    }


def prepare(job: TrainingJob, s3: Any) -> Inputs:
    """Lay out the workspace: config files, S3 channels downloaded, FSx folders found."""
    data = job.root / "input" / "data"
    config = job.root / "input" / "config"
    for folder in (data, config, job.model_dir, job.output_dir / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    inputs = Inputs({}, {})
    input_config = {}
    for channel in job.arguments.get("InputDataConfig") or []:
        name = channel["ChannelName"]
        source = channel["DataSource"]
        folder = data / name
        if "S3DataSource" in source:
            folder.mkdir(parents=True, exist_ok=True)
            _download_channel(s3, source["S3DataSource"], folder)
        elif "FileSystemDataSource" in source:
            inputs.file_systems[name] = _filesystem_folder(
                name, source["FileSystemDataSource"], job.databases
            )
        else:
            raise RuntimeError(
                f"ClientError: channel {name}: data source {list(source)} is not supported locally"
            )
        inputs.channels[name] = folder
        input_config[name] = _channel_config(channel)
    # CreateTrainingJob's HyperParameters are strings; the toolkit JSON-decodes each
    (config / "hyperparameters.json").write_text(json.dumps(job.hyperparameters(), indent=1))
    (config / "inputdataconfig.json").write_text(json.dumps(input_config, indent=1))
    (config / "resourceconfig.json").write_text(json.dumps(resource_config(job), indent=1))
    return inputs


def _terminate(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def process_launch(job: TrainingJob, inputs: Inputs) -> Launch:
    """``python -m <program>`` with the variables the SageMaker training toolkit sets."""
    for name, source in inputs.file_systems.items():
        # read-only in SageMaker (FileSystemAccessMode ro): linked, never copied
        inputs.channels[name].symlink_to(source, target_is_directory=True)
    hps = job.hyperparameters()
    # The SageMaker training toolkit keeps its own sagemaker_* keys out of SM_HP_*/SM_HPS.
    user_hps = {k: _hp_value(v) for k, v in hps.items() if not k.startswith("sagemaker_")}
    env = {
        **os.environ,
        **job.env,
        **job.environment(),
        "SM_MODEL_DIR": str(job.model_dir),
        "SM_OUTPUT_DIR": str(job.output_dir),
        "SM_OUTPUT_DATA_DIR": str(job.output_dir / "data"),
        "SM_INPUT_DIR": str(job.root / "input"),
        "SM_INPUT_CONFIG_DIR": str(job.root / "input" / "config"),
        "SM_CHANNELS": json.dumps(sorted(inputs.channels)),
        "SM_HPS": json.dumps(user_hps),
        "SM_NUM_CPUS": str(job.num_cpus),
        "SM_NUM_GPUS": "0",
        "SM_CURRENT_HOST": HOST,
        "SM_HOSTS": json.dumps([HOST]),
        "SM_USER_ENTRY_POINT": hps.get("sagemaker_program", job.program),
        "TRAINING_JOB_NAME": job.name,
        "FOLDLINE_FAILURE_FILE": str(job.failure_file),
        "PYTHONUNBUFFERED": "1",
    }
    if job.arn:
        env["TRAINING_JOB_ARN"] = job.arn
    for name, folder in inputs.channels.items():
        env[f"SM_CHANNEL_{_env_key(name)}"] = str(folder)
    for key, value in user_hps.items():
        env[f"SM_HP_{_env_key(key)}"] = value
    return Launch([sys.executable, "-m", job.program], env, f"python -m {job.program}", _terminate)


def container_environment(job: TrainingJob) -> dict[str, str]:
    """What a training container gets besides its image's ENV: the job's name and ARN
    (SageMaker sets TRAINING_JOB_NAME and TRAINING_JOB_ARN), the way to the local cloud
    (AWS_ENDPOINT_URL, its dummy credentials, the region: a job's role gives those in
    the cloud), and the job's Environment from the pipeline definition, which wins."""
    env = {**job.env, "TRAINING_JOB_NAME": job.name}
    if job.arn:
        env["TRAINING_JOB_ARN"] = job.arn
    return {**env, **job.environment()}


def container_launch(job: TrainingJob, inputs: Inputs) -> Launch:
    """``docker run IMAGE train`` with the job's folders where SageMaker mounts them.

    ``--network host``: a step reaches the local cloud (moto on 127.0.0.1) as a cloud
    job reaches AWS, and ``algo-1`` is this host. Variables pass by name (``-e NAME``),
    their values in the docker command's environment, so none shows in a process list.
    """
    assert job.image is not None
    name = containers.container_name(job.name)
    mounts = [
        (job.root / "input", f"{OPT_ML}/input", "rw"),
        (job.model_dir, f"{OPT_ML}/model", "rw"),
        (job.output_dir, f"{OPT_ML}/output", "rw"),
    ]
    for channel, source in inputs.file_systems.items():
        inputs.channels[channel].mkdir(parents=True, exist_ok=True)  # the mount point
        mounts.append((source, f"{OPT_ML}/input/data/{channel}", "ro"))
    env = container_environment(job)
    # The toolkit waits (up to 15 minutes) until every host in resourceconfig.json
    # resolves, as a cluster's do in SageMaker: the one host is this machine.
    argv = [
        "docker",
        "run",
        "--rm",
        "--name",
        name,
        "--label",
        f"{containers.JOB_LABEL}={job.name}",
        "--network",
        "host",
        "--add-host",
        f"{HOST}:127.0.0.1",
    ]
    for host, target, mode in mounts:
        argv += [
            "--mount",
            f"type=bind,source={host},target={target}" + (",readonly" if mode == "ro" else ""),
        ]
    for key in sorted(env):
        argv += ["-e", key]
    argv += [job.image.id, "train"]  # the very image resolved and recorded

    def stop(process: subprocess.Popen) -> None:
        containers.stop(name)  # the container, not only the docker client
        _terminate(process)

    return Launch(argv, {**os.environ, **env}, f"{job.image.ref} train", stop)


def _tar_model(model_dir: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)


def _failure_reason(job: TrainingJob, launch: Launch, returncode: int) -> str:
    text = ""
    if job.failure_file.is_file():
        text = job.failure_file.read_text(errors="replace").strip()
    if not text:
        lines = (
            job.log_path.read_text(errors="replace").splitlines() if job.log_path.exists() else []
        )
        text = (
            f"ExecuteUserScriptError: {launch.what} exited with status "
            f"{returncode}\n" + "\n".join(lines[-_LOG_TAIL:])
        )
    reason = f"AlgorithmError: {text}"
    return (
        reason if len(reason) <= FAILURE_REASON_LIMIT else reason[: FAILURE_REASON_LIMIT - 1] + "…"
    )


def _give_back(job: TrainingJob) -> str:
    """Files a container wrote as root go back to the workspace's owner (a plain user
    must be able to read and delete its work folder); says what was done."""
    assert job.image is not None
    uid, gid = job.owner
    if not any(p.lstat().st_uid != uid for p in job.root.rglob("*")):
        return "nothing to give back"
    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--user",
            "0:0",
            "--entrypoint",
            "chown",
            "--mount",
            f"type=bind,source={job.root},target=/job",
            job.image.id,
            "-R",
            "--no-dereference",
            f"{uid}:{gid}",
            "/job",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=300,
    )
    if done.returncode != 0:
        return f"chown to {uid}:{gid} failed: {done.stderr.strip()[-500:]}"
    return f"given back to {uid}:{gid}"


def _record(job: TrainingJob, launch: Launch, returncode: int | None, owner: str) -> None:
    assert job.image is not None
    (job.root / RECORD_NAME).write_text(
        json.dumps(
            {
                "image": job.image.ref,
                "image_id": job.image.id,
                "container": containers.container_name(job.name),
                "command": launch.argv,
                "exit_status": returncode,
                "files": owner,
            },
            indent=1,
        )
        + "\n"
    )


def run(job: TrainingJob, s3: Any, stopped: Callable[[], bool] = lambda: False) -> JobResult:
    """Run the job to its end; upload model.tar.gz on success."""
    try:
        inputs = prepare(job, s3)
        launch = (container_launch if job.image is not None else process_launch)(job, inputs)
    except Exception as err:  # noqa: BLE001 - the job fails before the program starts
        return JobResult(False, str(err)[:FAILURE_REASON_LIMIT])
    returncode: int | None = None
    try:
        with open(job.log_path, "w") as log:
            process = subprocess.Popen(
                launch.argv,
                cwd=job.root,
                env=launch.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            while True:
                try:
                    returncode = process.wait(timeout=0.2)
                    break
                except subprocess.TimeoutExpired:
                    if stopped():
                        launch.stop(process)
                        returncode = process.returncode
                        raise StepStopped(job.name) from None
    finally:
        if job.image is not None:
            _record(job, launch, returncode, _give_back(job))
    if returncode != 0:
        return JobResult(False, _failure_reason(job, launch, returncode))
    archive = job.root / "model.tar.gz"
    _tar_model(job.model_dir, archive)
    bucket, key = split_s3_uri(job.model_artifacts_uri)
    s3.upload_file(str(archive), bucket, key)
    output_files = [p for p in (job.output_dir / "data").rglob("*") if p.is_file()]
    if output_files:  # SageMaker uploads output/data as output.tar.gz beside the model
        output_archive = job.root / "output.tar.gz"
        _tar_model(job.output_dir / "data", output_archive)
        s3.upload_file(str(output_archive), bucket, key.rsplit("/", 1)[0] + "/output.tar.gz")
    return JobResult(True, model_artifacts=job.model_artifacts_uri)
