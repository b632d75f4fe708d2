"""The ``foldline`` command (typer).

Each command lives in its own small module under :mod:`foldline.cli` and registers
itself here; command bodies stay thin and call the package.
"""

from __future__ import annotations

import typer

from foldline.cli import analyze as analyze_command
from foldline.cli import compare as compare_command
from foldline.cli import local as local_commands
from foldline.cli import redrive as redrive_command
from foldline.cli import results as results_command
from foldline.cli import setup as setup_command
from foldline.cli import stack as stack_command
from foldline.cli import status as status_command
from foldline.cli import submit as submit_command
from foldline.cli import validate as validate_command

app = typer.Typer(
    name="foldline",
    help="Event-driven protein folding (AlphaFold and OpenFold side by side), "
    "in AWS or on this machine.",
    no_args_is_help=True,
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"foldline {version('foldline')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_version,
        is_eager=True,
        help="Print foldline's version and exit.",
    ),
) -> None:
    """Event-driven protein folding (AlphaFold and OpenFold side by side), in AWS or on this machine."""


validate_command.register(app)
submit_command.register(app)
status_command.register(app)
results_command.register(app)
compare_command.register(app)
redrive_command.register(app)
stack_command.register(app)
setup_command.register(app)
analyze_command.register(app)
app.add_typer(local_commands.app, name="local")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
