"""What the stack-facing commands share: the stack options, error handling, run lookup.

Errors a person can act on are one line on stderr and a non-zero exit status; the
traceback only with ``--debug`` (or ``FOLDLINE_DEBUG=1``). Exit statuses:

==  =========================================================
1   a run failed or was rejected; an AWS call failed
2   bad usage (an option's value, no such file)
3   no AWS credentials
4   stack (or local cloud) not found
5   a file is not FASTA foldline accepts (nothing was uploaded)
6   unknown run id
7   the run has no report (yet)
==  =========================================================
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from foldline.cli import stack_config

# every command imports this module: botocore, rich and foldline.runs.table (boto3) are
# imported where used, so `foldline --help` or `validate` never pays for them
if TYPE_CHECKING:
    from botocore.exceptions import ClientError
    from rich.console import Console
    from rich.table import Table

    from foldline.runs.table import RunsTable

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_CREDENTIALS = 3
EXIT_STACK_NOT_FOUND = 4
EXIT_INVALID_INPUT = 5
EXIT_UNKNOWN_RUN = 6
EXIT_NO_REPORT = 7

PANEL = "Stack"


class CliError(Exception):
    """A failure worth one line to the user; ``exit_code`` is the command's exit status."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UnknownRun(CliError):
    exit_code = EXIT_UNKNOWN_RUN


class NoReport(CliError):
    exit_code = EXIT_NO_REPORT


# -- the stack options (declared once; every stack-facing command takes them) ----------------

StackOption = Annotated[
    str,
    typer.Option(
        "--stack",
        envvar="FOLDLINE_STACK",
        rich_help_panel=PANEL,
        help="CloudFormation stack whose outputs name the bucket, table and topic.",
    ),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(
        "--profile",
        envvar="AWS_PROFILE",
        rich_help_panel=PANEL,
        show_envvar=True,
        help="AWS profile.",
    ),
]
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        rich_help_panel=PANEL,
        help="AWS region (default: the profile's, AWS_REGION or AWS_DEFAULT_REGION).",
    ),
]
LocalOption = Annotated[
    bool | None,
    typer.Option(
        "--local/--cloud",
        rich_help_panel=PANEL,
        show_default=False,
        help="Use the local cloud of `foldline local` (automatic inside it; FOLDLINE_LOCAL=1).",
    ),
]
EndpointOption = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="FOLDLINE_ENDPOINT_URL",
        rich_help_panel=PANEL,
        help="The local cloud's endpoint (default: found in the work folder).",
    ),
]
WorkdirOption = Annotated[
    Path | None,
    typer.Option(
        "--workdir",
        envvar="FOLDLINE_WORKDIR",
        rich_help_panel=PANEL,
        show_default=False,
        help="Work folder of `foldline local` (default: foldline-local).",
    ),
]
DebugOption = Annotated[
    bool,
    typer.Option(
        "--debug",
        envvar="FOLDLINE_DEBUG",
        rich_help_panel=PANEL,
        help="Show the traceback of an error.",
    ),
]

DEFAULT_STACK = stack_config.DEFAULT_STACK

#: (name, annotation, default) of each stack option, in the order --help lists them
_STACK_OPTIONS = (
    ("stack", StackOption, DEFAULT_STACK),
    ("profile", ProfileOption, None),
    ("region", RegionOption, None),
    ("local", LocalOption, None),
    ("endpoint_url", EndpointOption, None),
    ("workdir", WorkdirOption, None),
    ("debug", DebugOption, False),
)


@dataclass(frozen=True)
class StackOptions:
    """The stack options of one invocation: how to find the stack, and how to fail."""

    stack: str = DEFAULT_STACK
    profile: str | None = None
    region: str | None = None
    local: bool | None = None
    endpoint_url: str | None = None
    workdir: Path | None = None
    debug: bool = False

    def connect(self) -> stack_config.StackConfig:
        return stack_config.resolve(
            stack=self.stack,
            profile=self.profile,
            region=self.region,
            local=self.local,
            endpoint_url=self.endpoint_url,
            workdir=self.workdir,
        )

    def handled(self) -> contextlib.AbstractContextManager[None]:
        return handled(self.debug)


def stack_command(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the stack options: typer sees them as the command's last options
    (one declaration, here, for every command), the command gets them as one
    :class:`StackOptions` in its keyword-only parameter ``options``."""
    signature = inspect.signature(command, eval_str=True)
    own = [p for name, p in signature.parameters.items() if name != "options"]
    added = [
        inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default
        )
        for name, annotation, default in _STACK_OPTIONS
    ]
    names = [name for name, _, _ in _STACK_OPTIONS]

    @functools.wraps(command)
    def with_stack_options(*args: Any, **kwargs: Any) -> Any:
        options = StackOptions(**{name: kwargs.pop(name) for name in names if name in kwargs})
        return command(*args, **kwargs, options=options)

    del with_stack_options.__wrapped__  # typer reads the signature below, not the command's
    with_stack_options.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
    with_stack_options.__annotations__ = {
        **{p.name: p.annotation for p in own + added},
        "return": signature.return_annotation,
    }
    return with_stack_options


def command_line(config: stack_config.StackConfig, *args: str) -> str:
    """``foldline ARGS`` as a person can paste it: with the options that reach this stack
    again (``--local`` for the local cloud, ``--stack``/``--profile`` where not the default).

    >>> command_line(stack_config.StackConfig({}, "us-east-1", "", "foldline", local=True), "results", "r1")
    'foldline results r1 --local'
    """
    import shlex

    words = ["foldline", *args]
    if config.local:
        words.append("--local")
    else:
        if config.stack_name != stack_config.DEFAULT_STACK:
            words += ["--stack", config.stack_name]
        if config.profile:
            words += ["--profile", config.profile]
    return shlex.join(words)


def err_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def console() -> Console:
    """stdout for people: a terminal's width; piped or redirected, no width to cut to."""
    from rich.console import Console

    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=100_000)
    return out


#: a column whose longest cell is at most this many characters is never wrapped
_WHOLE_CELL = 12


def _plain(cell: object) -> str:
    text = getattr(cell, "plain", None)
    return str(cell if text is None else text)


def show_table(out: Console, table: Table) -> None:
    """``table`` for people in a terminal, for programs elsewhere.

    In a terminal: every cell whole at any width (short columns never wrap, long ones
    fold onto more lines; nothing is cut to "…"); where the columns cannot all fit, one
    block of "column value" lines per row instead. Piped or redirected: tab-separated
    values, the header line then one line per row, no styling, nothing cut.
    """
    if out.is_terminal:
        for column in table.columns:
            longest = max((len(_plain(c)) for c in column.cells), default=0)
            column.no_wrap = max(longest, len(_plain(column.header))) <= _WHOLE_CELL
            column.overflow = "fold"
        if table.__rich_measure__(out, out.options).minimum <= out.width:
            out.print(table)
            return
        # more columns than the terminal holds whole: one block of "name value" lines per row
        from rich.table import Table as RichTable

        for row in zip(*[list(c.cells) for c in table.columns]):
            block = RichTable.grid(padding=(0, 2))
            block.add_column(style="bold", no_wrap=True)
            block.add_column(overflow="fold")
            for column, cell in zip(table.columns, row):
                block.add_row(_plain(column.header), cell)
            out.print(block)
            out.print()
        return
    lines = [[_plain(c.header) for c in table.columns]]
    lines += [
        list(row) for row in zip(*[[_plain(cell) for cell in c.cells] for c in table.columns])
    ]
    out.file.write("".join("\t".join(" ".join(v.split()) for v in line) + "\n" for line in lines))


def _json_value(value: object) -> object:
    """JSON for what json cannot write: DynamoDB's Decimals as numbers, the rest as text."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def print_json(out: Console, value: object) -> None:
    """``value`` as JSON on stdout, numbers as numbers (DynamoDB's Decimals included)."""
    import json

    out.file.write(json.dumps(value, default=_json_value, indent=2, ensure_ascii=False) + "\n")


def _aws_message(err: ClientError) -> str:
    error = err.response.get("Error", {})
    operation = getattr(err, "operation_name", "an AWS call")
    return f"AWS refused {operation}: {error.get('Code')}: {error.get('Message')}"


@contextlib.contextmanager
def handled(debug: bool) -> Iterator[None]:
    """Turn the errors a person can act on into one line and an exit status."""
    debug = debug or os.environ.get("FOLDLINE_DEBUG", "").lower() in ("1", "true", "yes")
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except Exception as err:
        if debug:
            raise
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            EndpointConnectionError,
            NoCredentialsError,
        )

        if isinstance(err, (CliError, stack_config.ConfigError)):
            message, code = str(err), err.exit_code
        elif isinstance(err, NoCredentialsError):
            message, code = (
                "no AWS credentials found: run `aws configure` or pass --profile",
                EXIT_NO_CREDENTIALS,
            )
        elif isinstance(err, EndpointConnectionError):
            message, code = (
                f"cannot reach {err.kwargs.get('endpoint_url')}: is the network (or the local cloud) up?",
                EXIT_FAILED,
            )
        elif isinstance(err, ClientError):
            message, code = _aws_message(err), EXIT_FAILED
        elif isinstance(err, BotoCoreError):
            message, code = f"AWS client error: {err}", EXIT_FAILED
        elif isinstance(err, KeyboardInterrupt):
            message, code = "interrupted", 130
        else:
            message = f"unexpected {type(err).__name__}: {err} (run with --debug for the traceback)"
            code = EXIT_FAILED
        err_console().print(f"error: {message}", markup=False)
        raise typer.Exit(code) from None


def find_run(runs: RunsTable, run_id: str) -> dict:
    """The run with this id, or the only one whose id starts with it (``6kwc-5f0c``)."""
    item = runs.get(run_id)
    if item is not None:
        return item
    matches = [i for i in runs.recent(limit=100_000) if i["run_id"].startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        shown = ", ".join(m["run_id"] for m in matches[:3])
        raise UnknownRun(
            f"run id {run_id!r} is ambiguous: {len(matches)} runs start with it ({shown}, …)"
        )
    raise UnknownRun(f"no run {run_id!r} in the runs table {runs.table_name}")


# -- times, for tables -----------------------------------------------------------------------


def parse_time(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        value = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=_dt.UTC)


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.UTC)


def duration(seconds: float | None) -> str:
    """``42s``, ``12m 05s``, ``3h 07m``."""
    if seconds is None:
        return "-"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def run_seconds(item: dict, final_statuses: frozenset[str]) -> float | None:
    """From start (or creation) to end, or to now while the run goes on."""
    start = parse_time(item.get("started_at") or item.get("created_at"))
    if start is None:
        return None
    end = parse_time(item.get("ended_at"))
    if end is None:
        if item.get("status") in final_statuses:
            end = parse_time(item.get("updated_at"))
        else:
            end = now()
    return (end - start).total_seconds() if end else None


def short_time(text: str | None) -> str:
    value = parse_time(text)
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"
