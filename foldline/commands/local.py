"""``foldline local run|serve``: the event-driven flow on this machine (moto plays AWS)."""

from __future__ import annotations

import threading
from pathlib import Path

import typer

# the defaults only: foldline.local.runtime (moto, ~0.5 s) is imported by the commands
from foldline.local.paths import DEFAULT_DATABASES, DEFAULT_WORKDIR

app = typer.Typer(help="Run foldline on this machine: no AWS account, no Docker.",
                  no_args_is_help=True)  # fmt: skip

WORKDIR = typer.Option(DEFAULT_WORKDIR, "--workdir", help="Work folder (state, jobs, outbox).")
DATABASES = typer.Option(
    DEFAULT_DATABASES, "--databases", show_default=False,
    help="Genetic databases in AlphaFold's layout (the FSx channel). "
    "Default: the bundled examples/databases.",
)  # fmt: skip


@app.command()
def run(
    files: list[Path] = typer.Argument(..., help="FASTA files to fold."),
    workdir: Path = WORKDIR,
    databases: Path = DATABASES,
    timeout: float = typer.Option(3600, help="Give up after this many seconds."),
) -> None:
    """Upload FASTA files to the local inputs/, follow each run to its end, print the results."""
    from rich.console import Console  # rich and the runtime only when a command runs
    from rich.live import Live

    from foldline.local.display import RunBoard, summary
    from foldline.local.runtime import LocalRuntime, RunsStalled

    console = Console()
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        console.print(f"no such file: {', '.join(missing)}")
        raise typer.Exit(2)
    runtime = LocalRuntime(workdir, databases=databases)
    board = RunBoard(runtime, [])
    runtime.on_invocation, runtime.on_notice = board.on_invocation, board.on_notice
    with runtime:
        board.submissions = [runtime.upload(f) for f in files]
        try:
            with Live(board.render({}), console=console, refresh_per_second=4,
                      transient=not console.is_terminal) as live:  # fmt: skip
                items = runtime.wait([s.run_id for s in board.submissions], timeout=timeout,
                                     on_poll=lambda items: live.update(board.render(items)))  # fmt: skip
        except (RunsStalled, TimeoutError) as stuck:
            console.print(f"[red]{stuck}[/red]")
            items = {s.run_id: runtime.run(s.run_id) for s in board.submissions}
        ok = summary(console, runtime, board, items)
    raise typer.Exit(0 if ok else 1)


@app.command()
def serve(workdir: Path = WORKDIR, databases: Path = DATABASES) -> None:
    """Keep the local cloud running; files dropped in <workdir>/drop/ go to inputs/."""
    from rich.console import Console  # rich and the runtime only when a command runs

    from foldline.local.display import echo_notice
    from foldline.local.runtime import LocalRuntime
    from foldline.local.serve import serve as watch

    console = Console()
    runtime = LocalRuntime(workdir, databases=databases,
                           on_notice=lambda n: echo_notice(console, n))  # fmt: skip
    stop = threading.Event()
    with runtime:
        console.print(f"local cloud at {runtime.cloud.endpoint_url}, bucket {runtime.bucket}"
                      f" ({runtime.restored} objects and items restored)")  # fmt: skip
        console.print(f"drop FASTA files into {runtime.workdir / 'drop'} (Ctrl-C to stop)")
        try:
            watch(runtime, stop, on_upload=lambda s: console.print(f"uploaded {s.key}: run {s.run_id}"))
        except KeyboardInterrupt:
            console.print("stopping; state saved in the work folder")
