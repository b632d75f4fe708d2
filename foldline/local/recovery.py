"""What a restart of the local runtime owes: uploads never started, runs cut short.

moto forgets its queues and executions when the runtime stops (Ctrl-C, SIGTERM, a crash,
``kill -9``); the work folder keeps the bucket and the runs table (:mod:`.state`). On
the next start, before anything runs:

- every upload under ``inputs/`` whose run id (from its key and version, as the start
  function derives it) has no run is work still owed: its "Object Created" event is put
  on the bus again, so the start function takes it up as if it had just arrived;
- every run the last session left open (Starting, Executing, or a rejection whose notice
  never went out) is announced (a notice: interrupted) and, where its upload is still
  there, set back to Starting and re-driven the same way: it runs again from the start
  (SageMaker's step cache, played locally, spares a finished MSA search); where the
  upload is gone it is marked Failed;
- a screening drop's records are runs of their own (their ids come from the campaign, not
  from an upload): those left open are set back to Starting and announced, and the drop
  is re-driven, so its start function starts them again; a finished drop is left alone;
- the concurrency gate is emptied and the MSA search leases let go: no execution or job
  survives a restart, so no slot or search is held.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Any

from foldline.events.s3 import OBJECT_CREATED
from foldline.intake.concurrency import GATE_KEY
from foldline.intake.run_identity import run_id_for, upload_version
from foldline.outcomes.campaigns import campaign_member_ended
from foldline.outcomes.notices import interrupted_notice, publish
from foldline.runs import table as runs
from foldline.spec import layout
from foldline.spec.formats import utc_now
from foldline.spec.screening import campaign_id_of_item_key
from foldline.steps import msa_lease

OPEN_STATUSES = (runs.STARTING, runs.EXECUTING)


@dataclass
class Recovery:
    """What the start of a runtime found owed, and did about it."""

    redriven: list[str] = field(default_factory=list)  # keys of uploads that never ran
    resumed: list[str] = field(default_factory=list)  # run ids cut short, started again
    lost: list[str] = field(default_factory=list)  # run ids cut short, upload gone: Failed

    def __bool__(self) -> bool:
        return bool(self.redriven or self.resumed or self.lost)

    def summary(self) -> str:
        parts = []
        if self.resumed:
            parts.append(f"{len(self.resumed)} interrupted run(s) started again")
        if self.redriven:
            parts.append(f"{len(self.redriven)} queued upload(s) taken up")
        if self.lost:
            parts.append(f"{len(self.lost)} interrupted run(s) whose upload is gone marked Failed")
        return "; ".join(parts)


def is_open(item: dict[str, Any]) -> bool:
    return item.get("status") in OPEN_STATUSES or runs.rejection_unfinished(item)


def _current_uploads(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """The current version of every file under inputs/ (folder markers left out)."""
    found = []
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=layout.INPUTS)
    for page in pages:
        for version in page.get("Versions", []):
            if version.get("IsLatest") and not version["Key"].endswith("/"):
                found.append(version)
    return found


def upload_event(bucket: str, upload: dict[str, Any], region: str) -> dict[str, Any]:
    """The EventBridge entry S3 sends for the upload ``upload`` (a ListObjectVersions entry)."""
    moment = upload.get("LastModified") or _dt.datetime.now(_dt.UTC)
    return {
        "Source": "aws.s3",
        "DetailType": OBJECT_CREATED,
        "Resources": [f"arn:aws:s3:::{bucket}"],
        "Time": moment,
        "Detail": json.dumps(
            {
                "version": "0",
                "bucket": {"name": bucket},
                "object": {
                    "key": upload["Key"],
                    "size": upload.get("Size"),
                    "etag": upload["ETag"].strip('"'),
                    "version-id": upload.get("VersionId"),
                },
                "reason": "PutObject",
                "requester": "foldline-local-recovery",
            }
        ),
    }


def recover(
    *,
    s3: Any,
    events: Any,
    sns: Any,
    table: runs.RunsTable,
    bucket: str,
    topic_arn: str,
    region: str,
) -> Recovery:
    """Re-drive what the last session owed and announce what it cut short (see module doc)."""
    result = Recovery()
    scanned = list(table.connection.scan())
    items = {i["run_id"]: i for i in scanned if not runs.is_reserved_key(i["run_id"])}
    campaigns = {
        campaign_id_of_item_key(i["run_id"]): i
        for i in scanned
        if campaign_id_of_item_key(i["run_id"])
    }
    open_runs = {run_id: item for run_id, item in items.items() if is_open(item)}
    _empty_the_gate(table)
    _release_search_leases(s3, bucket)
    redrive: list[dict[str, Any]] = []
    for upload in _current_uploads(s3, bucket):
        version = upload_version(upload.get("VersionId"), upload["ETag"])
        run_id = run_id_for(bucket, upload["Key"], version)
        item = items.get(run_id)
        if item is None and run_id in campaigns:  # a screening drop: its records' runs
            resumed = _resume_campaign(run_id, open_runs, table, sns, topic_arn, result)
            if resumed or not campaigns[run_id].get("summary_message_id"):
                redrive.append(upload)  # its start function starts them (or sums it up) again
        elif item is None:
            redrive.append(upload)
            result.redriven.append(upload["Key"])
        elif run_id in open_runs:
            table.update(
                run_id,
                status=runs.STARTING,
                interrupted_at=utc_now(),
                remove=("rejecting", "execution_arn", "current_step"),
            )
            target = layout.target_name(upload["Key"])
            _announce(sns, topic_arn, item, target, key=upload["Key"], restarted=True)
            redrive.append(upload)
            result.resumed.append(run_id)
            del open_runs[run_id]
    for run_id, item in open_runs.items():  # cut short, and nothing left to run it from
        table.update(
            run_id,
            status=runs.FAILED,
            ended_at=utc_now(),
            code="interrupted",
            failure_reason="interrupted: the local runtime stopped before the run "
            "ended, and its upload is no longer in inputs/; upload the file again",
            remove=("rejecting",),
        )
        _announce(sns, topic_arn, item, run_id.rsplit("-", 1)[0], restarted=False)
        result.lost.append(run_id)
        if item.get("campaign"):  # its screening drop counts it ended (the last: the summary)
            campaign_member_ended(table, sns, topic_arn, item, s3=s3)
    for start in range(0, len(redrive), 10):  # PutEvents takes ten entries at a time
        entries = [upload_event(bucket, u, region) for u in redrive[start : start + 10]]
        response = events.put_events(Entries=entries)
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"could not re-drive uploads: {response['Entries']}")
    return result


def _announce(
    sns: Any,
    topic_arn: str,
    item: dict[str, Any],
    target: str,
    *,
    restarted: bool,
    key: str | None = None,
) -> None:
    """The notice of a run the last session cut short (``target`` and ``key`` where its
    item names none): set going again (``restarted``) or marked Failed."""
    publish(
        sns,
        topic_arn,
        interrupted_notice(
            target=item.get("target") or target,
            run_id=item["run_id"],
            was=item["status"],
            key=key or item.get("key") or "?",
            restarted=restarted,
        ),
    )


def _resume_campaign(
    campaign_id: str,
    open_runs: dict[str, dict[str, Any]],
    table: runs.RunsTable,
    sns: Any,
    topic_arn: str,
    result: Recovery,
) -> bool:
    """A screening drop's records the last session cut short: set back to Starting and
    announced, as a single upload's run is; True where any is (the drop is re-driven)."""
    cut_short = [i for i in open_runs.values() if i.get("campaign") == campaign_id]
    for item in cut_short:
        run_id = item["run_id"]
        table.update(
            run_id,
            status=runs.STARTING,
            interrupted_at=utc_now(),
            remove=("rejecting", "execution_arn", "current_step"),
        )
        _announce(sns, topic_arn, item, run_id.rsplit("-", 1)[0], restarted=True)
        result.resumed.append(run_id)
        del open_runs[run_id]
    return bool(cut_short)


def _release_search_leases(s3: Any, bucket: str) -> None:
    """No MSA job survives a restart: a search lease it held (foldline.steps.msa_lease) is
    let go, or the resumed runs of the same chains would wait for it to lapse."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=layout.MSA_CACHE)
    for page in pages:
        for obj in page.get("Contents", []):
            if obj["Key"].endswith("/" + msa_lease.LEASE_NAME):
                s3.delete_object(Bucket=bucket, Key=obj["Key"])


def _empty_the_gate(table: runs.RunsTable) -> None:
    """No execution survives a restart: every slot the gate records is free."""
    if table.connection.get(GATE_KEY) is not None:
        table.connection.update(
            GATE_KEY, UpdateExpression="SET slots = :none", values={":none": {}}
        )
