"""Notifications: what foldline tells people, as SNS messages readable as e-mail.

A :class:`Notice` is plain data (subject under 100 characters, a plain-text body, SNS
message attributes for subscription filters); :func:`publish` sends one. Builders for
each kind of notice live here so the start path, the analysis path and the notify path
speak with one voice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from foldline.spec.formats import utc_now
from foldline.spec.screening import CAMPAIGN_MEMBER_ATTRIBUTE
from foldline.spec.statuses import FAILED

SUBJECT_LIMIT = 100  # SNS rejects longer e-mail subjects
#: SNS refuses a message over 256 KB (body, subject and attributes together); a body is
#: cut below it with room for the rest, so no notice fails on its size
BODY_LIMIT_BYTES = 250_000


@dataclass(frozen=True)
class Notice:
    subject: str
    body: str
    status: str  # "rejected", "succeeded", "failed", "stopped", "analysis-failed"
    target: str
    run_id: str | None = None
    extra_attributes: dict[str, str] = field(default_factory=dict)

    def attributes(self) -> dict[str, dict[str, str]]:
        attrs = {"status": self.status, "target": self.target or "-", **self.extra_attributes}
        if self.run_id:
            attrs["run_id"] = self.run_id
        return {k: {"DataType": "String", "StringValue": v} for k, v in attrs.items()}


def as_campaign_member(notice: Notice, item: Mapping[str, Any] | None) -> Notice:
    """The notice of a run ``item`` (its runs-table item), marked as its campaign's
    member where it is one: the campaign's summary is what the e-mail subscription gets."""
    campaign_id = (item or {}).get("campaign")
    if not campaign_id:
        return notice
    attributes = {**notice.extra_attributes, CAMPAIGN_MEMBER_ATTRIBUTE: str(campaign_id)}
    return replace(notice, extra_attributes=attributes)


def notice_record(notice: Notice) -> dict[str, Any]:
    """A notice as the runs table keeps one that could not be sent (for its redrive)."""
    return {
        "subject": notice.subject,
        "body": clip_body(notice.body),
        "status": notice.status,
        "target": notice.target,
        "run_id": notice.run_id,
        "extra_attributes": dict(notice.extra_attributes),
    }


def notice_from_record(record: dict[str, Any]) -> Notice:
    return Notice(
        subject=str(record["subject"]),
        body=str(record["body"]),
        status=str(record["status"]),
        target=str(record.get("target") or "-"),
        run_id=record.get("run_id"),
        extra_attributes=dict(record.get("extra_attributes") or {}),
    )


def send_kept_notice(
    sns: Any, topic_arn: str, runs: Any, run_id: str, record: dict[str, Any]
) -> str:
    """Publish a notice kept in the runs item (``pending_notice``), then mark it sent.

    ``runs`` is the :class:`foldline.runs.table.RunsTable`. Raises (the notice stays kept)
    while SNS refuses it.
    """
    message_id = publish(sns, topic_arn, notice_from_record(record))
    runs.update(
        run_id, notice_message_id=message_id, notified_at=utc_now(), remove=("pending_notice",)
    )
    return message_id


def clip_subject(text: str) -> str:
    """SNS subjects: one line, under 100 characters, clipped with ASCII dots."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) < SUBJECT_LIMIT else one_line[: SUBJECT_LIMIT - 4] + "..."


def clip_body(text: str, limit: int = BODY_LIMIT_BYTES) -> str:
    """A body SNS accepts: cut (at a character boundary) below ``limit`` UTF-8 bytes."""
    data = text.encode()
    if len(data) <= limit:
        return text
    note = "\n[... cut: the notice was longer than SNS allows]"
    return data[: limit - len(note.encode())].decode("utf-8", "ignore") + note


def publish(sns: Any, topic_arn: str, notice: Notice) -> str:
    """Publish a notice; returns the SNS message id."""
    response = sns.publish(
        TopicArn=topic_arn,
        Subject=clip_subject(notice.subject),
        Message=clip_body(notice.body),
        MessageAttributes=notice.attributes(),
    )
    return response["MessageId"]


def start_failed_notice(*, bucket: str, key: str, target: str, run_id: str, reason: str) -> Notice:
    """SageMaker refused to start the run every time it was asked: nothing ran."""
    body = "\n".join(
        [
            f"foldline could not start run {run_id} for s3://{bucket}/{key}.",
            "",
            f"Reason: {reason}",
            "",
            "Nothing ran and nothing is charged for it. The file is still in inputs/; upload",
            "it again (a new version is a new run) once SageMaker accepts new executions",
            "(the account's quotas: see docs/operations.md).",
        ]
    )
    return Notice(
        subject=clip_subject(f"foldline: {target} could not start (run {run_id})"),
        body=body,
        status="failed",
        target=target,
        run_id=run_id,
        extra_attributes={"code": "start_refused"},
    )


def rejected_notice(
    *, bucket: str, key: str, reason: str, code: str, kept_at: str, run_id: str | None
) -> Notice:
    from foldline.spec.layout import target_name

    target = target_name(key)
    body = "\n".join(
        [
            f"foldline did not start a run for s3://{bucket}/{key}.",
            "",
            f"Reason: {reason}",
            "",
            f"The file is kept, as uploaded, at s3://{bucket}/{kept_at}",
            f"with the reason beside it in s3://{bucket}/{kept_at}.reason.json.",
            "Fix the file and upload it to inputs/ again to start a run.",
        ]
    )
    return Notice(
        subject=clip_subject(f"foldline: {target} rejected: {reason}"),
        body=body,
        status="rejected",
        target=target,
        run_id=run_id,
        extra_attributes={"code": code},
    )


def to_json(notice: Notice) -> str:
    """A notice as JSON (for logs and the local outbox)."""
    return json.dumps(
        {"subject": notice.subject, "body": notice.body, "attributes": notice.attributes()}
    )


# --- the end of a run: succeeded, failed, stopped, analysis failed -------------------------


@dataclass(frozen=True)
class ResultSummary:
    """The numbers a success notice leads with (taken from the analysis' metrics.json)."""

    tm_score: float | None
    tm_normalised_by: int | None  # residues the TM-score is normalised by
    rmsd: float | None  # Å, CA atoms after optimal superposition
    gdt_ts: float | None = None  # the TMscore program's GDT_TS (not LGA's)
    ca_lddt: float | None = None  # lDDT over CA atoms only
    plddt_mean: dict[str, float] = field(default_factory=dict)  # engine label -> mean pLDDT
    compared: dict[str, str] = field(default_factory=dict)  # engine label -> model compared
    engines: dict[str, str] = field(default_factory=dict)  # engine label -> "name version"
    #: engine label -> which weights made its model ("OpenFold checkpoint finetuning_5.pt")
    weights: dict[str, str] = field(default_factory=dict)
    #: plain sentences where the weights change what the numbers mean (AlphaFold's params
    #: run by OpenFold; random test weights)
    weights_notes: tuple[str, ...] = ()
    runtimes_s: dict[str, float] = field(default_factory=dict)  # step name -> seconds
    #: slots that left no model, so nothing was compared: "OpenFold skipped" -> why
    absent: dict[str, str] = field(default_factory=dict)
    #: where the TM-score is not two engines agreeing (the CPU stand-in ran), why
    not_engine_agreement: str | None = None
    #: what the CPU stand-in built its model on ("template 6kwc_A (62% identical, ...)",
    #: "no template found (...)"), where it ran
    stand_in: str | None = None
    #: other things the reader must know (chains or residues left without a partner, ...)
    warnings: tuple[str, ...] = ()
    #: engine label -> what its confidence number is where it is not pLDDT
    confidence_kinds: dict[str, str] = field(default_factory=dict)
    #: the engine that made the MSAs and over which databases ("pyhmmer 0.12.3 over
    #: reduced_dbs (uniref90, ...)"), from the MSA step's record; None where it said nothing
    msa_engine: str | None = None


@dataclass(frozen=True)
class StepReport:
    """One pipeline step as a failure notice shows it."""

    name: str
    status: str
    failure_reason: str | None = None
    training_job: str | None = None
    log_links: tuple[str, ...] = ()
    output_uri: str | None = None
    #: the last lines of the step's log, where the notice is written beside it (local mode)
    log_tail: tuple[str, ...] = ()


def _number(value: float | None, fmt: str, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def succeeded_notice(
    *,
    target: str,
    run_id: str,
    summary: ResultSummary,
    report_url: str,
    report_uri: str,
    link_expires_at: str | None,
    model_uris: dict[str, str],
    run_notes: tuple[str, ...] | list[str] = (),
) -> Notice:
    """A run that succeeded: its numbers, then where the report is.

    ``link_expires_at`` None: ``report_url`` is a path on this machine (``foldline
    local``), not a presigned link.
    """
    tm = _number(summary.tm_score, ".4f")
    plddt = (
        ", ".join(
            f"{k} {v:.1f}"
            + (f" ({summary.confidence_kinds[k]})" if k in summary.confidence_kinds else "")
            for k, v in summary.plddt_mean.items()
        )
        or "n/a"
    )
    lines = [f"foldline finished run {run_id} for target {target}.", ""]
    if summary.stand_in:  # said before any number: what made the models
        lines += [
            f"CPU stand-in (template-based models; neither engine ran): {summary.stand_in}.",
            "",
        ]
    if summary.absent:  # one engine left no model: no comparison, and why
        lines += [f"{what}: {why}" if why else what for what, why in summary.absent.items()]
        lines += [
            (
                "No comparison between engines (no TM-score, RMSD, GDT or CA-lDDT); "
                "the report shows the engine that ran."
            )
        ]
    else:
        if summary.not_engine_agreement:
            lines += [f"Not an engine comparison: {summary.not_engine_agreement}."]
        lines += [
            f"TM-score: {tm}"
            + (
                f" (normalised by the reference's {summary.tm_normalised_by} residues)"
                if summary.tm_normalised_by
                else ""
            ),
            f"RMSD (CA, after optimal superposition): {_number(summary.rmsd, '.2f', ' Å')}",
        ]
    if summary.gdt_ts is not None:
        lines.append(f"GDT_TS (the TMscore program's): {summary.gdt_ts:.3f}")
    if summary.ca_lddt is not None:
        lines.append(f"CA-lDDT (CA atoms only): {summary.ca_lddt:.3f}")
    lines.append(
        f"Mean confidence: {plddt}" if summary.confidence_kinds else f"Mean pLDDT: {plddt}"
    )
    if summary.warnings:
        lines += ["", "Warnings:", *(f"  {w}" for w in summary.warnings)]
    if summary.compared:
        lines += ["", "Models compared:" if not summary.absent else "Model reported:"]
        lines += [f"  {label}: {model}" for label, model in summary.compared.items()]
    if summary.engines:
        lines += ["", "Engines: " + "; ".join(f"{k}: {v}" for k, v in summary.engines.items())]
    if summary.msa_engine:
        lines += [f"MSAs: {summary.msa_engine}"]
    if summary.weights:
        lines += ["Weights: " + "; ".join(f"{k}: {v}" for k, v in summary.weights.items())]
    if summary.weights_notes:
        lines += ["", *summary.weights_notes]
    if summary.runtimes_s:
        lines += ["", "Runtimes:"]
        lines += [f"  {step}: {_duration(s)}" for step, s in summary.runtimes_s.items()]
    if run_notes:  # "MSA reused from run X", the cost estimate (foldline.intake.plan)
        lines += ["", *run_notes]
    if link_expires_at is None:
        lines += [
            "",
            (
                "Report (where `foldline local run` puts it when the run ends; while "
                f"`foldline local serve` runs: `foldline results {run_id} --local --open`):"
            ),
            report_url,
        ]
    else:
        lines += [
            "",
            f"Report (this link works until {link_expires_at} at the latest):",
            report_url,
        ]
    lines += [
        "",
        f"Report folder: {report_uri}",
    ]
    lines += [f"{label} outputs: {uri}" for label, uri in model_uris.items()]
    if summary.absent:
        outcome = ", ".join(summary.absent)
    elif summary.stand_in:
        outcome = f"CPU stand-in, {summary.stand_in.split(' (')[0]}"
    else:
        outcome = f"TM-score {tm}"
    return Notice(
        subject=clip_subject(f"foldline: {target} succeeded, {outcome} (run {run_id})"),
        body="\n".join(lines),
        status="succeeded",
        target=target,
        run_id=run_id,
    )


def _step_lines(step: StepReport) -> list[str]:
    lines = [f"Step {step.name}: {step.status}"]
    if step.training_job:
        lines.append(f"  Training job: {step.training_job}")
    if step.failure_reason:
        lines.append(f"  Reason: {step.failure_reason}")
    if step.log_links:
        lines.append("  Logs:")
        lines += [f"    {link}" for link in step.log_links]
    if step.log_tail:
        lines.append(f"  Last {len(step.log_tail)} lines of the log:")
        lines += [f"    | {line}" for line in step.log_tail]
    if step.output_uri:
        lines.append(f"  Outputs: {step.output_uri}")
    return lines


def ended_notice(
    *,
    status: str,
    target: str,
    run_id: str,
    execution_arn: str,
    steps: list[StepReport],
    execution_failure_reason: str | None = None,
    steps_unavailable: str | None = None,
    run_notes: tuple[str, ...] | list[str] = (),
    msa_engine: str | None = None,
) -> Notice:
    """A run that failed or was stopped: which step, why, and where its logs are.

    ``status`` is "failed" or "stopped". ``steps`` lists the pipeline's steps as
    ListPipelineExecutionSteps reported them (failed ones first);
    ``steps_unavailable`` says why they could not be listed, if so; ``msa_engine`` is
    the run's MsaEngine parameter (a failed MSA step is read with its engine in mind).
    """
    failed = [s for s in steps if s.status == FAILED]
    if status == "failed" and failed:
        first = failed[0]
        why = f": {first.failure_reason}" if first.failure_reason else ""
        subject = f"foldline: {target} failed at {first.name}{why}"
        opening = f"foldline run {run_id} for target {target} failed at step {first.name}."
    elif status == "failed":
        subject = f"foldline: {target} failed (run {run_id})"
        opening = f"foldline run {run_id} for target {target} failed."
    else:
        subject = f"foldline: {target} stopped (run {run_id})"
        opening = f"foldline run {run_id} for target {target} was stopped before it finished."
    lines = [opening, ""]
    if execution_failure_reason:
        lines += [f"Pipeline failure reason: {execution_failure_reason}", ""]
    for step in failed + [s for s in steps if s.status != FAILED]:
        lines += _step_lines(step)
    if steps_unavailable:
        lines.append(f"(The pipeline's steps could not be listed: {steps_unavailable})")
    notes = [*([f"MSA engine (MsaEngine): {msa_engine}"] if msa_engine else []), *run_notes]
    if notes:
        lines += ["", *notes]
    lines += ["", f"Pipeline execution: {execution_arn}"]
    return Notice(
        subject=clip_subject(subject),
        body="\n".join(lines),
        status=status,
        target=target,
        run_id=run_id,
        extra_attributes={"failed_step": failed[0].name} if failed else {},
    )


def analysis_failed_notice(
    *, target: str, run_id: str, error: str, model_uris: dict[str, str], attempts: int | None
) -> Notice:
    """The pipeline succeeded but the comparison did not: the models are still there."""
    tries = f" after {attempts} attempts" if attempts else ""
    lines = [
        f"foldline run {run_id} for target {target}: the pipeline succeeded, but the",
        f"analysis of its models failed{tries}.",
        "",
        f"Error: {error}",
        "",
        "The run's models are still available:",
    ]
    lines += [f"  {label}: {uri}" for label, uri in model_uris.items()] or ["  (none found)"]
    lines += [
        "",
        "To compare them yourself, download and unpack both archives and run:",
        "  foldline analyze --alphafold ALPHAFOLD_DIR --openfold OPENFOLD_DIR --out report/",
    ]
    return Notice(
        subject=clip_subject(
            f"foldline: {target} analysis failed; models available (run {run_id})"
        ),
        body="\n".join(lines),
        status="analysis-failed",
        target=target,
        run_id=run_id,
    )


def interrupted_notice(*, target: str, run_id: str, was: str, key: str, restarted: bool) -> Notice:
    """The local runtime stopped (Ctrl-C, SIGTERM, a crash) while a run was under way."""
    lines = [
        (
            f"foldline's local runtime stopped while run {run_id} for target {target} was "
            f"{was.lower()} (its upload: {key})."
        )
    ]
    if restarted:
        lines += [
            "",
            "It has been started again from its upload now that the runtime is back;",
            "its result comes in a notice of its own.",
        ]
    else:
        lines += [
            "",
            "It could not be started again: its upload is no longer in inputs/.",
            "Upload the file again to run it.",
        ]
    outcome = "started again" if restarted else "not restarted"
    return Notice(
        subject=clip_subject(f"foldline: {target} interrupted, {outcome} (run {run_id})"),
        body="\n".join(lines),
        status="interrupted",
        target=target,
        run_id=run_id,
        extra_attributes={"restarted": "true" if restarted else "false"},
    )
