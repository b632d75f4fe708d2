"""``foldline validate FILE...``: judge FASTA files the way the start function will."""

from __future__ import annotations

from pathlib import Path

import typer


def validate(
    files: list[Path] = typer.Argument(..., help="FASTA files to check.", exists=False),
) -> None:
    """One line per file: accepted (chains, residues, preset) or rejected (why).

    Exit status 0 only if every file is accepted.
    """
    from foldline.intake.fasta import IntakeLimits, decide_file  # Bio.SeqIO: not for `--help`

    limits = IntakeLimits.from_env()
    all_ok = True
    for path in files:
        if not path.is_file():
            typer.echo(f"{path}: rejected: no such file")
            all_ok = False
            continue
        decision = decide_file(str(path), limits)
        typer.echo(f"{path}: {decision.summary()}")
        all_ok = all_ok and decision.accepted
    raise typer.Exit(0 if all_ok else 1)


def register(app: typer.Typer) -> None:
    app.command(name="validate")(validate)
