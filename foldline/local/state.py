"""What survives a restart of the local cloud: S3 objects and DynamoDB items, on disk.

moto keeps everything in memory. :class:`StateStore` mirrors each bucket's current objects
under ``<state>/s3/<bucket>/`` with an index (``index.json``: per key its file, ETag,
version id, upload time, content type and tags) and each table's items to
``<state>/dynamodb/<table>.json`` (DynamoDB JSON, so types survive). :meth:`restore`
puts them back into a fresh server before the bucket's notifications and the rules
exist, so a restore starts nothing; each object gets its old version id back, so an
upload keeps the run id it was given.

Safe against what a bucket may hold and against a process killed mid-save:

- an object's file is ``objects/<key>`` only where the key is a plain relative path
  (no ``..``, ``.`` or empty segment, no leading or trailing ``/``, no NUL, each segment
  a valid file name) and that path is free; any other key (``notes/../../x``, a folder
  marker ``inputs/campaign/``, ``a`` beside ``a/b``) is stored as ``escaped/<sha256 of
  the key>``. No key reaches outside the bucket's folder, whatever it says;
- every file is written to a temporary name and renamed into place, and the index is
  written last: a save cut short leaves the previous state readable;
- :meth:`save_object` writes one object through at once (the local runtime calls it
  for every upload), so an upload survives even ``kill -9`` a moment later.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import threading
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from foldline.local.cloud import ACCOUNT_ID, LocalCloud
from foldline.spec.formats import is_not_found

INDEX = "index.json"
OBJECTS = "objects"
ESCAPED = "escaped"
_NAME_MAX = 255  # bytes in one file name


def _bucket_dir(root: Path, bucket: str) -> Path:
    return root / "s3" / bucket


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def mirrored_path(key: str) -> PurePosixPath | None:
    """``objects/<key>`` where the key is a plain relative path, else None."""
    parts = key.split("/")
    if (
        not key
        or "\x00" in key
        or any(p in ("", ".", "..") for p in parts)
        or any(len(p.encode()) > _NAME_MAX - 10 for p in parts)
    ):
        return None
    return PurePosixPath(OBJECTS, *parts)


def escaped_path(key: str) -> PurePosixPath:
    return PurePosixPath(ESCAPED, hashlib.sha256(key.encode()).hexdigest())


def _inside(folder: Path, relative: str | PurePosixPath) -> Path:
    """``folder / relative``, refusing anything that resolves outside ``folder``."""
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise ValueError(f"{relative} is outside {folder}")
    return path


def _stamp(moment: Any) -> str | None:
    if isinstance(moment, _dt.datetime):
        return moment.astimezone(_dt.UTC).isoformat()
    return None


class StateStore:
    """The work folder's ``state/``: save and restore the local cloud's buckets and tables."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._lock = threading.RLock()

    # -- S3 -----------------------------------------------------------------------------------

    def _index(self, bucket: str) -> dict[str, dict[str, Any]]:
        path = _bucket_dir(self.root, bucket) / INDEX
        return json.loads(path.read_text()) if path.is_file() else {}

    def _write_index(self, bucket: str, index: dict[str, dict[str, Any]]) -> None:
        _write_atomically(
            _bucket_dir(self.root, bucket) / INDEX, json.dumps(index, indent=1).encode()
        )

    def _store(
        self,
        s3: Any,
        bucket: str,
        key: str,
        index: dict[str, dict[str, Any]],
        listed: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Download one object into its file; its index entry back (not yet written)."""
        folder = _bucket_dir(self.root, bucket)
        old = index.get(key) or {}
        # the listing's time has milliseconds, HeadObject's (kept in the index) seconds
        listed_at = _stamp(listed["LastModified"].replace(microsecond=0)) if listed else None
        if listed is not None and (old.get("etag"), old.get("last_modified")) == (
            listed["ETag"],
            listed_at,
        ):
            file = old.get("file")
            if file and _inside(folder, file).is_file():
                return old  # unchanged since the last save
        head = s3.head_object(Bucket=bucket, Key=key)
        entry = {
            "etag": head["ETag"],
            "version_id": head.get("VersionId"),
            "last_modified": _stamp(head.get("LastModified")),
            "size": head.get("ContentLength"),
            "content_type": head.get("ContentType"),
            "tags": s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"],
        }
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        relative = mirrored_path(key)
        written = None
        if relative is not None:
            try:
                target = _inside(folder, relative)
                if not target.is_dir():
                    _write_atomically(target, body)
                    written = relative
            except (OSError, ValueError):  # a file where a folder must go, or the reverse
                written = None
        if written is None:
            written = escaped_path(key)
            _write_atomically(_inside(folder, written), body)
        return {**entry, "file": str(written)}

    def save_object(self, cloud: LocalCloud, bucket: str, key: str) -> None:
        """Write one object through to disk now (an upload, before anything else happens)."""
        s3 = cloud.client("s3")
        with self._lock:
            index = self._index(bucket)
            index[key] = self._store(s3, bucket, key, index)
            self._write_index(bucket, index)

    def save(self, cloud: LocalCloud) -> None:
        """Every bucket's current objects and every table's items."""
        s3 = cloud.client("s3")
        with self._lock:
            for bucket in cloud.stack.buckets():
                folder = _bucket_dir(self.root, bucket.name)
                old = self._index(bucket.name)
                index: dict[str, dict[str, Any]] = {}
                # the current version of each key (not deleted). Not ListObjectVersions:
                # moto answers it with a deep copy of every version, bodies and all, which
                # every few seconds over a bucket of GBs of step outputs grew the process
                # by GBs (a 100-record screening drop reached 9 GB)
                pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
                for page in pages:
                    for listed in page.get("Contents", []):
                        try:
                            index[listed["Key"]] = self._store(
                                s3, bucket.name, listed["Key"], old, listed
                            )
                        except ClientError as err:  # deleted since it was listed
                            if not is_not_found(err):
                                raise
                self._write_index(bucket.name, index)
                kept = {entry.get("file") for entry in index.values()}
                for entry in old.values():  # deleted (or moved) since the last save
                    if entry.get("file") and entry["file"] not in kept:
                        try:
                            _inside(folder, entry["file"]).unlink(missing_ok=True)
                        except (OSError, ValueError):
                            pass
            dynamodb = cloud.client("dynamodb")
            for table in cloud.stack.tables():
                items: list[dict] = []
                for page in dynamodb.get_paginator("scan").paginate(TableName=table.name):
                    items.extend(page.get("Items", []))
                _write_atomically(
                    self.root / "dynamodb" / f"{table.logical_id}.json", json.dumps(items).encode()
                )

    def saved_objects(self, bucket: str) -> dict[str, dict[str, Any]]:
        """The index of one bucket as last saved: key -> file, ETag, version id, time..."""
        with self._lock:
            return self._index(bucket)

    # -- restore --------------------------------------------------------------------------------

    def restore(self, cloud: LocalCloud) -> int:
        """Put saved objects and items back; returns how many things were restored."""
        restored = 0
        s3 = cloud.client("s3")
        for bucket in cloud.stack.buckets():
            folder = _bucket_dir(self.root, bucket.name)
            for key, meta in self._index(bucket.name).items():
                try:
                    path = _inside(folder, meta.get("file") or mirrored_path(key) or "")
                except ValueError:
                    continue  # an index that points outside the folder: not ours to read
                if not path.is_file():
                    continue
                extra: dict[str, Any] = {}
                if meta.get("content_type"):
                    extra["ContentType"] = meta["content_type"]
                if meta.get("tags"):
                    extra["Tagging"] = urlencode({t["Key"]: t["Value"] for t in meta["tags"]})
                put = s3.put_object(Bucket=bucket.name, Key=key, Body=path.read_bytes(), **extra)
                _keep_identity(bucket.name, key, put.get("VersionId"), meta)
                restored += 1
        dynamodb = cloud.client("dynamodb")
        for table in cloud.stack.tables():
            path = self.root / "dynamodb" / f"{table.logical_id}.json"
            if path.is_file():
                for item in json.loads(path.read_text()):
                    dynamodb.put_item(TableName=table.name, Item=item)
                    restored += 1
        return restored


def _keep_identity(bucket: str, key: str, new_version: str | None, meta: dict[str, Any]) -> None:
    """Give a restored object its saved version id and upload time back.

    A run id is derived from the upload's version id: without this a restored upload
    would name another run than the one printed when it was uploaded. moto's server runs
    in this process, so its object is reached directly (no API sets a version id).
    """
    from moto.s3.models import s3_backends

    saved, when = meta.get("version_id"), meta.get("last_modified")
    if not new_version or new_version == "null" or not saved or saved == "null":
        return
    backend = s3_backends[ACCOUNT_ID]["aws"]
    for fake in backend.get_bucket(bucket).keys.getlist(key, []):
        if fake.version_id == new_version:
            fake._version_id = saved
            if when:
                fake.last_modified = (
                    _dt.datetime.fromisoformat(when).astimezone(_dt.UTC).replace(tzinfo=None)
                )  # moto keeps naive UTC
            return


def save_executions(cloud: LocalCloud, folder: Path) -> None:
    """Each execution as the SageMaker API describes it, with its parameters and steps.

    moto forgets executions when it stops; this record (``<id>.json``) is what is left
    of them, for people and tests to read.
    """
    sagemaker = cloud.client("sagemaker")
    for pipeline in cloud.stack.pipelines():
        summaries = sagemaker.list_pipeline_executions(PipelineName=pipeline.name)
        for summary in summaries["PipelineExecutionSummaries"]:
            arn = summary["PipelineExecutionArn"]
            record = {
                "execution": sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn),
                "parameters": sagemaker.list_pipeline_parameters_for_execution(
                    PipelineExecutionArn=arn
                )["PipelineParameters"],
                "steps": sagemaker.list_pipeline_execution_steps(
                    PipelineExecutionArn=arn, SortOrder="Ascending"
                )["PipelineExecutionSteps"],
            }
            for key in ("ResponseMetadata",):
                record["execution"].pop(key, None)
            _write_atomically(
                folder / f"{arn.rsplit('/', 1)[-1]}.json",
                json.dumps(record, indent=1, default=str).encode(),
            )
