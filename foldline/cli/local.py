"""``foldline local run|serve``: the event-driven flow on this machine (moto plays AWS)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import typer

# the defaults only: foldline.local.runtime (moto, ~0.5 s) is imported by the commands
from foldline.cli import common
from foldline.local.paths import DEFAULT_DATABASES, DEFAULT_WORKDIR
from foldline.spec.parameters import MSA_ENGINES

app = typer.Typer(
    help="Run foldline on this machine: no AWS account (Docker only with --containers).",
    no_args_is_help=True,
)

WORKDIR = typer.Option(DEFAULT_WORKDIR, "--workdir", help="Work folder (state, jobs, outbox).")
DATABASES = typer.Option(
    DEFAULT_DATABASES,
    "--databases",
    show_default=False,
    help="Genetic databases in AlphaFold's layout (the FSx channel). "
    "Default: the bundled examples/databases.",
)


MSA_ENGINE = typer.Option(
    None,
    "--msa-engine",
    metavar="ENGINE",
    show_default=False,
    help=f"The stack parameter MsaEngine, one of {', '.join(MSA_ENGINES)} (default: auto, "
    "AlphaFold where installed, else pyhmmer). mmseqs2: MMseqs2 with ColabFold's search "
    "protocol, its databases made from the FASTA databases once and cached.",
)


def _msa_engine_parameter(engine: str | None) -> dict[str, str]:
    """--msa-engine -> {MsaEngine: engine}, checked against the one list of engines."""
    if engine is None:
        return {}
    from foldline.local.containers import MSA_ENGINE_PARAMETER

    choice = engine.strip().lower()
    if choice not in MSA_ENGINES:
        raise typer.BadParameter(
            f"{engine!r}: use one of {', '.join(MSA_ENGINES)}", param_hint="--msa-engine"
        )
    return {MSA_ENGINE_PARAMETER: choice}


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (``kill``, a service manager stopping the process) stops the runtime as
    Ctrl-C (SIGINT) does: the same unwinding saves the work folder's state. The previous
    handlers are put back afterwards (the command may run inside another program)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: signals are not ours to take
        yield
        return
    # Ctrl-C too, even where the shell started this in the background with SIGINT ignored
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)


def _start(runtime, console) -> None:
    """Start the runtime, or exit saying why not (another one has the work folder)."""
    from foldline.local.runtime import WorkdirBusy

    try:
        runtime.start()
    except WorkdirBusy as busy:
        typer.echo(f"error: {busy}", err=True)
        raise typer.Exit(2) from None
    if runtime.recovered:
        console.print(
            f"resuming what the last session left: {runtime.recovered.summary()}", markup=False
        )


def _stopped_line(runtime, run_ids: list[str] | None = None) -> str:
    """What a stop leaves: the runs (``run_ids``, else any in the table) not finished."""
    from foldline.local.recovery import is_open

    try:
        if run_ids is None:
            run_ids = [i["run_id"] for i in runtime.runs_table().recent(limit=100_000)]
        items = {run_id: runtime.run(run_id) for run_id in run_ids}
    except Exception:  # noqa: BLE001 - stopping: say what can be said
        return "stopped; state saved in the work folder"
    open_runs = [run_id for run_id, item in items.items() if item is None or is_open(item)]
    if not open_runs:
        return "stopped; state saved in the work folder"
    return (
        f"stopped with {len(open_runs)} run(s) not finished ({', '.join(open_runs)}); they "
        "are saved in the work folder and resume when `foldline local run` or `serve` next "
        "starts on it"
    )


def _key_values(values: list[str], option: str) -> dict[str, str]:
    pairs = {}
    for value in values:
        key, sep, text = value.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{value!r}: use KEY=VALUE", param_hint=option)
        pairs[key.strip()] = text
    return pairs


def _run_parameters(values: list[str]) -> dict[str, str]:
    """--param NAME=VALUE -> upload tags, each checked as the start function checks it."""
    from foldline.spec.parameters import USER_SETTABLE, InvalidParameter, validate_value

    tags = {}
    for name, value in _key_values(values, "--param").items():
        if name not in USER_SETTABLE:
            known = ", ".join(USER_SETTABLE)
            raise typer.BadParameter(
                f"{name!r} is not a run parameter a user sets (one of {known})",
                param_hint="--param",
            )
        try:
            tags[name] = str(validate_value(name, value))
        except InvalidParameter as bad:
            raise typer.BadParameter(str(bad), param_hint="--param") from None
    return tags


def _step_images(containers: bool, no_container: list[str], image: list[str]) -> dict:
    """Resolve --containers/--no-container/--image to {step: StepImage}, or exit saying why."""
    from foldline.local import containers as step_images

    if not containers:
        if no_container or image:
            raise typer.BadParameter(
                "--no-container and --image need --containers", param_hint="--containers"
            )
        return {}
    try:
        overrides = step_images.parse_step_images(image)
        wanted = step_images.steps_in_images(containers, no_container)
    except (KeyError, ValueError) as err:
        raise typer.BadParameter(str(err).strip("'\""), param_hint="--no-container/--image")
    try:
        return step_images.resolve(wanted, overrides)
    except step_images.ContainersUnavailable as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from None


@app.command()
def run(
    files: list[Path] = typer.Argument(..., help="FASTA files to fold."),
    workdir: Path = WORKDIR,
    databases: Path = DATABASES,
    timeout: float = typer.Option(3600, help="Give up after this many seconds."),
    containers: bool = typer.Option(
        False,
        "--containers",
        help="Run each pipeline step in its image, as SageMaker does (docker run IMAGE train, "
        "/opt/ml mounted). Needs Docker and the images containers/build_local.sh builds "
        "(<step image>:local).",
    ),
    no_container: list[str] = typer.Option(
        [],
        "--no-container",
        metavar="STEP",
        help="With --containers: run STEP as a local process, as without --containers "
        "(e.g. RunOpenFold where its image is not built). Repeatable.",
    ),
    image: list[str] = typer.Option(
        [],
        "--image",
        metavar="STEP=IMAGE",
        help="With --containers: run STEP in IMAGE instead of <step image>:local. Repeatable.",
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        metavar="NAME=VALUE",
        help="A run parameter as a tag on the upload, as foldline submit sets it "
        "(e.g. DbPreset=reduced_dbs). Repeatable.",
    ),
    job_env: list[str] = typer.Option(
        [],
        "--job-env",
        metavar="KEY=VALUE",
        help="An environment variable for every step job (the pipeline's own Environment "
        "wins), e.g. FOLDLINE_ALPHAFOLD_MODELS=model_1 to fold with one model. Repeatable.",
    ),
    msa_engine: str | None = MSA_ENGINE,
    screen: bool = typer.Option(
        False,
        "--screen",
        help="Screening mode: each FILE is a multi-FASTA of monomers, one run per record "
        "(the upload tag Mode=screen); a bad record is refused on its own. Shows the "
        "campaign and its summary notice.",
    ),
) -> None:
    """Upload FASTA files to the local inputs/, follow each run to its end, print the results."""
    from rich.live import Live

    from foldline.local.display import RunBoard, summary
    from foldline.local.runtime import LocalRuntime, RunsStalled

    console = common.console()  # a terminal's width; piped, lines whole
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        console.print(f"no such file: {', '.join(missing)}")
        raise typer.Exit(2)
    tags = _run_parameters(param)
    if screen:
        from foldline.spec.screening import MODE_TAG, SCREEN_MODE

        tags[MODE_TAG] = SCREEN_MODE
    images = _step_images(containers, no_container, image)
    stack_parameters = {}
    if containers:
        from foldline.local.containers import describe_placement
        from foldline.local.containers import stack_parameters as follow

        console.print(describe_placement(images), markup=False)
        stack_parameters = follow(images)
    stack_parameters.update(_msa_engine_parameter(msa_engine))
    runtime = LocalRuntime(
        workdir,
        databases=databases,
        images=images,
        parameter_values=stack_parameters,
        job_env=_key_values(job_env, "--job-env"),
    )
    board = RunBoard(runtime, [])
    runtime.on_invocation, runtime.on_notice = board.on_invocation, board.on_notice
    with _sigterm_as_ctrl_c():
        _start(runtime, console)
        try:
            for f in files:  # each upload is on disk before its run id shows
                board.submissions.append(runtime.upload(f, tags=tags))
                console.print(f"{f}: run {board.submissions[-1].run_id}", markup=False)
            try:
                if screen:  # each drop's runs, once the start function has split it
                    board.submissions[:] = _screen_members(runtime, board, console, timeout)
                run_ids = [s.run_id for s in board.submissions]
                if console.is_terminal:
                    with Live(board.render({}), console=console, refresh_per_second=4) as live:
                        items = runtime.wait(
                            run_ids,
                            timeout=timeout,
                            on_poll=lambda items: live.update(board.render(items)),
                        )
                else:  # piped: a line per change, nothing redrawn

                    def print_changes(items):
                        for line in board.changes(items):
                            console.print(line, markup=False)

                    items = runtime.wait(run_ids, timeout=timeout, on_poll=print_changes)
            except (RunsStalled, TimeoutError) as stuck:
                console.print(f"[red]{stuck}[/red]")
                items = {s.run_id: runtime.run(s.run_id) for s in board.submissions}
            ok = summary(console, runtime, board, items)
        except KeyboardInterrupt:
            message = _stopped_line(runtime, [s.run_id for s in board.submissions])
            runtime.stop()
            console.print(message, markup=False)
            raise typer.Exit(130) from None
        except BaseException:
            runtime.stop()
            raise
        runtime.stop()
    raise typer.Exit(0 if ok else 1)


def _screen_members(runtime, board, console, timeout: float) -> list:
    """The runs each screening drop became (a drop rejected whole stays as it is)."""
    members = []
    for drop in board.submissions:
        found = runtime.screen_members(drop, timeout=timeout)
        if found != [drop]:
            board.campaigns.append(drop.run_id)
            console.print(
                f"{drop.path}: campaign {drop.run_id}, {len(found)} records", markup=False
            )
        members.extend(found)
    return members


@app.command()
def serve(workdir: Path = WORKDIR, databases: Path = DATABASES) -> None:
    """Keep the local cloud running; files dropped in <workdir>/drop/ go to inputs/ (in
    <workdir>/drop/screen/: as screening drops, one run per record)."""

    from foldline.local.display import echo_notice
    from foldline.local.runtime import LocalRuntime
    from foldline.local.serve import serve as watch

    console = common.console()  # a terminal's width; piped, lines whole
    runtime = LocalRuntime(
        workdir, databases=databases, on_notice=lambda n: echo_notice(console, n)
    )
    stop = threading.Event()
    with _sigterm_as_ctrl_c():
        _start(runtime, console)
        try:
            console.print(
                f"local cloud at {runtime.cloud.endpoint_url}, bucket {runtime.bucket}"
                f" ({runtime.restored} objects and items restored)"
            )
            drop = runtime.workdir / "drop"
            console.print(
                f"drop FASTA files into {drop} (screening drops into {drop / 'screen'}; "
                "Ctrl-C to stop)"
            )
            watch(
                runtime,
                stop,
                on_upload=lambda s: console.print(f"uploaded {s.key}: run {s.run_id}"),
            )
        except KeyboardInterrupt:
            message = _stopped_line(runtime)
            runtime.stop()
            console.print(message, markup=False)
            return
        except BaseException:
            runtime.stop()
            raise
        runtime.stop()
