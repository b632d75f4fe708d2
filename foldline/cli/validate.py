"""``foldline validate FILE...``: judge FASTA files the way the start function will."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def validate(
    files: list[Path] = typer.Argument(..., help="FASTA files to check.", exists=False),
    screen: Annotated[
        bool,
        typer.Option(
            "--screen",
            help="Judge each file as a screening drop (submit --screen, the tag "
            "Mode=screen): record by record, each as a run of its own; lists the records "
            "that would be refused.",
        ),
    ] = False,
) -> None:
    """One line per file: accepted (chains, residues, preset) or rejected (why).

    With --screen, one line per file (records, accepted, refused, distinct sequences),
    then one line per refused record. Exit status 0 only if every file (with --screen,
    every record) is accepted.
    """
    # Bio.SeqIO: not for `--help`
    from foldline.intake.fasta import IntakeLimits, decide_file, decide_file_records

    limits = IntakeLimits.from_env()
    all_ok = True
    for path in files:
        if not path.is_file():
            typer.echo(f"{path}: rejected: no such file")
            all_ok = False
            continue
        if not screen:
            decision = decide_file(str(path), limits)
            typer.echo(f"{path}: {decision.summary()}")
            all_ok = all_ok and decision.accepted
            continue
        judged, sunk = decide_file_records(str(path), limits)
        if sunk is not None:
            typer.echo(f"{path}: rejected: {sunk.message}")
            all_ok = False
            continue
        refused = [j for j in judged if not j.decision.accepted]
        distinct = {j.decision.chains[0].sequence for j in judged if j.decision.accepted}
        typer.echo(
            f"{path}: screening drop of {len(judged)} records: "
            f"{len(judged) - len(refused)} accepted ({len(distinct)} distinct sequences), "
            f"{len(refused)} refused"
        )
        for j in refused:
            typer.echo(f"  record {j.chain.number} ({j.chain.id}): {j.decision.summary()}")
        all_ok = all_ok and not refused
    raise typer.Exit(0 if all_ok else 1)


def register(app: typer.Typer) -> None:
    app.command(name="validate")(validate)
