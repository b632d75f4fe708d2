"""The end of a campaign: one summary notice when the last run of a screening drop ends.

Every path that ends a member run calls :func:`campaign_member_ended` after recording the
run's end (the analysis for Succeeded, the notify function for Failed/Stopped and for an
analysis that gave up, the start function for a refused record or a start SageMaker kept
refusing). It counts the member ended in its campaign (:mod:`foldline.runs.campaigns`:
idempotent), and the call that finds every member ended claims, sends and marks the
summary: exactly one summary however many of these race or are retried. A publish that
fails lets the claim go and raises, so the caller's retry sends it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from foldline.outcomes.notices import Notice, clip_subject, publish
from foldline.runs.campaigns import CampaignRecord, Campaigns
from foldline.spec import layout
from foldline.spec.formats import utc_now
from foldline.spec.statuses import REJECTED, SUCCEEDED

log = logging.getLogger("foldline.outcomes.campaigns")

#: how long an invocation sending the summary holds the right to it: longer than any
#: end-of-run function runs, so a claim outlives its holder only when the holder died
SUMMARY_LEASE_S = 900


def campaign_member_ended(
    runs: Any,
    sns: Callable[[], Any] | Any,
    topic_arn: str,
    item: Mapping[str, Any] | None,
    *,
    s3: Any,
) -> str | None:
    """Count the run ``item`` (its runs-table item, as read at any time: only its
    ``run_id`` and ``campaign`` count) ended in its campaign; send the summary if it was
    the last. Call it only once the run's end is recorded.

    ``runs`` is the :class:`~foldline.runs.table.RunsTable`; ``sns`` a client or a function
    that makes one; ``s3`` writes the campaign's ``campaigns/<id>/summary.json`` (before the
    notice, which links to it). Returns the summary's message id where this call sent it, else None
    (the run is in no campaign, others are still running, or the summary went out).
    """
    campaign_id = (item or {}).get("campaign")
    if not campaign_id:
        return None
    campaigns = Campaigns(runs)
    campaign = campaigns.member_ended(campaign_id, item["run_id"])
    if len(campaign.get("ended") or ()) < int(campaign.get("expected", 0)):
        return None
    if campaign.get("summary_message_id"):
        return None
    token = uuid.uuid4().hex
    if not campaigns.claim_summary(campaign_id, token, SUMMARY_LEASE_S):
        return None
    try:
        members = campaigns.member_items(campaign)
        s3.put_object(
            Bucket=campaign["bucket"],
            Key=layout.campaign_summary_key(campaign_id),
            Body=json.dumps(summary_document(campaign, members), indent=1).encode(),
            ContentType="application/json",
        )
        client = sns() if callable(sns) else sns
        message_id = publish(client, topic_arn, campaign_summary_notice(campaign, members))
    except BaseException:
        try:
            campaigns.release_summary(campaign_id, token)
        except Exception as err:  # noqa: BLE001 - the claim lapses anyway; keep the first error
            log.warning("could not let go of the summary claim of %s: %s", campaign_id, err)
        raise
    campaigns.summary_sent(campaign_id, message_id)
    return message_id


#: what summary.json keeps of each member's runs-table item
_SUMMARY_FIELDS = (
    "run_id",
    "campaign_record",
    "target",
    "status",
    "code",
    "reason",
    "failed_step",
    "failure_reason",
    "tm_score",
    "rmsd",
    "plddt_mean",
    "msa_cache_key",
    "msa_reused_from",
    "report_uri",
    "started_at",
    "ended_at",
)


def summary_document(campaign: CampaignRecord, members: list[Mapping[str, Any]]) -> dict:
    """``campaigns/<id>/summary.json``: the drop, the counts, and one entry per record."""
    return {
        "campaign_id": campaign["campaign_id"],
        "source": layout.s3_uri(campaign.get("bucket", ""), campaign.get("key", "")),
        "version": campaign.get("version"),
        "created_at": campaign.get("created_at"),
        "summarised_at": utc_now(),
        "records": len(members),
        "unique_sequences": campaign.get("unique_sequences"),
        "statuses": dict(Counter(m.get("status", "?") for m in members)),
        "runs": [{k: m[k] for k in _SUMMARY_FIELDS if k in m} for m in members],
    }


def _member_line(member: Mapping[str, Any]) -> str:
    status = member.get("status", "?")
    parts = [f"{member.get('campaign_record', '?'):>4}", f"{member.get('target', '-')}", status]
    if status == SUCCEEDED and member.get("tm_score") is not None:
        parts.append(f"TM-score {member['tm_score']:.3f}")
    plddt = member.get("plddt_mean") or {}
    if plddt:
        parts.append("pLDDT " + "/".join(f"{v:.1f}" for v in plddt.values()))
    if member.get("msa_reused_from"):
        parts.append(f"MSA from {member['msa_reused_from']}")
    reason = member.get("reason") or member.get("failure_reason")
    if status != SUCCEEDED and reason:
        parts.append(f"({reason})")
    parts.append(f"run {member['run_id']}")
    return "  ".join(str(p) for p in parts)


def campaign_summary_notice(campaign: CampaignRecord, members: list[Mapping[str, Any]]) -> Notice:
    """One notice for a whole screening drop: counts by outcome, then a line per record."""
    counts = Counter(m.get("status", "?") for m in members)
    campaign_id = campaign["campaign_id"]
    target = campaign.get("target", campaign_id)
    counted = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
    folded = len(members) - counts.get(REJECTED, 0)
    body = [
        (
            f"foldline screened s3://{campaign.get('bucket')}/{campaign.get('key')}: "
            f"{len(members)} records, {counted}."
        ),
        (
            f"Campaign {campaign_id}: {folded} runs, "
            f"{campaign.get('unique_sequences', folded)} distinct sequences (each searched once)."
        ),
        "",
        "record  target  status  results  run",
        *(_member_line(m) for m in members),
        "",
        "Every record, its run and numbers: "
        + layout.s3_uri(campaign.get("bucket", ""), layout.campaign_summary_key(campaign_id)),
        f"foldline status {campaign_id}    the campaign, run by run",
        f"foldline compare --campaign {campaign_id}    AlphaFold against OpenFold, all its runs",
    ]
    return Notice(
        subject=clip_subject(f"foldline: screen {target} done: {counted} (campaign {campaign_id})"),
        body="\n".join(body),
        status="campaign-ended",
        target=target,
        run_id=campaign_id,
        extra_attributes={"campaign": campaign_id},
    )
