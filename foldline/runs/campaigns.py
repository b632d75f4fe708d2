"""Campaigns: the runs of one screening drop, as one item of the runs table.

A screening drop (``Mode=screen``, :mod:`foldline.spec.screening`) becomes one run per
record; its campaign item, under :func:`~foldline.spec.screening.campaign_item_key`, lists
them and counts their ends:

- the start function creates it (:meth:`Campaigns.create`, once: a redelivery finds it)
  before it starts any member, with every record as a member, refused ones included;
- each member's end (its analysis, its notify, the start function for a refused record)
  adds the member's run id to the ``ended`` string set (:meth:`Campaigns.member_ended`):
  adding the same id twice adds nothing, so replays and retries count once;
- whoever sees ``ended`` complete claims the summary notice (:meth:`claim_summary`, a
  conditional write with a lease, as rejections claim theirs), publishes it and marks it
  sent: one summary, however many end events race.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Required, TypedDict

from botocore.exceptions import ClientError

from foldline.runs.table import RunsTable, conditional_check_failed
from foldline.spec.formats import utc_now
from foldline.spec.screening import CAMPAIGN_KEY_PREFIX, campaign_item_key


class CampaignMember(TypedDict):
    number: int  # the record's place in the dropped file (1 = the first)
    record_id: str  # the header's first word
    run_id: str


class CampaignRecord(TypedDict, total=False):
    run_id: Required[str]  # the item's key: #campaign#<campaign id>
    campaign_id: str
    created_at: str
    updated_at: str
    bucket: str
    key: str
    version: str
    target: str  # the dropped file's name, without its suffix
    members: list[CampaignMember]  # every record, in the file's order
    expected: int  # len(members): the ends the summary waits for
    unique_sequences: int  # distinct sequences among the accepted records
    ended: set[str]  # run ids of the members that ended (a string set)
    summarising: dict[str, str]  # the claim on the one summary notice: {"token", "until"}
    summary_message_id: str
    summarised_at: str


def _stamp(moment: _dt.datetime) -> str:
    return moment.astimezone(_dt.UTC).isoformat(timespec="milliseconds")


class Campaigns:
    """Campaign items in the runs table (the same connection, the same table)."""

    def __init__(self, runs: RunsTable):
        self.runs = runs
        self.db = runs.connection

    def get(self, campaign_id: str) -> CampaignRecord | None:
        return self.db.get(campaign_item_key(campaign_id))

    def create(self, campaign_id: str, **fields: Any) -> CampaignRecord:
        """The campaign's item: made now, or as an earlier delivery made it (kept as it is)."""
        now = utc_now()
        item = {
            "run_id": campaign_item_key(campaign_id),
            "campaign_id": campaign_id,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
        try:
            self.db.put(item, ConditionExpression="attribute_not_exists(run_id)")
        except ClientError as err:
            if not conditional_check_failed(err):
                raise
            found = self.get(campaign_id)
            assert found is not None
            return found
        return item  # type: ignore[return-value]

    def member_ended(self, campaign_id: str, run_id: str) -> CampaignRecord:
        """Count ``run_id`` ended (once, however often it is told); the item after it."""
        response = self.db.client.update_item(
            TableName=self.db.table_name,
            Key=self.db.key(campaign_item_key(campaign_id)),
            UpdateExpression="ADD ended :run SET updated_at = :now",
            ConditionExpression="attribute_exists(run_id)",
            ExpressionAttributeValues=self.db.values({":run": {run_id}, ":now": utc_now()}),
            ReturnValues="ALL_NEW",
        )
        return self.db.item(response["Attributes"])  # type: ignore[return-value]

    def claim_summary(self, campaign_id: str, token: str, lease_s: float) -> bool:
        """The right to send the campaign's one summary: False where it went out, or another
        invocation holds a live claim."""
        now = _dt.datetime.now(_dt.UTC)
        try:
            self.db.update(
                campaign_item_key(campaign_id),
                UpdateExpression="SET summarising = :claim, updated_at = :at",
                ConditionExpression="attribute_not_exists(summary_message_id) AND "
                "(attribute_not_exists(summarising) OR summarising.#until < :now)",
                ExpressionAttributeNames={"#until": "until"},
                values={
                    ":claim": {
                        "token": token,
                        "until": _stamp(now + _dt.timedelta(seconds=lease_s)),
                    },
                    ":now": _stamp(now),
                    ":at": utc_now(),
                },
            )
        except ClientError as err:
            if conditional_check_failed(err):
                return False
            raise
        return True

    def release_summary(self, campaign_id: str, token: str) -> None:
        """Let go of a summary claim (the publish failed): the retry takes it at once."""
        try:
            self.db.update(
                campaign_item_key(campaign_id),
                UpdateExpression="REMOVE summarising",
                ConditionExpression="summarising.#token = :token",
                ExpressionAttributeNames={"#token": "token"},
                values={":token": token},
            )
        except ClientError as err:
            if not conditional_check_failed(err):
                raise

    def summary_sent(self, campaign_id: str, message_id: str) -> None:
        self.db.update(
            campaign_item_key(campaign_id),
            UpdateExpression="SET summary_message_id = :id, summarised_at = :now, "
            "updated_at = :now REMOVE summarising",
            values={":id": message_id, ":now": utc_now()},
        )

    def member_items(self, campaign: CampaignRecord) -> list[dict[str, Any]]:
        """Each member's runs-table item, in the file's order (an absent one as a stub)."""
        return [
            self.runs.get(m["run_id"]) or {"run_id": m["run_id"], "target": m["record_id"]}
            for m in campaign.get("members", [])
        ]

    def recent(self, limit: int = 20) -> list[CampaignRecord]:
        """The most recently created campaigns, newest first (a scan, as runs are listed)."""
        items = [i for i in self.db.scan() if i["run_id"].startswith(CAMPAIGN_KEY_PREFIX)]
        items.sort(key=lambda i: i.get("created_at", ""), reverse=True)
        return items[:limit]  # type: ignore[return-value]
