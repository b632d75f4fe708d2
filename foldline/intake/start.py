"""The start path: one uploaded FASTA in, one pipeline execution (or one rejection) out.

Plain functions over injected boto3 clients, so the Lambda handler, the local runtime
and the tests all run the same code. The order of writes makes every outcome safe to
replay: a redelivered event finds its run past ``Starting`` and does nothing, and
StartPipelineExecution's ClientRequestToken (the run id) guards the one window left.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from foldline.spec import layout
from foldline.runs import table as runs
from foldline.intake.fasta import FastaRejected, IntakeLimits, Rejection, check_key, check_size, decide
from foldline.outcomes.notices import publish, rejected_notice
from foldline.databases.presets import DatabasesNotReady, Readiness
from foldline.spec.parameters import (
    DB_PRESET,
    FASTA_FILE_NAME,
    FASTA_INPUT_S3_URI,
    MAX_TEMPLATE_DATE,
    MODEL_PRESET,
    RUN_ID,
    InvalidParameter,
    USER_SETTABLE,
    defaults,
    validate_value,
)
from foldline.intake.run_identity import run_id_for, upload_version
from foldline.intake.plan import plan_run
from foldline.intake.spend_limits import SpendLimits
from foldline.spec.formats import is_not_found, utc_now

log = logging.getLogger("foldline.intake.start")

#: SageMaker errors that mean "not now": the message goes back to the queue
RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ResourceLimitExceeded", "ServiceUnavailable",
     "InternalFailure", "InternalServerError", "RequestLimitExceeded", "TooManyRequestsException"}
)  # fmt: skip


_SINGLE_COPY_LIMIT = 5 * 1024**3


@dataclass(frozen=True)
class Upload:
    """An object-created notification, as the start function needs it."""

    bucket: str
    key: str
    size: int | None = None
    version_id: str | None = None
    etag: str | None = None
    event_time: str | None = None  # ISO 8601


@dataclass
class StartContext:
    """Everything the start path talks to.

    Give ``sns`` (a client), or ``make_sns`` to make one when a rejection first needs it:
    only rejections publish here, and an SNS client costs 10-20 ms of a cold start.
    """

    s3: Any
    sagemaker: Any
    runs: runs.RunsTable
    topic_arn: str
    pipeline_name: str
    sns: Any = None
    make_sns: Callable[[], Any] | None = None
    limits: IntakeLimits = field(default_factory=IntakeLimits)
    #: the concurrency gate (foldline.intake.concurrency.ConcurrencyGate); None: no cap
    gate: Any = None
    #: the stack's bounds on pinned instance types and a run's estimated cost
    spend: SpendLimits = field(default_factory=SpendLimits)
    #: which DbPresets the stack's genetic databases serve (made from ``s3`` if not given)
    databases: Readiness | None = None

    def __post_init__(self) -> None:
        if self.sns is None and self.make_sns is None:
            raise TypeError("StartContext needs sns or make_sns")
        if self.databases is None:
            self.databases = Readiness(self.s3)

    def notices(self) -> Any:
        """The SNS client, made on first use where only ``make_sns`` was given."""
        if self.sns is None:
            self.sns = self.make_sns()
        return self.sns


@dataclass(frozen=True)
class Outcome:
    """What happened to one upload: started, duplicate, rejected or ignored."""

    action: str
    key: str
    run_id: str | None = None
    execution_arn: str | None = None
    reason: str | None = None
    code: str | None = None

    def log_fields(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class RetryLater(Exception):
    """A transient failure (throttling, quota): leave the message on the queue."""

    def __init__(self, message: str, *, run_id: str | None = None, key: str | None = None):
        super().__init__(message)
        self.run_id = run_id
        self.key = key


def overrides_from_tags(tags: list[dict[str, str]]) -> dict[str, str | int]:
    """Run-parameter overrides from the object's tags (``ModelPreset=multimer`` …).

    Tags ride with the PutObject itself, so unlike a sidecar file they cannot arrive
    after the run started. Tags whose keys are not run parameters are ignored (S3 and
    other tools add their own); a parameter's bad value raises InvalidParameter.
    """
    chosen: dict[str, str | int] = {}
    for tag in tags:
        if tag["Key"] in USER_SETTABLE:
            chosen[tag["Key"]] = validate_value(tag["Key"], tag["Value"])
    return chosen


def pipeline_parameters(
    *, bucket: str, run_id: str, fasta_file_name: str, model_preset: str,
    upload_date: str, overrides: dict[str, str | int],
) -> dict[str, str]:  # fmt: skip
    """The parameters of one run, every one stated explicitly."""
    values: dict[str, str | int] = dict(defaults())
    values[MAX_TEMPLATE_DATE.name] = upload_date
    values.update(overrides)
    values[MODEL_PRESET.name] = model_preset
    values[FASTA_INPUT_S3_URI.name] = layout.s3_uri(bucket, layout.run_input_prefix(run_id))
    values[FASTA_FILE_NAME.name] = fasta_file_name
    values[RUN_ID.name] = run_id
    return {name: str(value) for name, value in values.items()}


def _resolve_key(ctx: StartContext, upload: Upload) -> tuple[str, dict]:
    """The object's real key and its HeadObject; tolerate URL-encoded event keys."""
    candidates = [upload.key]
    if unquote_plus(upload.key) != upload.key:
        candidates.append(unquote_plus(upload.key))
    for key in candidates:
        kwargs = {"Bucket": upload.bucket, "Key": key}
        if upload.version_id:
            kwargs["VersionId"] = upload.version_id
        try:
            return key, ctx.s3.head_object(**kwargs)
        except ClientError as err:
            if not is_not_found(err):
                raise
    raise FileNotFoundError(f"s3://{upload.bucket}/{upload.key} no longer exists")


@dataclass(frozen=True)
class _Located:
    """The object an event names, as it is in S3 now, and the run it maps to."""

    key: str  # the real key (events may carry it URL-encoded)
    head: dict  # its HeadObject
    version: str  # what identifies this upload (version id, or ETag when unversioned)
    run_id: str
    source: dict  # Bucket/Key(/VersionId) for reading or copying exactly this upload


def _locate(ctx: StartContext, upload: Upload) -> _Located:
    key, head = _resolve_key(ctx, upload)
    version = upload_version(upload.version_id or head.get("VersionId"), head["ETag"])
    source = {"Bucket": upload.bucket, "Key": key}
    if head.get("VersionId") not in (None, "null"):
        source["VersionId"] = head["VersionId"]
    return _Located(key, head, version, run_id_for(upload.bucket, key, version), source)


def _tags(ctx: StartContext, found: _Located) -> list[dict[str, str]]:
    """The upload's tags; no GetObjectTagging call for an upload that has none.

    HeadObject reports ``TagCount`` (``x-amz-tagging-count``) for an object with tags,
    given the permission to read them, which the start function has
    (s3:GetObjectVersionTagging, template.yaml). Most uploads carry no tags, so this saves
    one S3 round trip per run.
    """
    if not found.head.get("TagCount"):
        return []
    return ctx.s3.get_object_tagging(**found.source).get("TagSet", [])


def _upload_date(upload: Upload, head: dict) -> str:
    if upload.event_time:
        return _dt.datetime.fromisoformat(upload.event_time.replace("Z", "+00:00")).date().isoformat()
    return head["LastModified"].date().isoformat()


def start_run(ctx: StartContext, upload: Upload) -> Outcome:
    """Validate one upload and start its pipeline execution, or reject it."""
    try:
        check_key(upload.key)
    except FastaRejected as rejected:
        if rejected.rejection.code == "bad_key":  # never touch objects outside inputs/
            return Outcome("ignored", upload.key, reason=rejected.rejection.message,
                           code="bad_key")  # fmt: skip
        return _reject_without_reading(ctx, upload, rejected.rejection)

    try:
        found = _locate(ctx, upload)
    except FileNotFoundError as gone:
        return Outcome("ignored", upload.key, reason=str(gone), code="gone")
    key, head, version, run_id, source = (
        found.key, found.head, found.version, found.run_id, found.source
    )
    existing = ctx.runs.get(run_id)
    if existing and existing["status"] != runs.STARTING:
        return Outcome("duplicate", key, run_id=run_id, reason=f"run is {existing['status']}",
                       execution_arn=existing.get("execution_arn"))  # fmt: skip

    try:
        check_size(head["ContentLength"], ctx.limits)
        tags = _tags(ctx, found)
        try:
            overrides = overrides_from_tags(tags)
        except InvalidParameter as bad:
            raise FastaRejected(Rejection("bad_override", f"bad tag override: {bad}")) from None
        ctx.spend.check_pins(overrides)
        body = ctx.s3.get_object(**source)["Body"].read()
        decision = decide(body, ctx.limits, pinned_preset=overrides.get(MODEL_PRESET.name))
        if not decision.accepted:
            raise FastaRejected(decision.rejection)
        # a run the databases cannot serve would fail in RunMSA after an hour's queueing
        try:
            db_preset, db_note = ctx.databases.choose(upload.bucket, overrides.get(DB_PRESET.name))
        except DatabasesNotReady as missing:
            raise FastaRejected(Rejection(missing.code, str(missing))) from None
        fasta_name = f"{run_id.rsplit('-', 1)[0]}.fasta"
        parameters = pipeline_parameters(
            bucket=upload.bucket, run_id=run_id, fasta_file_name=fasta_name,
            model_preset=decision.model_preset, upload_date=_upload_date(upload, head),
            overrides={**overrides, DB_PRESET.name: db_preset},
        )  # fmt: skip
        # MSA cache location (and reuse), instance types by length, cost (and the stack's
        # ceiling on it): foldline.intake.plan
        parameters, planned = plan_run(ctx.s3, upload.bucket, decision, parameters, overrides,
                                       ctx.spend)  # fmt: skip
        if db_note:
            planned["db_preset_note"] = db_note
    except FastaRejected as rejected:
        return _reject(ctx, upload.bucket, found, rejected.rejection)

    claimed = ctx.runs.claim(
        run_id, bucket=upload.bucket, key=key, version=version, target=layout.target_name(key),
        chains=len(decision.chains), residues=decision.total_residues, parameters=parameters,
        **planned,
    )  # fmt: skip
    if claimed is not None:  # another delivery won the race
        return Outcome("duplicate", key, run_id=run_id, reason=f"run is {claimed['status']}")
    log.info("accepted", extra={"run_id": run_id, "key": key, "chains": len(decision.chains),
                                "residues": decision.total_residues})  # fmt: skip
    if ctx.gate is not None:  # raises GateFull: the upload waits on the queue, still Starting
        ctx.gate.acquire(run_id)
    ctx.s3.put_object(
        Bucket=upload.bucket, Key=layout.run_input_key(run_id, fasta_name),
        Body=decision.normalised_fasta().encode(), ContentType="text/x-fasta",
    )  # fmt: skip
    try:
        response = ctx.sagemaker.start_pipeline_execution(
            PipelineName=ctx.pipeline_name,
            PipelineExecutionDisplayName=run_id,
            PipelineExecutionDescription=f"s3://{upload.bucket}/{key} ({version})"[:3072],
            PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
            ClientRequestToken=run_id,
        )
    except ClientError as err:
        if err.response["Error"]["Code"] in RETRYABLE_CODES:
            raise RetryLater(f"{run_id}: {err.response['Error']['Code']}", run_id=run_id,
                             key=key) from err
        raise
    arn = response["PipelineExecutionArn"]
    ctx.runs.update(run_id, status=runs.EXECUTING, execution_arn=arn, started_at=utc_now())
    return Outcome("started", key, run_id=run_id, execution_arn=arn)


def _reject_without_reading(ctx: StartContext, upload: Upload, rejection: Rejection) -> Outcome:
    """Reject on the key alone (wrong suffix): no need to read the object."""
    try:
        found = _locate(ctx, upload)
    except FileNotFoundError as gone:
        return Outcome("ignored", upload.key, reason=str(gone), code="gone")
    existing = ctx.runs.get(found.run_id)
    if existing:
        return Outcome("duplicate", found.key, run_id=found.run_id,
                       reason=f"run is {existing['status']}")  # fmt: skip
    return _reject(ctx, upload.bucket, found, rejection)


def _reject(ctx: StartContext, bucket: str, found: _Located, rejection: Rejection) -> Outcome:
    """Keep the upload under rejected/ with its reason, tell people, then clear inputs/.

    The copy is server-side (no read into memory, whatever the size). The original is
    deleted only after the copy and the notice: in a versioned bucket the delete leaves
    a marker and the version stays retrievable, so nothing is lost outright.
    """
    key, source, run_id = found.key, found.source, found.run_id
    kept = layout.rejected_key(key)
    if found.head["ContentLength"] <= _SINGLE_COPY_LIMIT:
        ctx.s3.copy_object(CopySource=source, Bucket=bucket, Key=kept)
    else:  # CopyObject stops at 5 GiB; the managed copy goes part by part
        ctx.s3.copy(source, bucket, kept)
    reason_doc = {
        "key": key, "version": source.get("VersionId"), "run_id": run_id,
        "code": rejection.code, "reason": rejection.message, "rejected_at": utc_now(),
    }  # fmt: skip
    ctx.s3.put_object(
        Bucket=bucket, Key=layout.reason_key(key), ContentType="application/json",
        Body=json.dumps(reason_doc, indent=2).encode(),
    )  # fmt: skip
    publish(ctx.notices(), ctx.topic_arn, rejected_notice(
        bucket=bucket, key=key, reason=rejection.message, code=rejection.code, kept_at=kept,
        run_id=run_id,
    ))  # fmt: skip
    ctx.runs.put(run_id, status=runs.REJECTED, bucket=bucket, key=key,
                 target=layout.target_name(key), reason=rejection.message,
                 code=rejection.code, rejected_key=kept)  # fmt: skip
    ctx.s3.delete_object(Bucket=bucket, Key=key)
    return Outcome("rejected", key, run_id=run_id, reason=rejection.message, code=rejection.code)
