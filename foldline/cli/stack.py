"""``foldline stack``: the resolved configuration, and where it came from."""

from __future__ import annotations

from typing import Annotated

import typer

from foldline.cli import common, stack_config

#: output -> the name people know it by
LABELS = {
    stack_config.BUCKET: "bucket",
    stack_config.RUNS_TABLE: "runs table",
    stack_config.TOPIC: "topic",
    stack_config.PIPELINE: "pipeline",
    stack_config.START_QUEUE: "start queue",
    stack_config.START_DLQ: "start dead-letter queue",
    stack_config.EVENTS_DLQ: "events dead-letter queue",
    stack_config.FUNCTION_FAILURES: "function failures queue",
}


@common.stack_command
def stack(
    as_json: Annotated[bool, typer.Option("--json", help="The configuration as JSON.")] = False,
    *,
    options: common.StackOptions,
) -> None:
    """Show the bucket, runs table, topic, queues and pipeline the commands use."""
    from rich.table import Table  # rich's tables only when drawing one

    with options.handled():
        config = options.connect()
        out = common.console()
        if as_json:
            common.print_json(
                out,
                {
                    "source": config.source,
                    "stack": config.stack_name,
                    "region": config.region,
                    "local": config.local,
                    "endpoint_url": config.endpoint_url,
                    "outputs": config.outputs,
                },
            )
            return
        out.print(f"from {config.source}", markup=False)
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for output, label in LABELS.items():
            if output in config.outputs:
                table.add_row(label, config.outputs[output])
        table.add_row("region", config.region)
        out.print(table)


def register(app: typer.Typer) -> None:
    app.command(name="stack")(stack)
