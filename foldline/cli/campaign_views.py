"""Screening campaigns in the terminal: find one, show it run by run, list the recent ones.

A campaign (:mod:`foldline.runs.campaigns`) is the set of runs one screening drop
(``Mode=screen``) became; ``foldline status CAMPAIGN_ID`` and ``foldline compare
--campaign CAMPAIGN_ID`` read it through these functions. Nothing here calls AWS beyond
the runs table it is given.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from foldline.cli.common import duration, run_seconds
from foldline.cli.views import current_step, status_text, tm_score
from foldline.spec.statuses import FINAL_STATUSES

if TYPE_CHECKING:
    from foldline.runs.table import RunsTable


def find_campaign(runs: RunsTable, ident: str) -> dict | None:
    """The campaign with this id, or the only one whose id starts with it; None if none."""
    from foldline.runs.campaigns import Campaigns

    campaigns = Campaigns(runs)
    found = campaigns.get(ident)
    if found is not None:
        return found
    matches = [c for c in campaigns.recent(limit=100_000) if c["campaign_id"].startswith(ident)]
    return matches[0] if len(matches) == 1 else None


def members_of(runs: RunsTable, campaign: dict) -> list[dict]:
    """The campaign's runs-table items, in the dropped file's order."""
    from foldline.runs.campaigns import Campaigns

    return Campaigns(runs).member_items(campaign)


def counts(members: list[dict]) -> str:
    counted = Counter(m.get("status", "waiting") for m in members)
    return ", ".join(f"{n} {status}" for status, n in sorted(counted.items()))


def campaign_detail(campaign: dict, members: list[dict]) -> Group:
    """The campaign: what was dropped, how its runs stand, and one row per record."""
    ended = len(campaign.get("ended") or ())
    summary = (
        f"sent {campaign['summarised_at']}"
        if campaign.get("summary_message_id")
        else f"when the last run ends ({ended} of {campaign.get('expected', len(members))} ended)"
    )
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("Campaign", campaign["campaign_id"]),
        ("Dropped", f"s3://{campaign.get('bucket')}/{campaign.get('key')}"),
        ("Records", f"{len(members)} ({counts(members)})"),
        ("Distinct", f"{campaign.get('unique_sequences', '-')} sequences, each searched once"),
        ("Summary", summary),
    ):
        head.add_row(Text(label, style="bold"), Text(str(value)))
    table = Table(show_edge=False, pad_edge=False)
    for column in ("#", "Record", "Run id", "Status", "Step", "Duration", "TM-score"):
        table.add_column(column, justify="right" if column in ("#", "TM-score") else "left")
    for member, listed in zip(members, campaign.get("members", []), strict=False):
        step = member.get("reason") if member.get("status") == "Rejected" else None
        table.add_row(
            str(listed.get("number", "")),
            str(listed.get("record_id", member.get("target", "-"))),
            member["run_id"],
            status_text(member.get("status")),
            step or current_step(member if "status" in member else None),
            duration(run_seconds(member, FINAL_STATUSES)) if "status" in member else "-",
            tm_score(member),
        )
    return Group(head, Text(""), table)


def campaigns_table(campaigns: list[dict]) -> Table:
    """The recent campaigns: id, file, records, how many ended, the summary."""
    table = Table(title="Campaigns (screening drops)", show_edge=False, pad_edge=False)
    for column in ("Campaign", "File", "Records", "Ended", "Summary"):
        table.add_column(column, overflow="fold")
    for campaign in campaigns:
        table.add_row(
            campaign["campaign_id"],
            str(campaign.get("key", "-")),
            str(campaign.get("expected", "-")),
            str(len(campaign.get("ended") or ())),
            "sent" if campaign.get("summary_message_id") else "pending",
        )
    return table


def as_json(campaign: dict, members: list[dict]) -> dict[str, Any]:
    """The campaign item (its ``ended`` set as a sorted list) with its members' items."""
    doc = {k: v for k, v in campaign.items() if k != "ended"}
    doc["ended"] = sorted(campaign.get("ended") or ())
    doc["runs"] = members
    return doc
