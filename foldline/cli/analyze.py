"""``foldline analyze``: the end-of-run comparison for predictions you already have."""

from __future__ import annotations

from pathlib import Path

import typer


def analyze(
    alphafold: Path = typer.Option(
        ..., "--alphafold", help="AlphaFold output folder, or one model file (PDB/mmCIF)."
    ),
    openfold: Path = typer.Option(
        ..., "--openfold", help="OpenFold output folder, or one model file (PDB/mmCIF)."
    ),
    out: Path = typer.Option(
        ..., "--out", help="Folder for metrics.json, the plots, report.html and the models."
    ),
) -> None:
    """Compare two predictions of the same sequence and write the report foldline writes."""
    for name, path in (("--alphafold", alphafold), ("--openfold", openfold)):
        if not path.exists():
            typer.echo(f"error: {name} {path}: no such file or folder", err=True)
            raise typer.Exit(2)
    from foldline.analysis import analyze as run_analysis  # numpy & co.: only here
    from foldline.analysis import headline

    try:
        metrics = run_analysis(alphafold, openfold, out)
    except (ValueError, FileNotFoundError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from None
    typer.echo(headline(metrics))
    typer.echo(f"report: {out / 'report.html'}")


def register(app: typer.Typer) -> None:
    app.command(name="analyze")(analyze)
