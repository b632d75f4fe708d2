"""The run record: the attributes of one item of the runs table, and who writes each.

One item per upload, keyed by ``run_id``. The start function creates it (``claim``) or
records a rejection (``put``); the progress function merges each step's status into
``steps``; the analysis and notify functions write the outcome. :class:`RunsTable` refuses
an attribute that is not declared here, so a misspelt name fails where it is written,
not later where someone reads it.

>>> sorted(set(RunRecord.__annotations__) - set(RunRecord.__optional_keys__))
['run_id']
>>> check_fields({"status": "Executing", "execution_arn": "arn:..."})
>>> check_fields({"tm_scor": 0.9})
Traceback (most recent call last):
...
foldline.runs.record.UnknownAttribute: not an attribute of the run record: tm_scor
"""

from collections.abc import Iterable
from typing import Any, Required, TypedDict


class StepRecord(TypedDict, total=False):
    """``steps.<step name>``: one pipeline step as its status events told it (progress)."""

    status: str  # foldline.spec.statuses: Starting, Executing, Succeeded, Failed, Stopped
    type: str  # SageMaker's step type (Training)
    started_at: str
    ended_at: str
    failure_reason: str
    training_job: str
    cache_hit: bool
    cache_source_execution_arn: str
    execution_arn: str


class RunRecord(TypedDict, total=False):
    """One run, as the runs table holds it (times are ISO 8601 UTC, foldline.spec.formats)."""

    run_id: Required[str]
    # every write
    status: str  # foldline.spec.statuses: Starting -> Executing -> Succeeded | Failed | Stopped; Rejected
    created_at: str
    updated_at: str
    # the start function: the upload and what it decided (claim)
    bucket: str
    key: str
    version: str
    target: str
    chains: int
    residues: int
    parameters: dict[str, str]  # the pipeline parameters it started the execution with
    msa_cache_key: str
    msa_reused_from: str  # the run whose MSAs this one reuses (also set by the analysis)
    sizing: dict[str, Any]  # foldline.intake.sizing.Sizing.as_item()
    db_preset_note: str
    execution_arn: str
    started_at: str
    start_refusals: int  # StartPipelineExecution calls SageMaker refused (count_start_refusal)
    # the start function: a record of a screening drop (foldline.intake.screen)
    campaign: str  # the campaign's id (foldline.runs.campaigns)
    campaign_record: int  # the record's place in the dropped file (1 = the first)
    # the start function: a rejected upload (claim_rejection, then rejection_notified)
    code: str
    reason: str
    rejected_key: str
    rejecting: dict[str, str]  # the claim on its one notice: {"token", "until"}
    # the progress function
    current_step: str
    steps: dict[str, StepRecord]
    # the notify function (Failed / Stopped), and the analysis function (Succeeded)
    ended_at: str
    failed_step: str
    failure_reason: str
    model_uris: dict[str, str]  # slot -> s3:// URI of the model the report compared
    report_uri: str
    tm_score: float
    rmsd: float
    plddt_mean: dict[str, float]
    comparison_skipped: str
    analysis_status: str
    analysis_error: str
    analysis_notice_message_id: str
    notice_message_id: str
    notified_at: str
    #: a success notice SNS has not taken yet (foldline.outcomes.notices.notice_record),
    #: sent by the retry or the notify function, then removed
    pending_notice: dict[str, Any]
    # the local runtime, restarted: a run its last session left open, started again
    interrupted_at: str


RUN_ATTRIBUTES = frozenset(RunRecord.__annotations__)
STEP_ATTRIBUTES = frozenset(StepRecord.__annotations__)


class UnknownAttribute(TypeError):
    """A write names an attribute the run record does not declare."""


def check_fields(
    fields: Iterable[str], known: frozenset[str] = RUN_ATTRIBUTES, what: str = "the run record"
) -> None:
    unknown = sorted(set(fields) - known)
    if unknown:
        raise UnknownAttribute(f"not an attribute of {what}: {', '.join(unknown)}")
