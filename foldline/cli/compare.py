"""``foldline compare [RUN_ID...]``: AlphaFold vs OpenFold across runs (table, plot, Experiments)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from foldline.cli import common
from foldline.spec import layout

# heavy: numpy, gemmi & co. via foldline.outcomes.across_runs -> foldline.analysis, boto3 via
# foldline.runs.table; only `compare` needs them, so they are imported inside the functions
if TYPE_CHECKING:
    from foldline.cli.stack_config import StackConfig
    from foldline.outcomes import across_runs as comparison

DEFAULT_LAST = 10


def select_runs(config: StackConfig, run_ids: list[str], last: int) -> list[dict]:
    """The named runs in the order given, or the last ``last`` runs with a report, oldest first."""
    from foldline.runs.table import SUCCEEDED  # boto3: see above

    runs = config.runs()
    if run_ids:
        items = [common.find_run(runs, run_id) for run_id in run_ids]
        seen: set[str] = set()
        return [i for i in items if not (i["run_id"] in seen or seen.add(i["run_id"]))]
    reported = [
        i
        for i in runs.recent(limit=100_000)
        if i.get("status") == SUCCEEDED and i.get("report_uri")
    ]
    if not reported:
        raise common.NoReport(f"no run in {runs.table_name} has a report yet")
    return list(reversed(reported[:last]))


def campaign_runs(config: StackConfig, campaign_id: str) -> list[dict]:
    """The runs of a screening campaign that have a report, in its file's order."""
    from foldline.cli import campaign_views
    from foldline.runs.table import SUCCEEDED

    runs = config.runs()
    campaign = campaign_views.find_campaign(runs, campaign_id)
    if campaign is None:
        raise common.UnknownRun(f"no campaign {campaign_id!r} in the runs table {runs.table_name}")
    members = campaign_views.members_of(runs, campaign)
    reported = [m for m in members if m.get("status") == SUCCEEDED and m.get("report_uri")]
    if not reported:
        raise common.NoReport(
            f"no run of campaign {campaign['campaign_id']} has a report yet "
            f"({campaign_views.counts(members)})"
        )
    return reported


def load(config: StackConfig, items: list[dict]) -> list[comparison.RunMetrics]:
    from foldline.cli.follow import fetch_metrics
    from foldline.outcomes import (
        across_runs as comparison,
    )  # numpy via foldline.analysis: see above

    loaded = []
    for item in items:
        metrics = fetch_metrics(config, item["run_id"])
        if metrics is None:
            raise common.NoReport(
                f"run {item['run_id']} has no metrics.json (status {item.get('status')})"
            )
        try:
            loaded.append(comparison.run_metrics(item["run_id"], metrics, item.get("target")))
        except comparison.UnreadableMetrics as bad:
            raise common.CliError(str(bad)) from None
    return loaded


def store(
    config: StackConfig, ident: str, plot: Path, runs: list[comparison.RunMetrics]
) -> dict[str, str]:
    """The plot and the table's numbers under ``comparisons/<id>/``: Experiments links to them."""
    s3 = config.client("s3")
    prefix = layout.comparison_prefix(ident)
    s3.upload_file(
        str(plot), config.bucket, prefix + "comparison.png", ExtraArgs={"ContentType": "image/png"}
    )
    s3.put_object(
        Bucket=config.bucket,
        Key=prefix + "comparison.json",
        ContentType="application/json",
        Body=json.dumps([asdict(r) for r in runs], indent=1).encode(),
    )
    return {
        "plot": layout.s3_uri(config.bucket, prefix + "comparison.png"),
        "table": layout.s3_uri(config.bucket, prefix + "comparison.json"),
    }


@common.stack_command
def compare(
    run_ids: Annotated[
        list[str] | None,
        typer.Argument(
            help="Runs to compare (ids or unique beginnings) (default: the last --last runs with a report).",
            show_default=False,
        ),
    ] = None,
    last: Annotated[
        int, typer.Option("--last", "-n", min=1, help="How many recent runs, without RUN_IDs.")
    ] = DEFAULT_LAST,
    plot: Annotated[
        Path | None,
        typer.Option(
            "--plot",
            help="Where to write the plot (default: ./<comparison id>.png).",
            show_default=False,
        ),
    ] = None,
    track: Annotated[
        bool,
        typer.Option("--track/--no-track", help="Log the comparison to SageMaker Experiments."),
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="The table as JSON.")] = False,
    campaign: Annotated[
        str | None,
        typer.Option(
            "--campaign",
            metavar="CAMPAIGN_ID",
            help="Every run of a screening campaign that has a report, in its file's order "
            "(instead of RUN_IDs or --last).",
            show_default=False,
        ),
    ] = None,
    *,
    options: common.StackOptions,
) -> None:
    """Compare AlphaFold with OpenFold across runs: a table, a combined plot, one Experiments record."""
    from rich.table import Table  # rich's tables only when drawing one

    from foldline.outcomes import (
        across_runs as comparison,
    )  # numpy via foldline.analysis: only this command
    from foldline.outcomes.tracking import SageMakerExperimentsTracker

    with options.handled():
        config = options.connect()
        if campaign is not None and run_ids:
            raise common.CliError("give RUN_IDs or --campaign, not both")
        chosen = (
            campaign_runs(config, campaign)
            if campaign is not None
            else select_runs(config, run_ids or [], last)
        )
        runs = load(config, chosen)
        ident = comparison.comparison_id([r.run_id for r in runs])
        plot_path = comparison.plot_comparison(runs, plot or Path(f"{ident}.png"))
        artifacts = store(config, ident, plot_path, runs)
        ref = None
        if track:
            tracker = SageMakerExperimentsTracker(
                config.client("sagemaker"), config.client("sagemaker-metrics")
            )
            ref = comparison.log_comparison(tracker, runs, artifacts)
        out = common.console()
        if as_json:
            common.print_json(
                out,
                {
                    "comparison_id": ident,
                    "runs": [asdict(r) for r in runs],
                    "plot": str(plot_path),
                    "artifacts": artifacts,
                    "experiments": asdict(ref) if ref else None,
                },
            )
            return
        headings, cells = comparison.shown_columns(runs)
        table = Table(show_edge=False, pad_edge=False)
        for name in headings:
            table.add_column(name, justify="left" if name in ("Run id", "Target") else "right")
        for row in cells:
            table.add_row(*row)
        common.show_table(out, table)
        if any(r.method == "tm_align" for r in runs):
            out.print(comparison.TM_ALIGN_NOTE, markup=False)
        if any(not r.engine_agreement for r in runs):
            out.print(comparison.STAND_IN_NOTE, markup=False)
        if comparison.no_comparison_note(runs):
            out.print(comparison.no_comparison_note(runs), markup=False)
        out.print(comparison.engines_note(runs), markup=False)
        out.print(f"plot: {plot_path} (and {artifacts['plot']})", markup=False)
        if ref is not None:
            out.print(
                f"SageMaker Experiments: experiment {ref.experiment}, trial {ref.trial}, "
                f"trial component {ref.trial_component}",
                markup=False,
            )


def register(app: typer.Typer) -> None:
    app.command(name="compare")(compare)
