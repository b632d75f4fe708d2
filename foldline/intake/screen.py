"""Screening mode: one multi-FASTA drop (tag ``Mode=screen``) becomes one run per record.

Called by :func:`foldline.intake.start.start_run` for an upload tagged ``Mode=screen``,
after the upload's own checks (key, size, tags, pinned instance types). Each record is
judged as a file of its own (:func:`foldline.intake.fasta.decide_each_record`), then:

1. the campaign item is written once (:class:`foldline.runs.campaigns.Campaigns`), with
   every record as a member and its run id (:func:`~foldline.intake.run_identity.member_run_id`:
   the campaign's id and the record's place), before any member starts;
2. each member goes through the normal start path (:func:`foldline.intake.start.launch_run`:
   MSA cache plan, sizing and cost, the claim, the concurrency gate, StartPipelineExecution
   with the member's id as ClientRequestToken); a refused record becomes a ``Rejected``
   member run with its reason, counted ended in the campaign (no notice of its own: the
   campaign's summary names it).

A full gate raises :class:`~foldline.intake.concurrency.GateFull` from the middle of the
list: the upload waits on the queue and the next delivery carries on where this one
stopped (started members are past ``Starting`` and are skipped), so a redelivery, a
Lambda retry or a deferral never starts a member twice and never loses one. What sinks
the whole file (not FASTA, too many records, databases not set up) is rejected as any
upload is, before anything is written.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from foldline.databases.presets import DatabasesNotReady
from foldline.intake.concurrency import GateFull
from foldline.intake.fasta import FastaRejected, Rejection, decide_each_record
from foldline.intake.plan import plan_run
from foldline.intake.run_identity import member_run_id
from foldline.outcomes.campaigns import campaign_member_ended
from foldline.runs import table as runs
from foldline.runs.campaigns import Campaigns
from foldline.spec import layout
from foldline.spec.formats import utc_now
from foldline.spec.parameters import DB_PRESET, MODEL_PRESET
from foldline.spec.screening import MODE_TAG, MODES, SCREEN_MODE

if TYPE_CHECKING:
    from foldline.intake.start import Outcome, StartContext, Upload, _Located

log = logging.getLogger("foldline.intake.screen")


def screening_requested(tags: list[dict[str, str]]) -> bool:
    """Whether the upload's tags ask for screening (``Mode=screen``, any case); a ``Mode``
    tag with another value is refused rather than read as a single run."""
    for tag in tags:
        if tag["Key"] == MODE_TAG:
            value = tag["Value"].strip().lower()
            if value not in MODES:
                raise FastaRejected(
                    Rejection(
                        "bad_mode",
                        f"tag {MODE_TAG}={tag['Value']!r}: the one mode is "
                        f"{MODE_TAG}={SCREEN_MODE} (one run per record); leave the tag off "
                        "to fold the file as one run",
                    )
                )
            return True
    return False


class ScreenProgress(GateFull):
    """The gate filled part-way through a screen after ``started`` members started: the
    upload waits as any upload does, but its wait starts again from the shortest delay."""

    def __init__(self, full: GateFull, started: int):
        super().__init__(full.run_id, full.in_use, full.cap)
        self.started = started


@dataclass(frozen=True)
class _Member:
    number: int
    record_id: str
    run_id: str
    decision: Any  # foldline.intake.fasta.Decision


def start_screen(
    ctx: StartContext, upload: Upload, found: _Located, body: bytes, overrides: dict
) -> Outcome:
    """Split the drop into its member runs and start each (see the module docstring)."""
    from foldline.intake.start import Outcome

    judged, sunk = decide_each_record(
        body, ctx.limits, pinned_preset=overrides.get(MODEL_PRESET.name)
    )
    if sunk is not None:
        raise FastaRejected(sunk)
    try:
        db_preset, db_note = ctx.databases.choose(upload.bucket, overrides.get(DB_PRESET.name))
    except DatabasesNotReady as missing:
        raise FastaRejected(Rejection(missing.code, str(missing))) from None
    campaign_id = found.run_id
    members = [
        _Member(
            j.chain.number,
            j.chain.id,
            member_run_id(campaign_id, j.chain.number, j.chain.id),
            j.decision,
        )
        for j in judged
    ]
    accepted = {m.decision.chains[0].sequence for m in members if m.decision.accepted}
    campaigns = Campaigns(ctx.runs)
    campaigns.create(
        campaign_id,
        bucket=upload.bucket,
        key=found.key,
        version=found.version,
        target=layout.target_name(found.key),
        members=[
            {"number": m.number, "record_id": m.record_id, "run_id": m.run_id} for m in members
        ],
        expected=len(members),
        unique_sequences=len(accepted),
    )
    counts = {"started": 0, "refused": 0, "duplicate": 0}
    for member in members:
        try:
            action = _start_member(ctx, upload, found, member, overrides, db_preset, db_note)
        except GateFull as full:
            if counts["started"]:
                raise ScreenProgress(full, counts["started"]) from None
            raise
        counts[action] = counts.get(action, 0) + 1
    log.info("screened", extra={"campaign": campaign_id, "key": found.key, **counts})
    return Outcome(
        "screened",
        found.key,
        run_id=campaign_id,
        reason=", ".join(f"{n} {what}" for what, n in counts.items() if n),
    )


def _start_member(
    ctx: StartContext,
    upload: Upload,
    found: _Located,
    member: _Member,
    overrides: dict,
    db_preset: str,
    db_note: str | None,
) -> str:
    """Start one member (or refuse it); returns started, refused or duplicate."""
    from foldline.intake.start import Launch, _upload_date, launch_run, pipeline_parameters

    existing = ctx.runs.get(member.run_id)
    if existing and existing.get("status") != runs.STARTING:
        if existing.get("status") in runs.FINAL_STATUSES:  # an earlier try died before counting it
            campaign_member_ended(ctx.runs, ctx.notices, ctx.topic_arn, existing, s3=ctx.s3)
        return "duplicate"
    record_fields = {"campaign": found.run_id, "campaign_record": member.number}
    decision = member.decision
    try:
        if not decision.accepted:
            raise FastaRejected(decision.rejection)
        parameters = pipeline_parameters(
            bucket=upload.bucket,
            run_id=member.run_id,
            fasta_file_name=f"{member.run_id.rsplit('-', 1)[0]}.fasta",
            model_preset=decision.model_preset,
            upload_date=_upload_date(upload, found.head),
            overrides={**overrides, DB_PRESET.name: db_preset},
        )
        parameters, planned = plan_run(
            ctx.s3, upload.bucket, decision, parameters, overrides, ctx.spend
        )
    except FastaRejected as refused:
        _refuse(ctx, upload, found, member, refused.rejection, record_fields)
        return "refused"
    if db_note:
        planned["db_preset_note"] = db_note
    outcome = launch_run(
        ctx,
        upload,
        Launch(
            run_id=member.run_id,
            key=found.key,
            version=found.version,
            target=member.record_id,
            decision=decision,
            parameters=parameters,
            planned=planned,
            fasta_name=f"{member.run_id.rsplit('-', 1)[0]}.fasta",
            record_fields=record_fields,
        ),
        existing,
    )
    return outcome.action


def _refuse(
    ctx: StartContext,
    upload: Upload,
    found: _Located,
    member: _Member,
    rejection: Rejection,
    record_fields: dict,
) -> None:
    """A refused record: a Rejected member run with its reason, counted ended at once."""
    ctx.runs.put(
        member.run_id,
        status=runs.REJECTED,
        bucket=upload.bucket,
        key=found.key,
        version=found.version,
        target=member.record_id,
        code=rejection.code,
        reason=rejection.message,
        ended_at=utc_now(),
        **record_fields,
    )
    campaign_member_ended(
        ctx.runs, ctx.notices, ctx.topic_arn, {"run_id": member.run_id, **record_fields}, s3=ctx.s3
    )
