"""``foldline redrive``: move dead-letter messages back to where they were going."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer

from foldline.cli import common
from foldline.cli import dead_letters as dlq


class QueueName(str, Enum):
    start = "start"
    events = "events"
    functions = "functions"


@common.stack_command
def redrive(
    queue: Annotated[
        list[QueueName] | None,
        typer.Option(
            "--queue",
            "-q",
            case_sensitive=False,
            show_default=False,
            help="start: failed upload events -> StartQueue; events: undelivered EventBridge events "
            "-> their target; functions: failed invocations -> their function. "
            "Repeatable (default: all three).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Count and show where messages would go; move nothing."),
    ] = False,
    *,
    options: common.StackOptions,
) -> None:
    """Re-drive the dead-letter queues; report how many messages went where.

    Exit status 1 if any message could not be re-driven (it stays in its queue).
    """
    with options.handled():
        config = options.connect()
        out = common.console()
        failed = 0
        for name in queue or list(QueueName):
            try:
                report = dlq.redrive(config, name.value, dry_run=dry_run)
            except dlq.RedriveError as err:
                raise common.CliError(str(err)) from None
            verb = "would re-drive" if dry_run else "re-drove"
            count = report.found - report.failed if dry_run else report.moved
            where = ", ".join(f"{n} to {dest}" for dest, n in sorted(report.destinations.items()))
            out.print(
                f"{name.value}: {report.found} message{'s' if report.found != 1 else ''}, "
                f"{verb} {count}"
                + (f" ({where})" if where else "")
                + (f", {report.failed} failed" if report.failed else ""),
                markup=False,
            )
            for problem in report.problems:
                out.print(f"  {problem}", markup=False)
            failed += report.failed
    raise typer.Exit(common.EXIT_FAILED if failed else 0)


def register(app: typer.Typer) -> None:
    app.command(name="redrive")(redrive)
