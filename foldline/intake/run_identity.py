"""Deterministic run ids: the same upload always maps to the same run.

A run id is ``<target slug>-<32 hex digits>``: the digest covers bucket, key and the
object's version id (its ETag where the bucket is unversioned), so a re-delivered event
names the same run and a new version of the same file names a new one. The id is a
valid SageMaker ``PipelineExecutionDisplayName`` (``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}``)
and ``ClientRequestToken`` (32-128 characters), which makes StartPipelineExecution
itself idempotent.
"""

from __future__ import annotations

import hashlib
import re

from foldline.spec.layout import target_name

_SLUG_MAX = 40
_DISPLAY_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$")


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:_SLUG_MAX].strip("-")
    return slug or "run"


def run_id_for(bucket: str, key: str, version: str) -> str:
    """The run id of one uploaded object version (``version``: version id, or ETag)."""
    if not version:
        raise ValueError("a run id needs the object's version id or ETag")
    digest = hashlib.sha256(f"{bucket}\0{key}\0{version.strip(chr(34))}".encode()).hexdigest()
    return f"{_slug(target_name(key))}-{digest[:32]}"


def member_run_id(campaign_id: str, number: int, record_id: str) -> str:
    """The run id of record ``number`` (1 = the first) of the screening drop whose campaign
    is ``campaign_id`` (that upload's own run id): named after the record, unique per
    upload version and record, the same on every delivery of the event."""
    digest = hashlib.sha256(f"{campaign_id}\0{number}".encode()).hexdigest()
    return f"{_slug(record_id)}-{digest[:32]}"


def upload_version(version_id: str | None, etag: str) -> str:
    """What identifies one upload: its version id, or its ETag where the bucket is
    unversioned (S3 then reports no version id, or the literal "null")."""
    return version_id if version_id and version_id != "null" else etag


def is_valid_run_id(run_id: str) -> bool:
    return 32 <= len(run_id) <= 82 and bool(_DISPLAY_NAME.match(run_id))
