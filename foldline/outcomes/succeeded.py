"""The analysis path: a Succeeded execution -> report in S3, Experiments, runs table, notice.

Order matters for the faults it must survive:

1. fetch both engines' ``model.tar.gz`` (and the MSA step's manifest), run
   :func:`foldline.analysis.analyze`; corrupt output raises, so the event is retried and,
   once retries are spent, the function's on-failure destination gets it
   (:func:`foldline.outcomes.failed.notify_analysis_failed` then tells people);
2. upload the report to ``runs/<run_id>/report/``;
3. log the run to the tracker (SageMaker Experiments);
4. mark the run Succeeded in the runs table, with the summary numbers;
5. publish the notice with a presigned link, and record its message id.

The report is in S3 before any notice is attempted, and the notice itself is kept in
the runs item (``pending_notice``, written with step 4) until SNS takes it: an SNS
failure loses nothing. The function raises; its retry, and once retries are spent the
notify function (the on-failure destination), send the kept notice without redoing the
analysis, and a notify failure leaves the record in FunctionFailuresQueue for
``foldline redrive --queue functions``. The run stays Succeeded with its analysis
Succeeded throughout. A replay after step 5 (Powertools idempotency aside) finds the
message id and stops at once: one report, one notice.
"""

from __future__ import annotations

import datetime as _dt
import logging
import mimetypes
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

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
    ResultSummary,
    as_campaign_member,
    notice_record,
    send_kept_notice,
    succeeded_notice,
)
from foldline.outcomes.step_outputs import (
    MissingOutput,
    fetch_step_output,
    locate_archive,
    training_job_archive,
)
from foldline.outcomes.tracking import RunTracker, TrackedRun
from foldline.runs import table as runs_mod
from foldline.runs.facts import RunFacts, run_facts
from foldline.runs.table import RunsTable
from foldline.spec import layout
from foldline.spec.formats import number, utc_now
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP, STEPS
from foldline.spec.statuses import RETRYING, SUCCEEDED

log = logging.getLogger("foldline.outcomes.succeeded")

#: SigV4 presigned URLs live at most 7 days
MAX_LINK_EXPIRY_S = 7 * 24 * 3600
DEFAULT_LINK_EXPIRY_S = MAX_LINK_EXPIRY_S
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".pdb": "chemical/x-pdb",
    ".cif": "chemical/x-cif",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass
class AnalysisContext:
    """Everything the analysis path talks to."""

    s3: Any
    sagemaker: Any
    sns: Any
    runs: RunsTable
    bucket: str
    topic_arn: str
    tracker: RunTracker | None = None
    link_expiry_s: int = DEFAULT_LINK_EXPIRY_S
    work_root: Path | None = None  # where archives are unpacked (Lambda: /tmp)
    #: ListPipelineExecutionSteps (all pages) for an execution ARN; see NotifyContext
    list_steps: Callable[[str], list[dict[str, Any]]] | None = None

    def steps(self, execution_arn: str) -> list[dict[str, Any]]:
        if self.list_steps is not None:
            return self.list_steps(execution_arn)
        return list_execution_steps(self.sagemaker, execution_arn)

    def __post_init__(self) -> None:
        if not 1 <= self.link_expiry_s <= MAX_LINK_EXPIRY_S:
            raise ValueError(
                f"report link expiry must be 1..{MAX_LINK_EXPIRY_S} s, got {self.link_expiry_s}"
            )


@dataclass(frozen=True)
class AnalysisOutcome:
    action: str  # "reported" or "duplicate"
    run_id: str
    report_uri: str | None = None
    tm_score: float | None = None
    message_id: str | None = None
    report_files: tuple[str, ...] = field(default_factory=tuple)

    def log_fields(self) -> dict[str, Any]:
        """JSON-shaped (lists, not tuples): also what idempotency stores and replays."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in self.__dict__.items()
            if v not in (None, ())
        }


@dataclass(frozen=True)
class PipelineSteps:
    """What ListPipelineExecutionSteps says about the run's steps (empty where unknown)."""

    archives: dict[str, str]  # step name -> model.tar.gz URI (covers cache hits)
    runtimes_s: dict[str, float]  # step name -> seconds
    cache_hits: dict[str, str]  # step name -> source execution ARN


def pipeline_steps(ctx: AnalysisContext, execution_arn: str) -> PipelineSteps:
    sagemaker = ctx.sagemaker
    try:
        listed = ctx.steps(execution_arn)
    except StepsUnavailable as missing:
        log.info("steps unavailable, locating outputs by listing S3: %s", missing)
        return PipelineSteps({}, {}, {})
    archives, runtimes, cache_hits = {}, {}, {}
    for step in listed:
        name = step["StepName"]
        job = step_training_job(step)
        if job:
            uri = training_job_archive(sagemaker, job)
            if uri:
                archives[name] = uri
        if step.get("StartTime") and step.get("EndTime"):
            runtimes[name] = (step["EndTime"] - step["StartTime"]).total_seconds()
        source = (step.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
        if source:
            cache_hits[name] = source
    return PipelineSteps(archives, runtimes, cache_hits)


def _recorded_runtimes(item: dict | None) -> dict[str, float]:
    """Step runtimes the progress path recorded in the runs table."""
    out = {}
    for name, step in ((item or {}).get("steps") or {}).items():
        try:
            start = _dt.datetime.fromisoformat(step["started_at"])
            end = _dt.datetime.fromisoformat(step["ended_at"])
        except (KeyError, TypeError, ValueError):
            continue
        out[name] = (end - start).total_seconds()
    return out


def _already_reported(facts: RunFacts, execution_arn: str) -> bool:
    item = facts.item or {}
    return (
        item.get("status") == runs_mod.SUCCEEDED
        and item.get("execution_arn", execution_arn) == execution_arn
        and bool(item.get("report_uri"))
        and bool(item.get("notice_message_id"))
    )


def upload_report(s3: Any, bucket: str, run_id: str, report_dir: Path) -> list[str]:
    """Upload every file of ``report_dir`` under ``runs/<run_id>/report/``; returns keys.

    The page goes last, so a reader never finds a report.html whose plots are missing.
    """
    prefix = layout.report_prefix(run_id)
    files = sorted(p for p in report_dir.rglob("*") if p.is_file())
    files.sort(key=lambda p: p.name == layout.REPORT_PAGE)
    keys = []
    for path in files:
        key = prefix + path.relative_to(report_dir).as_posix()
        content_type = _CONTENT_TYPES.get(path.suffix.lower()) or (
            mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        )
        s3.upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type})
        keys.append(key)
    return keys


def summary_from_metrics(metrics: dict[str, Any], runtimes_s: dict[str, float]) -> ResultSummary:
    """The notice's numbers from the analysis' metrics (schema: docs/metrics-schema.md).

    The whole-complex scores (normalised by the reference); none where one slot left no
    model (``comparison`` null: the engine
    that was skipped and why go in ``absent``). Step runtimes: the pipeline's own
    record (``runtimes_s``) where known, else the step manifests the analysis read.
    """
    from foldline.analysis.msa_source import describe as describe_msa_engine
    from foldline.analysis.wording import (
        STAND_IN,
        absent_phrase,
        engine_title,
        stand_in_phrase,
        weights_notes,
        weights_phrase,
    )

    comparison = metrics.get("comparison") or {}
    whole = comparison.get("complex") or {}
    plddt, compared, versions, weights, kinds = {}, {}, {}, {}, {}
    stand_in = None
    for slot, engine in (metrics.get("engines") or {}).items():
        if not engine:  # the slot left no model
            continue
        label = engine_title(slot, engine)
        weights[label] = weights_phrase(engine)
        if engine.get("engine") == STAND_IN and stand_in is None:
            stand_in = stand_in_phrase(engine)
        mean = number((engine.get("plddt") or {}).get("mean"))
        kind = (engine.get("plddt") or {}).get("kind", "plddt")
        if kind == "template-similarity":
            kinds[label] = "alignment score, not pLDDT"
        if mean is not None and kind != "none":
            plddt[label] = mean
        if engine.get("model_file"):
            compared[label] = engine["model_file"]
        versions[label] = " ".join(
            str(x) for x in (engine.get("engine"), engine.get("engine_version")) if x
        )
    absent = {}
    for slot, record in (metrics.get("absent_engines") or {}).items():
        absent[absent_phrase(slot, record, why=False)] = str(record.get("reason") or "")
    runtimes = dict(runtimes_s)
    for step, runtime in ((metrics.get("runtimes") or {}).get("steps") or {}).items():
        if step not in runtimes and number((runtime or {}).get("seconds")) is not None:
            runtimes[step] = float(runtime["seconds"])
    return ResultSummary(
        tm_score=number(whole.get("tm_score")),
        tm_normalised_by=whole.get("normalising_length"),
        rmsd=number(whole.get("rmsd")),
        gdt_ts=number(whole.get("gdt_ts")),
        ca_lddt=number(whole.get("ca_lddt")),
        plddt_mean=plddt,
        compared=compared,
        engines={k: v for k, v in versions.items() if v},
        weights=weights,
        weights_notes=tuple(weights_notes(metrics.get("engines") or {})),
        runtimes_s=runtimes,
        absent=absent,
        not_engine_agreement=None
        if comparison.get("engine_agreement", True)
        else comparison.get("engine_agreement_note"),
        stand_in=stand_in,
        warnings=tuple(comparison.get("notes") or ()) + tuple(metrics.get("warnings") or ()),
        confidence_kinds=kinds,
        msa_engine=describe_msa_engine(metrics.get("msa_engine")),
    )


def tracked_metrics(metrics: dict[str, Any], summary: ResultSummary) -> dict[str, float]:
    """Tracker metric name -> value; per-engine names use the pipeline slot
    (``plddt_mean_alphafold`` is the AlphaFold step's model, whichever engine made it:
    the tracked parameters name the engine)."""
    out: dict[str, float] = {}
    for name in ("tm_score", "rmsd", "gdt_ts", "ca_lddt"):
        value = getattr(summary, name)
        if value is not None:
            out[name] = value
    for slot, engine in (metrics.get("engines") or {}).items():
        if not engine:
            continue
        mean = number((engine.get("plddt") or {}).get("mean"))
        if mean is not None:
            out[f"plddt_mean_{slot}"] = mean
    for step, seconds in summary.runtimes_s.items():
        out[f"runtime_{step}_s"] = seconds
    return out


def tracked_parameters(parameters: dict[str, str], metrics: dict[str, Any]) -> dict[str, str]:
    """The pipeline parameters plus, per slot, the engine that ran and its version."""
    out: dict[str, str] = dict(parameters)
    absent = metrics.get("absent_engines") or {}
    for slot, engine in (metrics.get("engines") or {}).items():
        if not engine:  # no model: the engine its step named, and that it left none
            record = absent.get(slot) or {}
            out[f"{slot}_engine"] = str(record.get("engine") or "unknown")
            out[f"{slot}_engine_version"] = str(record.get("engine_version") or "unknown")
            out[f"{slot}_model"] = f"none ({record.get('status') or 'no model'})"
            continue
        out[f"{slot}_engine"] = str(engine.get("engine") or "unknown")
        out[f"{slot}_engine_version"] = str(engine.get("engine_version") or "unknown")
        out[f"{slot}_weights"] = str((engine.get("weights") or {}).get("kind") or "not recorded")
        if engine.get("model_file"):
            out[f"{slot}_model"] = str(engine["model_file"])
    return out


def _fetch_msa_manifest(
    ctx: AnalysisContext, run_id: str, dest: Path, archive_uri: str | None
) -> Path | None:
    """The MSA step's manifest, timings and sequence-search MSAs (for the report's depth
    and coverage); not its features, template hits or multimer pairing hits."""
    msas = [f"msas/{name}" for name in layout.MSA_SEARCH_FILES]
    msas += [f"msas/*/{name}" for name in layout.MSA_SEARCH_FILES]  # one folder per chain
    try:
        folder, _ = fetch_step_output(
            ctx.s3,
            ctx.bucket,
            run_id,
            MSA_STEP,
            dest,
            archive_uri=archive_uri,
            only=[layout.STEP_MANIFEST, "timings.json", *msas],
        )
    except MissingOutput as missing:
        log.warning("no MSA step output: %s", missing)
        return None
    return folder


def _compare_and_upload(
    ctx: AnalysisContext,
    facts: RunFacts,
    change: ExecutionStatusChange,
    steps: PipelineSteps,
    runtimes: dict[str, float],
    model_uris: dict[str, str],
) -> tuple[dict[str, Any], list[str]]:
    """Fetch both engines' outputs, analyse them, upload the report; nothing else.

    ``model_uris`` receives each engine step's archive URI as soon as it is located. A
    step that skipped (OpenFold on a multimer) still leaves an archive with its
    ``foldline-step.json``; the analysis then reports the other engine alone.
    """
    from foldline.analysis.analyze import analyze  # numeric stack: imported where used

    run_id = facts.run_id
    with tempfile.TemporaryDirectory(prefix="foldline-", dir=ctx.work_root) as tmp:
        work = Path(tmp)
        for step in (ALPHAFOLD_STEP, OPENFOLD_STEP):
            bucket, key = locate_archive(
                ctx.s3, ctx.bucket, run_id, step, archive_uri=steps.archives.get(step.name)
            )
            model_uris[step.name] = layout.s3_uri(bucket, key)
        af_dir, _ = fetch_step_output(
            ctx.s3,
            ctx.bucket,
            run_id,
            ALPHAFOLD_STEP,
            work / "alphafold",
            archive_uri=model_uris[ALPHAFOLD_STEP.name],
        )
        of_dir, _ = fetch_step_output(
            ctx.s3,
            ctx.bucket,
            run_id,
            OPENFOLD_STEP,
            work / "openfold",
            archive_uri=model_uris[OPENFOLD_STEP.name],
        )
        msa_dir = _fetch_msa_manifest(ctx, run_id, work / "msa", steps.archives.get(MSA_STEP.name))
        context = {
            "run_id": run_id,
            "target": facts.target,
            "execution_arn": change.execution_arn,
            "parameters": facts.parameters,
            "step_runtimes_s": runtimes,
            "cache_hits": steps.cache_hits,
            "model_archives": dict(model_uris),
        }
        # "MSA reused from run X", instance types and cost estimate (start path's record)
        for note in run_notes(facts.item, local=bool(os.environ.get(layout.LOCAL_WORKDIR_ENV))):
            context["msa" if note.startswith("MSA") else "cost_estimate"] = note
        if (facts.item or {}).get("sizing"):
            sized = facts.item["sizing"]
            context["instance_types"] = (
                f"MSA {sized.get('msa_instance_type')} "
                f"({sized.get('msa_chosen_by')}), inference "
                f"{sized.get('inference_instance_type')} "
                f"({sized.get('inference_chosen_by')})"
            )
        report_dir = work / "report"
        metrics = analyze(af_dir, of_dir, report_dir, context=context, msa=msa_dir)
        keys = upload_report(ctx.s3, ctx.bucket, run_id, report_dir)
    return metrics, keys


def analyse_run(ctx: AnalysisContext, change: ExecutionStatusChange) -> AnalysisOutcome:
    """Compare the run's two models (or report the one engine that left a model), store
    the report, track it, and tell people."""
    if change.status != SUCCEEDED:
        raise ValueError(f"analysis handles Succeeded executions, not {change.status}")
    facts = run_facts(ctx.runs, ctx.sagemaker, change)
    run_id = facts.run_id
    # the execution has ended: free its slot before anything here can fail (idempotent)
    release_run_slot(ctx.runs, run_id)
    if _already_reported(facts, change.execution_arn):
        # an earlier try may have died between the run's end and its campaign's count
        campaign_member_ended(ctx.runs, ctx.sns, ctx.topic_arn, facts.item, s3=ctx.s3)
        return AnalysisOutcome("duplicate", run_id, report_uri=(facts.item or {})["report_uri"])
    item = facts.item or {}
    same_execution = item.get("execution_arn", change.execution_arn) == change.execution_arn
    if same_execution and item.get("pending_notice") and item.get("analysis_status") == SUCCEEDED:
        # the report is done; only its notice did not go out (SNS failed): send it now
        message_id = send_kept_notice(
            ctx.sns, ctx.topic_arn, ctx.runs, run_id, item["pending_notice"]
        )
        campaign_member_ended(ctx.runs, ctx.sns, ctx.topic_arn, facts.item, s3=ctx.s3)
        return AnalysisOutcome(
            "reported",
            run_id,
            report_uri=item.get("report_uri"),
            tm_score=item.get("tm_score"),
            message_id=message_id,
        )
    if same_execution and item.get("status") in (runs_mod.FAILED, runs_mod.STOPPED):
        # the notify function recorded another end for this execution: SageMaker decides
        described = ctx.sagemaker.describe_pipeline_execution(
            PipelineExecutionArn=change.execution_arn
        )
        if described.get("PipelineExecutionStatus") != SUCCEEDED:
            log.warning(
                "stale Succeeded event for %s: the execution is %s",
                change.execution_arn,
                described.get("PipelineExecutionStatus"),
            )
            return AnalysisOutcome("stale", run_id)

    steps = pipeline_steps(ctx, change.execution_arn)
    facts = _with_step_cache_reuse(ctx, facts, steps)
    runtimes = {**_recorded_runtimes(facts.item), **steps.runtimes_s}
    runtimes = {s.name: runtimes[s.name] for s in STEPS if s.name in runtimes}
    model_uris: dict[str, str] = {}  # filled as the archives are found
    try:
        metrics, keys = _compare_and_upload(ctx, facts, change, steps, runtimes, model_uris)
    except Exception as err:
        # recorded for people and for the on-failure notice; the raise makes it a retry
        ctx.runs.update(
            run_id,
            analysis_status=RETRYING,
            model_uris=model_uris or None,
            analysis_error=f"{type(err).__name__}: {err}"[:2000],
        )
        raise

    report_uri = layout.s3_uri(ctx.bucket, layout.report_prefix(run_id))
    summary = summary_from_metrics(metrics, runtimes)
    if ctx.tracker is not None:
        ctx.tracker.log_run(
            TrackedRun(
                target=facts.target,
                run_id=run_id,
                execution_arn=change.execution_arn,
                parameters=tracked_parameters(facts.parameters, metrics),
                metrics=tracked_metrics(metrics, summary),
                artifacts={
                    "report": report_uri + layout.REPORT_PAGE,
                    "metrics": report_uri + layout.METRICS_FILE,
                    **{f"model_{k}": v for k, v in model_uris.items()},
                },
                inputs=_inputs(facts),
                start_time=change.start_time,
                end_time=change.end_time,
            )
        )
    notice = as_campaign_member(
        _success_notice(ctx, facts, summary, report_uri, model_uris), facts.item
    )
    ctx.runs.update(
        run_id,
        status=runs_mod.SUCCEEDED,
        execution_arn=change.execution_arn,
        ended_at=change.end_time.isoformat() if change.end_time else utc_now(),
        report_uri=report_uri,
        model_uris=model_uris,
        analysis_status=SUCCEEDED,
        tm_score=summary.tm_score,
        rmsd=summary.rmsd,
        plddt_mean=summary.plddt_mean or None,
        comparison_skipped=metrics.get("comparison_skipped"),
        target=facts.target if not facts.item else None,
        # kept until SNS takes it: a failed publish is sent by the retry or the redrive
        pending_notice=notice_record(notice),
    )
    message_id = send_kept_notice(ctx.sns, ctx.topic_arn, ctx.runs, run_id, notice_record(notice))
    # a record of a screening drop: the last of its campaign sends the summary
    campaign_member_ended(ctx.runs, ctx.sns, ctx.topic_arn, facts.item, s3=ctx.s3)
    return AnalysisOutcome(
        "reported",
        run_id,
        report_uri=report_uri,
        tm_score=summary.tm_score,
        message_id=message_id,
        report_files=tuple(keys),
    )


def _with_step_cache_reuse(ctx: AnalysisContext, facts: RunFacts, steps: PipelineSteps) -> RunFacts:
    """Record "MSA reused from run X" when SageMaker's step cache reused an earlier run's
    MSA step that the start function did not know of (its msa-cache/ manifest was gone),
    so the runs table, the report and the notice all say so."""
    source = steps.cache_hits.get(MSA_STEP.name)
    if not source or facts.item is None or facts.item.get("msa_reused_from"):
        return facts
    origin = source.rsplit("/", 1)[-1]  # the execution id, if its run id cannot be read
    try:  # run ids are the executions' display names
        described = ctx.sagemaker.describe_pipeline_execution(PipelineExecutionArn=source)
        origin = described.get("PipelineExecutionDisplayName") or origin
    except (ClientError, BotoCoreError) as err:
        log.warning("cannot describe the MSA step's source execution %s: %s", source, err)
    ctx.runs.update(facts.run_id, msa_reused_from=origin)
    return replace(facts, item={**facts.item, "msa_reused_from": origin})


def _inputs(facts: RunFacts) -> dict[str, str]:
    folder = facts.parameters.get("FastaInputS3URI")
    name = facts.parameters.get("FastaFileName")
    return {"fasta": folder.rstrip("/") + "/" + name} if folder and name else {}


def _success_notice(
    ctx: AnalysisContext,
    facts: RunFacts,
    summary: ResultSummary,
    report_uri: str,
    model_uris: dict[str, str],
) -> Notice:
    """The success notice with a presigned link to report.html (``foldline local``: its path).

    A presigned URL also stops working when the credentials that signed it expire: signed
    by a Lambda role's temporary credentials it lasts hours, not the ``link_expiry_s``
    asked for. Hence "at the latest" in the notice, and the S3 folder beside the link.
    """
    local_workdir = os.environ.get(layout.LOCAL_WORKDIR_ENV)
    if local_workdir:  # foldline local: its server stops with it; the report is fetched to here
        url, expires_at = layout.local_report_page(local_workdir, facts.run_id), None
    else:
        expires = _dt.datetime.now(_dt.UTC) + _dt.timedelta(seconds=ctx.link_expiry_s)
        expires_at = expires.strftime("%Y-%m-%d %H:%M UTC")
        url = ctx.s3.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": ctx.bucket,
                "Key": layout.report_prefix(facts.run_id) + layout.REPORT_PAGE,
            },
            ExpiresIn=ctx.link_expiry_s,
        )
    return succeeded_notice(
        target=facts.target,
        run_id=facts.run_id,
        summary=summary,
        report_url=url,
        report_uri=report_uri,
        link_expires_at=expires_at,
        model_uris=model_uris,
        run_notes=run_notes(facts.item, local=bool(local_workdir)),
    )


def link_expiry_from_env() -> int:
    """REPORT_LINK_EXPIRY_SECONDS, default and maximum 7 days."""
    return int(os.environ.get("REPORT_LINK_EXPIRY_SECONDS", DEFAULT_LINK_EXPIRY_S))
