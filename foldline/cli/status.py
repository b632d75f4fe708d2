"""``foldline status [RUN_ID]``: one run in detail, or the recent runs, from the runs table."""

from __future__ import annotations

from typing import Annotated

import typer

from foldline.cli import common


@common.stack_command
def status(
    run_id: Annotated[
        str | None,
        typer.Argument(
            help="A run id or a screening campaign's id (or its unique beginning); without "
            "it, the recent runs and campaigns.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many recent runs.", min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="The runs-table items as JSON.")] = False,
    *,
    options: common.StackOptions,
) -> None:
    """Show one run (status, steps, parameters, results), one screening campaign (its runs,
    one per record), or a table of recent runs."""
    from foldline.cli import campaign_views, views  # rich and boto3: only when run
    from foldline.cli.follow import headline_of

    with options.handled():
        config = options.connect()
        runs = config.runs()
        out = common.console()
        if run_id is None:
            items = runs.recent(limit=limit)
            if as_json:
                common.print_json(out, items)
            elif not items:
                out.print(f"no runs yet in {runs.table_name}", markup=False)
            else:
                compact = out.is_terminal and out.width < views.COMPACT_BELOW
                common.show_table(out, views.recent_table(items, compact=compact))
                if compact:
                    out.print(views.COMPACT_NOTE, style="dim", markup=False)
                _recent_campaigns(out, runs, limit)
            return
        campaign = None if runs.get(run_id) else campaign_views.find_campaign(runs, run_id)
        if campaign is not None:
            members = campaign_views.members_of(runs, campaign)
            if as_json:
                common.print_json(out, campaign_views.as_json(campaign, members))
            else:
                out.print(campaign_views.campaign_detail(campaign, members))
            return
        item = common.find_run(runs, run_id)
        if as_json:
            common.print_json(out, item)
            return
        headline = headline_of(config, item["run_id"]) if item.get("report_uri") else None
        out.print(views.detail(item, headline))


def _recent_campaigns(out, runs, limit: int) -> None:
    """Below the recent runs: the recent screening campaigns, where there are any."""
    from foldline.cli import campaign_views
    from foldline.runs.campaigns import Campaigns

    campaigns = Campaigns(runs).recent(limit=limit)
    if campaigns:
        out.print()
        common.show_table(out, campaign_views.campaigns_table(campaigns))


def register(app: typer.Typer) -> None:
    app.command(name="status")(status)
