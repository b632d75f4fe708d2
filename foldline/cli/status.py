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
            help="A run id (or its unique beginning); without it, the recent runs.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many recent runs.", min=1)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="The runs-table items as JSON.")] = False,
    *,
    options: common.StackOptions,
) -> None:
    """Show one run (status, steps, parameters, results) or a table of recent runs."""
    from foldline.cli import views  # rich and boto3 (foldline.runs.table): only when run
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
            return
        item = common.find_run(runs, run_id)
        if as_json:
            common.print_json(out, item)
            return
        headline = headline_of(config, item["run_id"]) if item.get("report_uri") else None
        out.print(views.detail(item, headline))


def register(app: typer.Typer) -> None:
    app.command(name="status")(status)
