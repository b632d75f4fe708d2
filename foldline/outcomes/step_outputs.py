"""Pipeline step outputs in S3: find a step's ``model.tar.gz`` and unpack it safely.

SageMaker writes a training step's output to ``<output path>/<training job name>/output/
model.tar.gz``, and foldline's output path for a step is ``runs/<run_id>/<step dir>/``
(:func:`foldline.spec.layout.step_output_prefix`). The job name is only known once the job
exists, so an archive is found from the step's training job (ModelArtifacts, which also
covers a cache hit whose output lives under an earlier run) or, failing that, by listing
the step's prefix.
"""

from __future__ import annotations

import fnmatch
import gzip
import io
import json
import logging
import tarfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from foldline.spec import layout
from foldline.spec.formats import is_not_found
from foldline.spec.parameters import INFERENCE_STEPS, Step

log = logging.getLogger("foldline.outcomes.step_outputs")

ARCHIVE_SUFFIX = "/output/" + layout.MODEL_ARCHIVE
#: refuse archives that would unpack to more than this (a runaway or hostile tarball)
MAX_UNPACKED_BYTES = 8 * 1024**3


class MissingOutput(FileNotFoundError):
    """A step's model.tar.gz is not where the pipeline puts it."""


class CorruptOutput(ValueError):
    """A step's archive is not a readable, safe tar.gz."""


def describe_training_job(sagemaker: Any, training_job_name: str) -> dict | None:
    """DescribeTrainingJob, or None where the job is unknown (moto, local mode)."""
    try:
        return sagemaker.describe_training_job(TrainingJobName=training_job_name)
    except ClientError as err:
        log.info("no training job %s: %s", training_job_name, err.response["Error"]["Code"])
        return None


def training_job_archive(sagemaker: Any, training_job_name: str) -> str | None:
    """The S3 URI of a training job's model.tar.gz (its ModelArtifacts), or None."""
    described = describe_training_job(sagemaker, training_job_name) or {}
    return (described.get("ModelArtifacts") or {}).get("S3ModelArtifacts")


def find_archive(s3: Any, bucket: str, run_id: str, step: Step) -> str:
    """The key of the step's newest ``…/output/model.tar.gz`` under the run's step prefix.

    Newest, because a retried step leaves one job folder per attempt and only the last
    one is the output the pipeline went on with.
    """
    prefix = layout.step_output_prefix(run_id, step.output_dir)
    newest: dict | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if obj["Key"].endswith(ARCHIVE_SUFFIX) and (
                newest is None or obj["LastModified"] > newest["LastModified"]
            ):
                newest = obj
    if newest is None:
        raise MissingOutput(f"{step.name}: no {layout.MODEL_ARCHIVE} under s3://{bucket}/{prefix}")
    return newest["Key"]


def locate_archive(
    s3: Any, bucket: str, run_id: str, step: Step, *, archive_uri: str | None = None
) -> tuple[str, str]:
    """(bucket, key) of a step's archive: ``archive_uri`` when known, else by listing."""
    if archive_uri:
        return layout.split_s3_uri(archive_uri)
    return bucket, find_archive(s3, bucket, run_id, step)


def _safe_members(tar: tarfile.TarFile, wanted: set[str] | None) -> Iterable[tarfile.TarInfo]:
    total = 0
    patterns = [w for w in wanted or () if "*" in w]
    for member in tar:
        name = member.name.removeprefix("./")
        if (
            wanted is not None
            and name not in wanted
            and not any(fnmatch.fnmatchcase(name, p) for p in patterns)
        ):
            continue
        total += member.size
        if total > MAX_UNPACKED_BYTES:
            raise CorruptOutput(f"archive unpacks to more than {MAX_UNPACKED_BYTES} bytes")
        yield member


def extract(archive: Path, dest: Path, *, only: Iterable[str] | None = None) -> Path:
    """Unpack ``archive`` into ``dest`` and return ``dest``.

    Uses tarfile's ``data`` filter: absolute names, ``..``, links leaving ``dest`` and
    device files are refused (raised as :class:`CorruptOutput`), and modes are sanitised.
    ``only`` limits extraction to those member paths (e.g. a manifest from a large MSA
    archive); a path with ``*`` is a pattern (:func:`fnmatch.fnmatchcase`: ``*`` also
    matches ``/``).
    """
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {name.removeprefix("./") for name in only} if only is not None else None
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in _safe_members(tar, wanted):
                tar.extract(member, dest, filter="data")
    # tarfile's FilterError (a refused member) is a TarError
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise CorruptOutput(f"{archive.name}: {err}") from err
    return dest


def fetch_step_output(
    s3: Any,
    bucket: str,
    run_id: str,
    step: Step,
    dest: Path,
    *,
    archive_uri: str | None = None,
    only: Iterable[str] | None = None,
) -> tuple[Path, str]:
    """Download and unpack a step's model.tar.gz into ``dest``.

    Returns the folder and the archive's S3 URI (for reports and notices).
    """
    src_bucket, key = locate_archive(s3, bucket, run_id, step, archive_uri=archive_uri)
    dest.mkdir(parents=True, exist_ok=True)
    local = dest.parent / f"{dest.name}.{layout.MODEL_ARCHIVE}"
    try:
        s3.download_file(src_bucket, key, str(local))
    except ClientError as err:
        if is_not_found(err):
            raise MissingOutput(f"{step.name}: s3://{src_bucket}/{key} does not exist") from err
        raise
    try:
        extract(local, dest, only=only)
    finally:
        local.unlink(missing_ok=True)
    return dest, layout.s3_uri(src_bucket, key)


def model_locations(s3: Any, bucket: str, run_id: str) -> dict[str, str]:
    """Engine step name -> S3 URI of its model.tar.gz, for the steps that left one.

    Best effort, for notices: a listing that is refused counts as nothing found.
    """
    found = {}
    for step in INFERENCE_STEPS:
        try:
            found[step.name] = layout.s3_uri(bucket, find_archive(s3, bucket, run_id, step))
        except MissingOutput:
            continue
        except ClientError as err:
            log.warning("cannot list %s outputs: %s", step.name, err.response["Error"]["Code"])
    return found


#: a step that skipped (OpenFold on a multimer) leaves its manifest and little else; an
#: archive bigger than this made models, and is not read only to learn its status
SKIP_ARCHIVE_MAX_BYTES = 1024 * 1024


def finished_step_status(s3: Any, bucket: str, run_id: str, step: Step) -> str | None:
    """What a step that ended well says of itself: its ``foldline-step.json`` ``status``
    ("skipped" for a step that ran nothing, "succeeded"), read from a small archive.

    SageMaker only knows that the job exited 0; a skip is the step program's own word.
    Returns "succeeded" for an archive too big to be a skip, None while the archive is not
    there yet or cannot be read (the caller may ask again).
    """
    try:
        key = find_archive(s3, bucket, run_id, step)
        head = s3.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] > SKIP_ARCHIVE_MAX_BYTES:
            return "succeeded"
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except (MissingOutput, ClientError) as err:
        log.info("no archive to read for %s of %s: %s", step.name, run_id, err)
        return None
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            for member in _safe_members(tar, {layout.STEP_MANIFEST}):
                handle = tar.extractfile(member)
                if handle is not None:
                    return str(json.load(handle).get("status") or "succeeded")
    except (tarfile.TarError, OSError, ValueError, CorruptOutput) as err:
        log.info("unreadable archive %s for %s: %s", key, step.name, err)
        return None
    return "succeeded"  # no manifest: nothing says it skipped
