"""``foldline results RUN_ID``: download a run's report folder (report, plots, models)."""

from __future__ import annotations

import webbrowser
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from foldline.cli import common
from foldline.spec import layout
from foldline.spec.statuses import FAILED

if TYPE_CHECKING:
    from foldline.cli.stack_config import StackConfig


def download_prefix(config: StackConfig, prefix: str, target: Path) -> list[Path]:
    """Every object under ``prefix`` -> ``target/<rest of key>``; the files written."""
    s3 = config.client("s3")
    written = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=config.bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            path = target / relative
            if target.resolve() not in path.resolve().parents:  # a key with ../ stays out
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(config.bucket, obj["Key"], str(path))
            written.append(path)
    return written


def download_archives(config: StackConfig, item: dict, target: Path) -> list[Path]:
    """The steps' model.tar.gz archives (the engines' full outputs) -> ``target/<slot>/``."""
    s3 = config.client("s3")
    written = []
    for slot, uri in sorted((item.get("model_uris") or {}).items()):
        bucket, key = layout.split_s3_uri(uri)
        path = target / slot / layout.file_name(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, key, str(path))
        written.append(path)
    return written


@common.stack_command
def results(
    run_id: Annotated[
        str, typer.Argument(help="A run id (or its unique beginning).", show_default=False)
    ],
    to: Annotated[
        Path | None,
        typer.Option(
            "--to", help="Folder to download into (default: ./<run id>).", show_default=False
        ),
    ] = None,
    open_report: Annotated[
        bool, typer.Option("--open", help="Open report.html in the browser.")
    ] = False,
    archives: Annotated[
        bool,
        typer.Option(
            "--archives", help="Also download the steps' model.tar.gz (all models, large)."
        ),
    ] = False,
    *,
    options: common.StackOptions,
) -> None:
    """Download a run's report: report.html, metrics.json, plots and the two compared models."""
    from foldline.runs.table import SUCCEEDED

    with options.handled():
        config = options.connect()
        item = common.find_run(config.runs(), run_id)
        run_id = item["run_id"]
        target = to or Path(run_id)
        files = download_prefix(config, layout.report_prefix(run_id), target)
        if not files:
            state = item.get("status")
            why = (
                f"the analysis failed: {item.get('analysis_error')}"
                if item.get("analysis_status") == FAILED
                else f"the run is {state}"
                if state != SUCCEEDED
                else "the analysis has not finished"
            )
            raise common.NoReport(f"run {run_id} has no report ({why})")
        if archives:
            files += download_archives(config, item, target / "archives")
        out = common.console()
        out.print(f"{len(files)} files in {target}/", markup=False)
        for path in sorted(files):
            out.print(f"  {path.relative_to(target)}", markup=False)
        page = target / layout.REPORT_PAGE
        if open_report:
            if not page.is_file():
                raise common.NoReport(f"run {run_id}'s report folder has no {layout.REPORT_PAGE}")
            webbrowser.open(page.resolve().as_uri())
            out.print(f"opened {page}", markup=False)


def register(app: typer.Typer) -> None:
    app.command(name="results")(results)
