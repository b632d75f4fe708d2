"""``foldline submit FILE...``: check FASTA files, upload them to ``inputs/``, print run ids.

Each file is judged first by the validator the start function uses (with the stack's
intake limits), so a bad file is refused here and nothing is uploaded. Run overrides
ride on the upload as S3 object tags (``ModelPreset=multimer``), which the start function
reads (:func:`foldline.intake.start.overrides_from_tags`). The run id is computed as the start
function computes it, from the PutObject's VersionId (its ETag where unversioned).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

import typer

from foldline.cli import common
from foldline.intake.run_identity import run_id_for, upload_version
from foldline.spec import layout
from foldline.spec.parameters import (
    DB_PRESET,
    INFERENCE_INSTANCE_TYPE,
    MAX_TEMPLATE_DATE,
    MODEL_PRESET,
    MSA_ENGINE,
    MSA_INSTANCE_TYPE,
    NUM_MULTIMER_PREDICTIONS,
    InvalidParameter,
    validate_value,
)
from foldline.spec.screening import MODE_TAG, SCREEN_MODE

if TYPE_CHECKING:
    from foldline.cli.stack_config import StackConfig

PANEL_RUN = "Run parameters (tags on the upload; unset: the start function decides)"


@dataclass(frozen=True)
class Submitted:
    path: Path
    key: str
    run_id: str
    version: str
    existing_status: str | None  # the same upload was seen before


def chosen_overrides(values: dict[str, object]) -> dict[str, str]:
    """Parameter name -> canonical value, for the options given; bad values fail here."""
    chosen: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        try:
            chosen[name] = str(validate_value(name, value))
        except InvalidParameter as bad:
            raise common.CliError(str(bad), common.EXIT_USAGE) from None
    return chosen


def check_files(
    files: list[Path], config: StackConfig, overrides: dict[str, str], *, screen: bool = False
) -> None:
    """Judge every file before anything is uploaded; all problems in one go.

    A screening drop (``screen``) is refused only for what would sink it whole (not FASTA,
    more records than the stack's FoldlineMaxScreenSequences, no record that would run):
    a bad record is refused by the start function on its own, and its campaign says why.

    The start function's rules: its intake limits, and the stack's bounds on pinned
    instance types and on a run's estimated cost (foldline.intake.spend_limits; the estimate here
    assumes no MSA reuse, so it is never lower than the start function's).
    """
    from foldline.intake import sizing
    from foldline.intake.fasta import FastaRejected, decide, decide_file  # Bio.SeqIO: only here

    limits, spend = config.intake_limits(), config.spend_limits()
    try:
        spend.check_pins(overrides)
    except FastaRejected as refused:
        raise common.CliError(
            f"{refused.rejection} (nothing uploaded)", common.EXIT_INVALID_INPUT
        ) from None
    preset = overrides.get(MODEL_PRESET.name)
    predictions = overrides.get(NUM_MULTIMER_PREDICTIONS.name, NUM_MULTIMER_PREDICTIONS.default)
    problems = []
    for path in files:
        if not path.is_file():
            problems.append(f"{path}: no such file")
            continue
        if screen:  # each record on its own, as the start function judges a screening drop
            problems.extend(f"{path}: {p}" for p in _screen_problems(path, limits, preset))
            continue
        decision = decide_file(str(path), limits)
        if decision.accepted and preset is not None:  # the start function pins it the same way
            decision = decide(path.read_bytes(), limits, pinned_preset=preset)
        if not decision.accepted:
            problems.append(f"{path}: {decision.reason}")
            continue
        sized = sizing.size_run(
            [c.sequence for c in decision.chains],
            model_preset=decision.model_preset,
            db_preset=overrides.get(DB_PRESET.name, str(DB_PRESET.default)),
            pinned=overrides,
            predictions_per_model=int(predictions),
        )
        try:
            spend.check_cost(
                sized.as_item(),
                {
                    MODEL_PRESET.name: decision.model_preset,
                    NUM_MULTIMER_PREDICTIONS.name: predictions,
                },
            )
        except FastaRejected as refused:
            problems.append(f"{path}: {refused.rejection}")
    if problems:
        missing_only = all(p.endswith(": no such file") for p in problems)
        raise common.CliError(
            "; ".join(problems) + " (nothing uploaded)",
            common.EXIT_USAGE if missing_only else common.EXIT_INVALID_INPUT,
        )


def _screen_problems(path: Path, limits, preset: str | None) -> list[str]:
    from foldline.intake.fasta import decide_each_record

    judged, sunk = decide_each_record(path.read_bytes(), limits, pinned_preset=preset)
    if sunk is not None:
        return [sunk.message]
    if not any(j.decision.accepted for j in judged):
        reasons = "; ".join(str(j.decision.reason) for j in judged[:3])
        return [f"no record of the screening drop would run ({reasons})"]
    return []


def screen_records(path: Path, campaign_id: str) -> list[tuple[str, str]]:
    """(run id, record id) of each record of a screening drop, as the start function names
    its runs."""
    from foldline.intake.fasta import decide_each_record
    from foldline.intake.run_identity import member_run_id

    judged, _ = decide_each_record(path.read_bytes())
    return [(member_run_id(campaign_id, j.chain.number, j.chain.id), j.chain.id) for j in judged]


def screen_run_ids(path: Path, campaign_id: str) -> list[str]:
    """The run ids the start function gives a screening drop's records, one per record."""
    return [run_id for run_id, _record in screen_records(path, campaign_id)]


def upload(
    config: StackConfig, path: Path, overrides: dict[str, str], name: str | None = None
) -> Submitted:
    """Put one file under ``inputs/`` with its overrides as tags; return its run id."""
    key = layout.INPUTS + (name or path.name)
    extra = {"Tagging": urlencode(overrides)} if overrides else {}
    response = config.client("s3").put_object(
        Bucket=config.bucket, Key=key, Body=path.read_bytes(), ContentType="text/x-fasta", **extra
    )
    version = upload_version(response.get("VersionId"), response["ETag"])  # as the start function
    run_id = run_id_for(config.bucket, key, version)
    existing = config.runs().get(run_id)
    return Submitted(path, key, run_id, version, existing.get("status") if existing else None)


@common.stack_command
def submit(
    files: Annotated[
        list[Path], typer.Argument(help="FASTA files, one run each.", show_default=False)
    ],
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="Follow the runs until they end (a pipeline that succeeded: until its "
            "report is written), then show the results; exit 0 only if every run has one.",
        ),
    ] = False,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            "--model-preset",
            rich_help_panel=PANEL_RUN,
            show_default=False,
            help=f"{MODEL_PRESET.name}: {', '.join(MODEL_PRESET.allowed)} (default: monomer, multimer for several chains).",
        ),
    ] = None,
    db_preset: Annotated[
        str | None,
        typer.Option(
            "--db-preset",
            rich_help_panel=PANEL_RUN,
            show_default=False,
            help=f"{DB_PRESET.name}: {', '.join(DB_PRESET.allowed)} (default: {DB_PRESET.default}).",
        ),
    ] = None,
    max_template_date: Annotated[
        str | None,
        typer.Option(
            "--max-template-date",
            rich_help_panel=PANEL_RUN,
            show_default=False,
            help=f"{MAX_TEMPLATE_DATE.name}: YYYY-MM-DD (default: the upload's date).",
        ),
    ] = None,
    num_multimer_predictions: Annotated[
        int | None,
        typer.Option(
            "--num-multimer-predictions",
            rich_help_panel=PANEL_RUN,
            show_default=False,
            help=f"{NUM_MULTIMER_PREDICTIONS.name} (default: {NUM_MULTIMER_PREDICTIONS.default}).",
        ),
    ] = None,
    msa_engine: Annotated[
        str | None,
        typer.Option(
            "--msa-engine",
            rich_help_panel=PANEL_RUN,
            show_default=False,
            help=f"{MSA_ENGINE.name}: {', '.join(MSA_ENGINE.allowed)} (default: the stack's).",
        ),
    ] = None,
    msa_instance_type: Annotated[
        str | None,
        typer.Option(
            "--msa-instance-type",
            rich_help_panel=PANEL_RUN,
            show_default=False,
            help=f"{MSA_INSTANCE_TYPE.name} (default: sized from DbPreset and the longest chain).",
        ),
    ] = None,
    inference_instance_type: Annotated[
        str | None,
        typer.Option(
            "--inference-instance-type",
            rich_help_panel=PANEL_RUN,
            show_default=False,
            help=f"{INFERENCE_INSTANCE_TYPE.name} (default: the cheapest GPU that fits the run's length).",
        ),
    ] = None,
    screen: Annotated[
        bool,
        typer.Option(
            "--screen",
            help="Screening mode (the tag Mode=screen): each file is a multi-FASTA of "
            "monomers, folded as one run per record; a bad record is refused on its own. "
            "Prints the campaign's id (foldline status CAMPAIGN_ID).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the run ids.")] = False,
    interval: Annotated[
        float, typer.Option(help="Seconds between polls with --wait.", min=0.1)
    ] = 5.0,
    timeout: Annotated[
        float | None, typer.Option(help="Stop waiting after this many seconds.", show_default=False)
    ] = None,
    *,
    options: common.StackOptions,
) -> None:
    """Upload FASTA files to the stack's inputs/ and print their run ids.

    Each file is checked first with the start function's own validator and limits; if
    any is refused, nothing is uploaded. Run parameters travel as tags on the upload.
    """
    with options.handled():
        overrides = chosen_overrides(
            {
                MODEL_PRESET.name: preset,
                DB_PRESET.name: db_preset,
                MAX_TEMPLATE_DATE.name: max_template_date,
                NUM_MULTIMER_PREDICTIONS.name: num_multimer_predictions,
                MSA_ENGINE.name: msa_engine,
                MSA_INSTANCE_TYPE.name: msa_instance_type,
                INFERENCE_INSTANCE_TYPE.name: inference_instance_type,
            }
        )
        names = [f.name for f in files]
        if len(set(names)) != len(names):
            raise common.CliError(
                "two files have the same name; they would land on the same key under inputs/",
                common.EXIT_USAGE,
            )
        config = options.connect()
        check_files(files, config, overrides, screen=screen)
        tagged = {**overrides, MODE_TAG: SCREEN_MODE} if screen else overrides
        out = common.console()
        submitted, followed, labels = [], [], {}
        for path in files:
            sub = upload(config, path, tagged)
            submitted.append(sub)
            runs_of_file = (
                {r: f"{path.name} {record}" for r, record in screen_records(path, sub.run_id)}
                if screen
                else {sub.run_id: path.name}
            )
            followed.extend(runs_of_file)
            labels.update(runs_of_file)
            if quiet:
                out.print(sub.run_id, markup=False)
                continue
            tags = " ".join(f"{k}={v}" for k, v in tagged.items())
            what = f"campaign {sub.run_id}, {len(runs_of_file)} records" if screen else "run"
            out.print(
                f"{path.name}: {what if screen else 'run ' + sub.run_id}"
                f" (s3://{config.bucket}/{sub.key}{', tags ' + tags if tags else ''})",
                markup=False,
            )
            if sub.existing_status:
                out.print(
                    f"  note: this exact upload was seen before; the run is "
                    f"{sub.existing_status} and will not start again",
                    markup=False,
                )
        if not wait:
            return
        from foldline.cli.follow import follow  # rich.live, boto3: only with --wait

        ok = follow(
            config,
            followed,
            labels=labels,
            interval=interval,
            timeout=timeout,
            started=time.monotonic(),
        )
    raise typer.Exit(0 if ok else common.EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command(name="submit")(submit)
