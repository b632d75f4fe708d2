"""The notify path: a run that failed or was stopped -> runs table + one notice.

The status event says only that the execution ended; ListPipelineExecutionSteps names
the step that failed and its FailureReason, and the step's training job names its log
streams (log group ``/aws/sagemaker/TrainingJobs``, stream prefix = job name).
The same plain functions serve the Lambda handler and the local runtime.
"""

from __future__ import annotations

import logging
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from foldline.events.pipeline import (
    ExecutionStatusChange,
    StepsUnavailable,
    list_execution_steps,
    step_training_job,
)
from foldline.intake.concurrency import release_run_slot
from foldline.intake.plan import run_notes
from foldline.outcomes.campaigns import campaign_member_ended
from foldline.outcomes.notices import (
    Notice,
    StepReport,
    analysis_failed_notice,
    as_campaign_member,
    ended_notice,
    publish,
    send_kept_notice,
)
from foldline.outcomes.step_outputs import describe_training_job, model_locations
from foldline.runs import table as runs_mod
from foldline.runs.facts import RunFacts, run_facts
from foldline.runs.table import RunsTable
from foldline.spec import layout
from foldline.spec.formats import utc_now
from foldline.spec.parameters import MSA_ENGINE
from foldline.spec.statuses import FAILED, STOPPED, SUCCEEDED

log = logging.getLogger("foldline.notify")

TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"


@dataclass
class NotifyContext:
    """Everything the notify path talks to."""

    sagemaker: Any
    sns: Any
    s3: Any
    runs: RunsTable
    topic_arn: str
    bucket: str
    #: ListPipelineExecutionSteps (all pages) for an execution ARN. Defaults to the
    #: SageMaker API; the local runtime, whose moto lacks that API, passes its
    #: executor's own record of the steps in the same shape.
    list_steps: Callable[[str], list[dict[str, Any]]] | None = None

    def steps(self, execution_arn: str) -> list[dict[str, Any]]:
        if self.list_steps is not None:
            return self.list_steps(execution_arn)
        return list_execution_steps(self.sagemaker, execution_arn)


@dataclass(frozen=True)
class NotifyOutcome:
    action: str  # "notified", "duplicate" or "stale" (an end the run is known not to have had)
    run_id: str
    status: str
    failed_step: str | None = None
    message_id: str | None = None

    def log_fields(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def _console_escape(text: str, times: int = 1) -> str:
    """The CloudWatch console's fragment encoding: URL-encode (``times`` over), ``%`` -> ``$``.

    Names inside the path are encoded twice (``/`` -> ``$252F``), query parts once.
    """
    for _ in range(times):
        text = quote(text, safe="")
    return text.replace("%", "$")


def training_log_links(job_name: str, region: str) -> tuple[str, ...]:
    """A console link to the job's log streams, and the CLI command that tails them."""
    group = _console_escape(TRAINING_LOG_GROUP, times=2)
    console = (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{group}$3FlogStreamNameFilter$3D{_console_escape(job_name)}"
    )
    cli = (
        f"aws logs tail {TRAINING_LOG_GROUP} --log-stream-name-prefix {job_name} --region {region}"
    )
    return console, cli


#: lines of a local job's log a failure notice quotes
LOG_TAIL_LINES = 20


def local_log(workdir: str, job_name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(log links, last lines) of a ``foldline local`` job: its log file, and the command
    that follows it, instead of the AWS console; the file's last :data:`LOG_TAIL_LINES`."""
    path = layout.local_job_log(workdir, job_name)
    try:
        with open(path, errors="replace") as log_file:
            tail = tuple(line.rstrip("\n") for line in log_file.readlines()[-LOG_TAIL_LINES:])
    except OSError:
        tail = ()
    return (path, f"tail -f {shlex.quote(path)}"), tail


def step_reports(
    sagemaker: Any, listed: list[dict[str, Any]], region: str, *, local_workdir: str | None = None
) -> list[StepReport]:
    """ListPipelineExecutionSteps entries as notices show them.

    A step's metadata gives its training job by ARN, which SageMaker lower-cases; log
    stream names keep the job name's case, so the name comes from DescribeTrainingJob.
    With ``local_workdir`` (``foldline local``), a step that did not succeed names its log
    file on this machine and quotes its last lines.
    """
    reports = []
    for step in listed:
        job = step_training_job(step)
        status = step.get("StepStatus", "Unknown")
        described = describe_training_job(sagemaker, job) if job else None
        if described:
            job = described.get("TrainingJobName", job)
        reason = step.get("FailureReason") or (described or {}).get("FailureReason") or None
        links, tail = (), ()
        if job and status != SUCCEEDED:
            links, tail = (
                local_log(local_workdir, job)
                if local_workdir
                else (training_log_links(job, region), ())
            )
        output = None
        if described and status == SUCCEEDED:
            output = (described.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        reports.append(
            StepReport(
                name=step["StepName"],
                status=status,
                failure_reason=reason if status != SUCCEEDED else None,
                training_job=job,
                log_links=links,
                output_uri=output,
                log_tail=tail,
            )
        )
    return reports


def _already_notified(facts: RunFacts, status: str, execution_arn: str) -> bool:
    item = facts.item or {}
    return (
        item.get("status") == status
        and item.get("execution_arn", execution_arn) == execution_arn
        and bool(item.get("notice_message_id"))
    )


def _contradicts_the_record(
    facts: RunFacts, status: str, change: ExecutionStatusChange, described: dict[str, Any]
) -> bool:
    """A late or replayed end event: the runs table already has another end for this very
    execution (Succeeded from the analysis, or the other of Failed/Stopped) and SageMaker
    does not say otherwise. EventBridge promises no order (a Failed before a retry that
    succeeded can arrive last); one run gets one end and one end notice."""
    item = facts.item or {}
    recorded = item.get("status")
    if item.get("execution_arn", change.execution_arn) != change.execution_arn:
        return False
    ends = (runs_mod.SUCCEEDED, runs_mod.FAILED, runs_mod.STOPPED)
    if recorded not in ends or recorded == status:
        return False
    return described.get("PipelineExecutionStatus") != change.status


def notify_run_ended(ctx: NotifyContext, change: ExecutionStatusChange) -> NotifyOutcome:
    """Record a Failed or Stopped run and send one notice naming the failed step."""
    if change.status not in (FAILED, STOPPED):
        raise ValueError(f"notify handles Failed and Stopped executions, not {change.status}")
    status = runs_mod.FAILED if change.status == FAILED else runs_mod.STOPPED
    facts = run_facts(ctx.runs, ctx.sagemaker, change)
    # the execution has ended: free its slot before anything here can fail (idempotent)
    release_run_slot(ctx.runs, facts.run_id)
    if _already_notified(facts, status, change.execution_arn):
        # an earlier try may have died between the run's end and its campaign's count
        campaign_member_ended(ctx.runs, ctx.sns, ctx.topic_arn, facts.item, s3=ctx.s3)
        return NotifyOutcome("duplicate", facts.run_id, status)
    described = ctx.sagemaker.describe_pipeline_execution(PipelineExecutionArn=change.execution_arn)
    if _contradicts_the_record(facts, status, change, described):
        log.warning(
            "stale %s event for %s: the run is %s",
            change.status,
            change.execution_arn,
            (facts.item or {}).get("status"),
        )
        return NotifyOutcome("stale", facts.run_id, status)

    unavailable = None
    try:
        steps = step_reports(
            ctx.sagemaker,
            ctx.steps(change.execution_arn),
            change.region,
            local_workdir=os.environ.get(layout.LOCAL_WORKDIR_ENV),
        )
    except StepsUnavailable as missing:
        log.warning("steps unavailable for %s: %s", change.execution_arn, missing)
        steps, unavailable = [], str(missing)
    execution_reason = described.get("FailureReason") or None
    notice = ended_notice(
        status=status.lower(),
        target=facts.target,
        run_id=facts.run_id,
        execution_arn=change.execution_arn,
        steps=steps,
        execution_failure_reason=execution_reason,
        steps_unavailable=unavailable,
        run_notes=run_notes(facts.item, local=bool(os.environ.get(layout.LOCAL_WORKDIR_ENV))),
        msa_engine=facts.parameters.get(MSA_ENGINE.name),
    )
    notice = as_campaign_member(notice, facts.item)
    failed = next((s for s in steps if s.status == FAILED), None)
    ctx.runs.update(
        facts.run_id,
        status=status,
        execution_arn=change.execution_arn,
        ended_at=change.end_time.isoformat() if change.end_time else utc_now(),
        failed_step=failed.name if failed else None,
        failure_reason=(failed.failure_reason if failed else None) or execution_reason,
        target=facts.target if not facts.item else None,
    )
    message_id = _publish_once(ctx, facts.run_id, notice)
    # a record of a screening drop: the last of its campaign sends the summary
    campaign_member_ended(ctx.runs, ctx.sns, ctx.topic_arn, facts.item, s3=ctx.s3)
    return NotifyOutcome(
        "notified",
        facts.run_id,
        status,
        failed_step=failed.name if failed else None,
        message_id=message_id,
    )


def _publish_once(ctx: NotifyContext, run_id: str, notice: Notice) -> str:
    """Publish, then mark the run notified (a replay that gets this far sends no second)."""
    message_id = publish(ctx.sns, ctx.topic_arn, notice)
    ctx.runs.update(run_id, notice_message_id=message_id, notified_at=utc_now())
    return message_id


def notify_analysis_failed(
    ctx: NotifyContext,
    change: ExecutionStatusChange,
    *,
    error: str,
    attempts: int | None = None,
) -> NotifyOutcome:
    """The analysis gave up on a succeeded run: say so, and where the models still are.

    The run keeps status Succeeded (the pipeline did); ``analysis_status`` says Failed.
    """
    facts = run_facts(ctx.runs, ctx.sagemaker, change)
    item = facts.item or {}
    if item.get("analysis_status") == FAILED and item.get("analysis_notice_message_id"):
        return NotifyOutcome("duplicate", facts.run_id, "AnalysisFailed")
    same_execution = item.get("execution_arn", change.execution_arn) == change.execution_arn
    if same_execution and item.get("analysis_status") == SUCCEEDED and item.get("report_uri"):
        # the analysis did its work; what failed was its notice (SNS): send the one it
        # kept, and leave the run as it is. Still failing: this raises, and the record
        # waits in FunctionFailuresQueue for `foldline redrive --queue functions`.
        if item.get("pending_notice"):
            message_id = send_kept_notice(
                ctx.sns, ctx.topic_arn, ctx.runs, facts.run_id, item["pending_notice"]
            )
            return NotifyOutcome("notified", facts.run_id, SUCCEEDED, message_id=message_id)
        return NotifyOutcome("duplicate", facts.run_id, SUCCEEDED)
    # the analysis records the archives it found; else look where the steps write them
    model_uris = dict(item.get("model_uris") or {}) or model_locations(
        ctx.s3, ctx.bucket, facts.run_id
    )
    notice = analysis_failed_notice(
        target=facts.target,
        run_id=facts.run_id,
        error=error,
        model_uris=model_uris,
        attempts=attempts,
    )
    notice = as_campaign_member(notice, facts.item)
    ctx.runs.update(
        facts.run_id,
        status=runs_mod.SUCCEEDED,
        analysis_status=FAILED,
        analysis_error=error[:2000],
        model_uris=model_uris,
        execution_arn=change.execution_arn,
    )
    message_id = publish(ctx.sns, ctx.topic_arn, notice)
    ctx.runs.update(facts.run_id, analysis_notice_message_id=message_id, notified_at=utc_now())
    campaign_member_ended(ctx.runs, ctx.sns, ctx.topic_arn, facts.item, s3=ctx.s3)
    return NotifyOutcome("notified", facts.run_id, "AnalysisFailed", message_id=message_id)
