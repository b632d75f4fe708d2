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
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from botocore.exceptions import ClientError

from foldline.databases.presets import DatabasesNotReady, Readiness
from foldline.intake.concurrency import release_slot
from foldline.intake.fasta import (
    FastaRejected,
    IntakeLimits,
    Rejection,
    check_key,
    check_size,
    decide,
)
from foldline.intake.plan import plan_run
from foldline.intake.run_identity import run_id_for, upload_version
from foldline.intake.spend_limits import SpendLimits
from foldline.outcomes.campaigns import campaign_member_ended
from foldline.outcomes.notices import (
    as_campaign_member,
    publish,
    rejected_notice,
    start_failed_notice,
)
from foldline.runs import table as runs
from foldline.spec import layout
from foldline.spec.formats import is_not_found_code, utc_now
from foldline.spec.parameters import (
    DB_PRESET,
    FASTA_FILE_NAME,
    FASTA_INPUT_S3_URI,
    MAX_TEMPLATE_DATE,
    MODEL_PRESET,
    MSA_ENGINE,
    RUN_ID,
    USER_SETTABLE,
    InvalidParameter,
    defaults,
    validate_value,
)
from foldline.steps import msa_cache

log = logging.getLogger("foldline.intake.start")

#: SageMaker errors that mean "not now": the message goes back to the queue
RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ResourceLimitExceeded",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


_SINGLE_COPY_LIMIT = 5 * 1024**3
#: how long a delivery that is rejecting an upload holds the right to its one notice:
#: longer than the start function may run (60 s), shorter than the queue's visibility
#: timeout (360 s), so a delivery that died mid-way is taken over by its own retry
REJECTION_LEASE_S = 120
#: the stack parameter StartMaxReceiveCount, as the start function reads it: the tries an
#: upload gets before its message moves to the dead-letter queue
MAX_TRIES_ENV = "FOLDLINE_START_MAX_RECEIVES"
#: S3 error codes that mean "not allowed" (those for "no such object" are
#: foldline.spec.formats.S3_NOT_FOUND_CODES): also what S3 answers for a missing key to a caller that may not
#: list the prefix, so a wrong spelling of the key can answer it
_DENIED = frozenset({"403", "AccessDenied", "Forbidden"})


def max_tries_from_env(env: dict[str, str] | None = None) -> int | None:
    """StartMaxReceiveCount (None where the stack sets none: no try is known to be the last)."""
    value = (os.environ if env is None else env).get(MAX_TRIES_ENV, "").strip()
    return int(value) if value else None


@dataclass(frozen=True)
class Upload:
    """An object-created notification, as the start function needs it."""

    bucket: str
    key: str
    size: int | None = None
    version_id: str | None = None
    etag: str | None = None
    event_time: str | None = None  # ISO 8601
    #: which delivery of the event this is (SQS ApproximateReceiveCount; 1 = the first)
    attempt: int = 1


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
    #: the tries an upload gets (StartMaxReceiveCount); None: unknown, never give up here
    max_tries: int | None = None

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
    *,
    bucket: str,
    run_id: str,
    fasta_file_name: str,
    model_preset: str,
    upload_date: str,
    overrides: dict[str, str | int],
) -> dict[str, str]:
    """The parameters of one run, every one stated explicitly."""
    values: dict[str, str | int] = dict(defaults())
    values[MAX_TEMPLATE_DATE.name] = upload_date
    values[MSA_ENGINE.name] = msa_cache.engine_choice()  # the stack's, unless a tag names one
    values.update(overrides)
    values[MODEL_PRESET.name] = model_preset
    values[FASTA_INPUT_S3_URI.name] = layout.s3_uri(bucket, layout.run_input_prefix(run_id))
    values[FASTA_FILE_NAME.name] = fasta_file_name
    values[RUN_ID.name] = run_id
    return {name: str(value) for name, value in values.items()}


def key_spellings(event_key: str) -> list[str]:
    """The keys an event's key may stand for, the likeliest first.

    S3 URL-encodes the key in its event notifications (a space as ``+``, ``/`` and others
    as ``%XX``); moto does not, and a key may really contain ``+`` or ``%``. The decoded
    spelling comes first: asking S3 for the encoded one (``inputs%2Fa.fasta``) would reach
    outside ``inputs/``, where the start role may not read (403, not 404).
    """
    decoded = unquote_plus(event_key)
    return [decoded, event_key] if decoded != event_key else [event_key]


def _resolve_key(ctx: StartContext, upload: Upload, keys: list[str]) -> tuple[str, dict]:
    """The object's real key and its HeadObject, trying each spelling in turn.

    A spelling that is missing (404), or that the role may not read (403: also S3's
    answer for a missing key to a caller that may not list it), gives way to the next.
    Gone under every spelling: FileNotFoundError; refused under one: that error, so a
    real permission problem is retried and reaches the dead-letter queue, not dropped.
    """
    denied: ClientError | None = None
    for key in keys:
        kwargs = {"Bucket": upload.bucket, "Key": key}
        if upload.version_id:
            kwargs["VersionId"] = upload.version_id
        try:
            return key, ctx.s3.head_object(**kwargs)
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code"))
            if code in _DENIED:
                denied = err
            elif not is_not_found_code(code):
                raise
    if denied is not None:
        raise denied
    raise FileNotFoundError(f"s3://{upload.bucket}/{upload.key} no longer exists")


@dataclass(frozen=True)
class _Located:
    """The object an event names, as it is in S3 now, and the run it maps to."""

    key: str  # the real key (events may carry it URL-encoded)
    head: dict  # its HeadObject
    version: str  # what identifies this upload (version id, or ETag when unversioned)
    run_id: str
    source: dict  # Bucket/Key(/VersionId) for reading or copying exactly this upload


def _locate(ctx: StartContext, upload: Upload, keys: list[str]) -> _Located:
    key, head = _resolve_key(ctx, upload, keys)
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
        return _dt.datetime.fromisoformat(upload.event_time).date().isoformat()
    return head["LastModified"].date().isoformat()


def start_run(ctx: StartContext, upload: Upload) -> Outcome:
    """Validate one upload and start its pipeline execution, or reject it."""
    keys = [k for k in key_spellings(upload.key) if layout.is_input_key(k)]
    if not keys:  # never touch objects outside inputs/
        return Outcome(
            "ignored",
            upload.key,
            code="bad_key",
            reason=f"key {upload.key!r} is not under inputs/; foldline only reads inputs/",
        )
    if all(k.endswith("/") for k in keys):  # the S3 console's "Create folder"
        return Outcome(
            "ignored",
            upload.key,
            code="folder",
            reason="a folder marker (a key ending in /), not a file",
        )
    try:
        found = _locate(ctx, upload, keys)
    except FileNotFoundError as gone:
        return Outcome("ignored", upload.key, reason=str(gone), code="gone")
    key, _head, _version, run_id, _source = (
        found.key,
        found.head,
        found.version,
        found.run_id,
        found.source,
    )
    existing = ctx.runs.get(run_id)
    if existing and existing["status"] != runs.STARTING and not runs.rejection_unfinished(existing):
        return Outcome(
            "duplicate",
            key,
            run_id=run_id,
            reason=f"run is {existing['status']}",
            execution_arn=existing.get("execution_arn"),
        )
    try:
        return _start_located(ctx, upload, found, existing)
    except Exception as err:
        if getattr(err, "run_id", None) is None:
            try:  # for the handler's log line: which run the failure belongs to
                err.run_id = run_id  # type: ignore[attr-defined]
            except AttributeError:
                pass
        raise


def _start_located(
    ctx: StartContext, upload: Upload, found: _Located, existing: dict | None
) -> Outcome:
    key, head, version, run_id, source = (
        found.key,
        found.head,
        found.version,
        found.run_id,
        found.source,
    )
    try:
        check_key(key)  # the suffix: judged without reading the object
    except FastaRejected as rejected:
        return _reject(ctx, upload.bucket, found, rejected.rejection)

    try:
        check_size(head["ContentLength"], ctx.limits)
        tags = _tags(ctx, found)
        try:
            overrides = overrides_from_tags(tags)
        except InvalidParameter as bad:
            raise FastaRejected(Rejection("bad_override", f"bad tag override: {bad}")) from None
        ctx.spend.check_pins(overrides)
        body = ctx.s3.get_object(**source)["Body"].read()
        if tags:  # Mode=screen: one run per record (foldline.intake.screen; it imports this)
            from foldline.intake import screen

            if screen.screening_requested(tags):
                return screen.start_screen(ctx, upload, found, body, overrides)
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
            bucket=upload.bucket,
            run_id=run_id,
            fasta_file_name=fasta_name,
            model_preset=decision.model_preset,
            upload_date=_upload_date(upload, head),
            overrides={**overrides, DB_PRESET.name: db_preset},
        )
        # MSA cache location (and reuse), instance types by length, cost (and the stack's
        # ceiling on it): foldline.intake.plan
        parameters, planned = plan_run(
            ctx.s3, upload.bucket, decision, parameters, overrides, ctx.spend
        )
        if db_note:
            planned["db_preset_note"] = db_note
    except FastaRejected as rejected:
        return _reject(ctx, upload.bucket, found, rejected.rejection)

    return launch_run(
        ctx,
        upload,
        Launch(
            run_id=run_id,
            key=key,
            version=version,
            target=layout.target_name(key),
            decision=decision,
            parameters=parameters,
            planned=planned,
            fasta_name=fasta_name,
        ),
        existing,
    )


@dataclass(frozen=True)
class Launch:
    """A run judged and planned, ready to claim and start (one upload, or one record of a
    screening drop: ``record_fields`` then names its campaign)."""

    run_id: str
    key: str
    version: str
    target: str
    decision: Any  # foldline.intake.fasta.Decision, accepted
    parameters: dict[str, str]
    planned: dict[str, Any]
    fasta_name: str
    record_fields: dict[str, Any] = field(default_factory=dict)


def launch_run(ctx: StartContext, upload: Upload, run: Launch, existing: dict | None) -> Outcome:
    """Claim the run, take a slot, stage its FASTA and start its pipeline execution."""
    run_id, key, decision = run.run_id, run.key, run.decision
    claimed = ctx.runs.claim(
        run_id,
        bucket=upload.bucket,
        key=key,
        version=run.version,
        target=run.target,
        chains=len(decision.chains),
        residues=decision.total_residues,
        parameters=run.parameters,
        # a retry takes the run over: SageMaker's refusals so far still count
        start_refusals=(existing or {}).get("start_refusals"),
        **run.record_fields,
        **run.planned,
    )
    if claimed is not None:  # another delivery won the race
        return Outcome("duplicate", key, run_id=run_id, reason=f"run is {claimed['status']}")
    log.info(
        "accepted",
        extra={
            "run_id": run_id,
            "key": key,
            "chains": len(decision.chains),
            "residues": decision.total_residues,
        },
    )
    if ctx.gate is not None:  # raises GateFull: the upload waits on the queue, still Starting
        ctx.gate.acquire(run_id)
    ctx.s3.put_object(
        Bucket=upload.bucket,
        Key=layout.run_input_key(run_id, run.fasta_name),
        Body=decision.normalised_fasta().encode(),
        ContentType="text/x-fasta",
    )
    try:
        response = ctx.sagemaker.start_pipeline_execution(
            PipelineName=ctx.pipeline_name,
            PipelineExecutionDisplayName=run_id,
            PipelineExecutionDescription=f"s3://{upload.bucket}/{key} ({run.version})"[:3072],
            PipelineParameters=[{"Name": k, "Value": v} for k, v in run.parameters.items()],
            ClientRequestToken=run_id,
        )
    except ClientError as err:
        code = err.response["Error"]["Code"]
        if code not in RETRYABLE_CODES:
            raise
        refusals = ctx.runs.count_start_refusal(run_id)
        last = ctx.max_tries is not None and max(refusals, upload.attempt) >= ctx.max_tries
        if not last:
            raise RetryLater(f"{run_id}: {code}", run_id=run_id, key=key) from err
        return _give_up(
            ctx,
            upload.bucket,
            run,
            f"SageMaker refused to start the run "
            f"{refusals} times ({code}: {err.response['Error'].get('Message', '')})",
        )
    arn = response["PipelineExecutionArn"]
    ctx.runs.update(run_id, status=runs.EXECUTING, execution_arn=arn, started_at=utc_now())
    return Outcome("started", key, run_id=run_id, execution_arn=arn)


def after_last_try(ctx: StartContext, run_id: str | None) -> None:
    """A try failed and was the upload's last: its message moves to the dead-letter queue.

    The run stays Starting, so a re-drive takes it up again (and takes a slot again), but
    the slot it may hold is freed now: a run that is not starting must not keep others
    waiting until the gate's reconciliation notices.
    """
    if run_id:
        release_slot(ctx.runs, run_id)


def _give_up(ctx: StartContext, bucket: str, run: Launch, reason: str) -> Outcome:
    """The last try was refused too: free the run's slot, say so, mark the run Failed.

    Nothing ran, so nothing is left to clean up; the message is then let go (a re-drive
    would only be refused again). The notice goes before the mark: should it fail, the
    run is still Starting and the message's retry (or its re-drive) gives up again.
    """
    key, run_id = run.key, run.run_id
    release_slot(ctx.runs, run_id)  # safe where it holds none, and without a gate
    message_id = publish(
        ctx.notices(),
        ctx.topic_arn,
        as_campaign_member(
            start_failed_notice(
                bucket=bucket, key=key, target=run.target, run_id=run_id, reason=reason
            ),
            run.record_fields,
        ),
    )
    ctx.runs.update(
        run_id,
        status=runs.FAILED,
        code="start_refused",
        failure_reason=reason,
        ended_at=utc_now(),
        notice_message_id=message_id,
        notified_at=utc_now(),
    )
    if run.record_fields:  # a record of a screening drop: its campaign counts it ended
        campaign_member_ended(
            ctx.runs, ctx.notices, ctx.topic_arn, run.record_fields | {"run_id": run_id}, s3=ctx.s3
        )
    return Outcome("failed", key, run_id=run_id, reason=reason, code="start_refused")


def _reject(ctx: StartContext, bucket: str, found: _Located, rejection: Rejection) -> Outcome:
    """Keep the upload under rejected/ with its reason, tell people, then clear inputs/.

    One notice however many deliveries of the event race: the run is claimed as Rejected
    first (:meth:`~foldline.runs.RunsTable.claim_rejection`), and only the claim's holder
    copies, notifies and deletes; a delivery that fails lets the claim go, so its retry
    carries on. The copy is server-side (no read into memory, whatever the size). The
    original is deleted only after the copy and the notice: in a versioned bucket the
    delete leaves a marker and the version stays retrievable, so nothing is lost outright.
    """
    key, source, run_id = found.key, found.source, found.run_id
    kept = layout.rejected_key(key)
    token = uuid.uuid4().hex
    claimed = ctx.runs.claim_rejection(
        run_id,
        token,
        REJECTION_LEASE_S,
        bucket=bucket,
        key=key,
        target=layout.target_name(key),
        reason=rejection.message,
        code=rejection.code,
        rejected_key=kept,
    )
    if not claimed:
        return Outcome(
            "duplicate",
            key,
            run_id=run_id,
            code=rejection.code,
            reason="another delivery of this upload is rejecting it, or did",
        )
    try:
        if found.head["ContentLength"] <= _SINGLE_COPY_LIMIT:
            ctx.s3.copy_object(CopySource=source, Bucket=bucket, Key=kept)
        else:  # CopyObject stops at 5 GiB; the managed copy goes part by part
            ctx.s3.copy(source, bucket, kept)
        reason_doc = {
            "key": key,
            "version": source.get("VersionId"),
            "run_id": run_id,
            "code": rejection.code,
            "reason": rejection.message,
            "rejected_at": utc_now(),
        }
        ctx.s3.put_object(
            Bucket=bucket,
            Key=layout.reason_key(key),
            ContentType="application/json",
            Body=json.dumps(reason_doc, indent=2).encode(),
        )
        message_id = publish(
            ctx.notices(),
            ctx.topic_arn,
            rejected_notice(
                bucket=bucket,
                key=key,
                reason=rejection.message,
                code=rejection.code,
                kept_at=kept,
                run_id=run_id,
            ),
        )
    except BaseException:
        try:
            ctx.runs.release_rejection(run_id, token)
        except Exception as err:  # noqa: BLE001 - the claim lapses anyway; keep the first error
            log.warning("could not let go of the rejection claim of %s: %s", run_id, err)
        raise
    ctx.runs.rejection_notified(run_id, message_id)
    ctx.s3.delete_object(Bucket=bucket, Key=key)
    return Outcome("rejected", key, run_id=run_id, reason=rejection.message, code=rejection.code)
