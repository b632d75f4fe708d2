"""One training-job step, run locally under SageMaker's training contract.

The job's workspace is laid out like a training container's ``/opt/ml``::

    <work>/jobs/<job name>/
        input/config/{hyperparameters,inputdataconfig,resourceconfig}.json
        input/data/<channel>/      S3 channels downloaded from the local S3;
                                   FSx channels linked to a local database folder
        model/                     SM_MODEL_DIR, tarred to model.tar.gz afterwards
        output/data/               SM_OUTPUT_DATA_DIR
        output/failure             the FailureReason a failing program leaves
        training.log               the program's stdout and stderr (local CloudWatch)

The step program (``python -m <Step.program>``) runs as a subprocess with the
toolkit's variables (SM_CHANNEL_*, SM_HP_*, SM_HPS, SM_MODEL_DIR, ...). Afterwards
``model/`` goes to ``<S3OutputPath>/<job name>/output/model.tar.gz`` as SageMaker puts it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from foldline.layout import split_s3_uri
from foldline.parameters import CHANNEL_DATABASES

#: SageMaker keeps the first 1024 characters of a FailureReason
FAILURE_REASON_LIMIT = 1024
_LOG_TAIL = 15


class StepStopped(Exception):
    """The execution was stopped while the job ran."""


@dataclass
class TrainingJob:
    """A training job's resolved arguments and where it runs."""

    name: str
    arguments: dict[str, Any]  # the step's Arguments, expressions evaluated
    program: str  # module run as ``python -m``
    root: Path
    databases: Path
    env: dict[str, str] = field(default_factory=dict)
    num_cpus: int = field(default_factory=lambda: os.cpu_count() or 1)

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
        return self.root / "training.log"

    @property
    def model_artifacts_uri(self) -> str:
        base = self.arguments["OutputDataConfig"]["S3OutputPath"].rstrip("/")
        return f"{base}/{self.name}/output/model.tar.gz"

    def hyperparameters(self) -> dict[str, str]:
        return {k: str(v) for k, v in (self.arguments.get("HyperParameters") or {}).items()}


@dataclass
class JobResult:
    succeeded: bool
    failure_reason: str | None = None
    model_artifacts: str | None = None


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
        raise RuntimeError(f"ClientError: S3DataType {source['S3DataType']} is not supported locally")
    bucket, prefix = split_s3_uri(uri)
    found = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            relative = key[len(prefix):].lstrip("/") or key.rsplit("/", 1)[-1]
            if key.endswith("/"):
                continue
            target = dest / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, key, str(target))
            found += 1
    if not found:
        raise RuntimeError(f"ClientError: No S3 objects found under S3 URL \"{uri}\" given in "
                           "input data source. Please ensure that the bucket exists in the "
                           "selected region, that objects exist under that S3 prefix, and "
                           "that the role has the required permissions.")  # fmt: skip


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


def prepare(job: TrainingJob, s3: Any) -> dict[str, str]:
    """Lay out the workspace, fetch the channels; return the program's environment."""
    data = job.root / "input" / "data"
    config = job.root / "input" / "config"
    for folder in (data, config, job.model_dir, job.output_dir / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    channels: dict[str, Path] = {}
    input_config = {}
    for channel in job.arguments.get("InputDataConfig") or []:
        name = channel["ChannelName"]
        source = channel["DataSource"]
        folder = data / name
        if "S3DataSource" in source:
            folder.mkdir(parents=True, exist_ok=True)
            _download_channel(s3, source["S3DataSource"], folder)
        elif "FileSystemDataSource" in source:
            # read-only in SageMaker (FileSystemAccessMode ro): linked, never copied
            folder.symlink_to(_filesystem_folder(name, source["FileSystemDataSource"],
                                                 job.databases), target_is_directory=True)  # fmt: skip
        else:
            raise RuntimeError(f"ClientError: channel {name}: data source {list(source)} "
                               "is not supported locally")  # fmt: skip
        channels[name] = folder
        input_config[name] = {"TrainingInputMode": channel.get("InputMode", "File")}
    hps = job.hyperparameters()
    (config / "hyperparameters.json").write_text(json.dumps(hps, indent=1))
    (config / "inputdataconfig.json").write_text(json.dumps(input_config, indent=1))
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "lo"}))

    # The SageMaker training toolkit keeps its own sagemaker_* keys out of SM_HP_*/SM_HPS.
    user_hps = {k: _hp_value(v) for k, v in hps.items() if not k.startswith("sagemaker_")}
    env = {
        **os.environ,
        **job.env,
        **{k: str(v) for k, v in (job.arguments.get("Environment") or {}).items()},
        "SM_MODEL_DIR": str(job.model_dir),
        "SM_OUTPUT_DIR": str(job.output_dir),
        "SM_OUTPUT_DATA_DIR": str(job.output_dir / "data"),
        "SM_INPUT_DIR": str(job.root / "input"),
        "SM_INPUT_CONFIG_DIR": str(config),
        "SM_CHANNELS": json.dumps(sorted(channels)),
        "SM_HPS": json.dumps(user_hps),
        "SM_NUM_CPUS": str(job.num_cpus),
        "SM_NUM_GPUS": "0",
        "SM_CURRENT_HOST": "algo-1",
        "SM_HOSTS": json.dumps(["algo-1"]),
        "SM_USER_ENTRY_POINT": hps.get("sagemaker_program", job.program),
        "TRAINING_JOB_NAME": job.name,
        "FOLDLINE_FAILURE_FILE": str(job.failure_file),
        "PYTHONUNBUFFERED": "1",
    }
    for name, folder in channels.items():
        env[f"SM_CHANNEL_{_env_key(name)}"] = str(folder)
    for key, value in user_hps.items():
        env[f"SM_HP_{_env_key(key)}"] = value
    return env


def _tar_model(model_dir: Path, archive: Path) -> None:
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model_dir)), recursive=False)


def _failure_reason(job: TrainingJob, returncode: int) -> str:
    text = ""
    if job.failure_file.is_file():
        text = job.failure_file.read_text(errors="replace").strip()
    if not text:
        lines = job.log_path.read_text(errors="replace").splitlines() if job.log_path.exists() else []
        text = (f"ExecuteUserScriptError: python -m {job.program} exited with status "
                f"{returncode}\n" + "\n".join(lines[-_LOG_TAIL:]))  # fmt: skip
    reason = f"AlgorithmError: {text}"
    return reason if len(reason) <= FAILURE_REASON_LIMIT else reason[: FAILURE_REASON_LIMIT - 1] + "…"


def run(job: TrainingJob, s3: Any, stopped: Callable[[], bool] = lambda: False) -> JobResult:
    """Run the job to its end; upload model.tar.gz on success."""
    try:
        env = prepare(job, s3)
    except Exception as err:  # noqa: BLE001 - the job fails before the program starts
        return JobResult(False, str(err)[:FAILURE_REASON_LIMIT])
    with open(job.log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", job.program], cwd=job.root, env=env,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        while True:
            try:
                process.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stopped():
                    process.terminate()
                    try:
                        process.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        process.kill()
                    raise StepStopped(job.name) from None
    if process.returncode != 0:
        return JobResult(False, _failure_reason(job, process.returncode))
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
