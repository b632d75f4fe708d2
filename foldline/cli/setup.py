"""``foldline setup databases|status``: what a deployed stack needs before its first run.

The genetic databases: ``foldline setup databases --preset P`` starts the stack's setup
job (a SageMaker Processing job, with the stack's own setup role and the MSA step's
image, both from the stack's outputs), which fetches preset P into the bucket; the
stack's FSx for Lustre file system shows it to the training jobs. Until the job has
written P's ready record (its last write), the start function refuses runs that need P.
"""

from __future__ import annotations

import time
from enum import Enum
from typing import Annotated

import typer

from foldline.cli import common, stack_config
from foldline.spec.parameters import DB_PRESETS
from foldline.spec.statuses import JOB_COMPLETED, JOB_ENDED_STATUSES

app = typer.Typer(
    help="Get a deployed stack ready for its first run (the genetic databases).",
    no_args_is_help=True,
)

#: the stack outputs the setup job is started from (template.yaml)
NEEDED_OUTPUTS = (stack_config.DATABASES_SETUP_ROLE, stack_config.DATABASES_IMAGE)


#: the DbPresets (foldline.spec.parameters.DB_PRESETS) as typer's choices
Preset = Enum("Preset", {name: name for name in DB_PRESETS}, type=str)


def _needed(config: stack_config.StackConfig) -> dict[str, str]:
    missing = [name for name in NEEDED_OUTPUTS if name not in config.outputs]
    if missing:
        raise common.CliError(
            f"stack {config.stack_name!r} has no output {', '.join(missing)}: deploy this "
            "version of template.yaml (sam build && sam deploy) first",
            common.EXIT_STACK_NOT_FOUND,
        )
    return {name: config.outputs[name] for name in NEEDED_OUTPUTS}


@common.stack_command
def databases(
    preset: Annotated[
        Preset,
        typer.Option(
            "--preset",
            case_sensitive=False,
            show_default=False,
            help="full_dbs (about 2.6 TB; BFD + UniRef30) or reduced_dbs (about 610 GB; small BFD).",
        ),
    ],
    openfold_params: Annotated[
        bool,
        typer.Option(
            "--openfold-params",
            help="Also fetch OpenFold's checkpoints (s3://openfold/openfold_params/).",
        ),
    ] = False,
    colabfold: Annotated[
        bool,
        typer.Option(
            "--colabfold",
            help="Also fetch ColabFold's UniRef30 and environmental databases (about 0.8 TB "
            "and their indexes) for MsaEngine=mmseqs2.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Follow the job to its end (hours; full_dbs most of a day)."),
    ] = False,
    instance_type: Annotated[
        str, typer.Option("--instance-type", help="The job's instance.")
    ] = "ml.m5.2xlarge",
    refresh: Annotated[
        bool,
        typer.Option("--refresh", help="Fetch again the databases an earlier job already fetched."),
    ] = False,
    mark_ready: Annotated[
        bool,
        typer.Option(
            "--mark-ready",
            help="Start no job: record PRESET as ready (your own file system, already filled).",
        ),
    ] = False,
    poll_seconds: Annotated[int, typer.Option("--poll-seconds", hidden=True, min=0)] = 60,
    *,
    options: common.StackOptions,
) -> None:
    """Start the job that fetches a preset's genetic databases into the stack.

    Once per preset (a later job skips what an earlier one fetched). Runs that need the
    preset are refused until the job has finished. Exit status 1 if the job (with --wait)
    did not end with the preset ready.
    """
    from foldline.databases import presets as gdb
    from foldline.databases import setup_job
    from foldline.spec import layout

    with options.handled():
        config = options.connect()
        out = common.console()
        name = preset.value
        if config.local:
            raise common.CliError(
                "the local cloud serves its own database folder (foldline local "
                "--databases): there is nothing to fetch",
                common.EXIT_USAGE,
            )
        if mark_ready:
            gdb.write_ready(
                config.client("s3"),
                config.bucket,
                name,
                source="declared by foldline setup databases --mark-ready (no download)",
            )
            out.print(
                f"{name}: recorded as ready in s3://{config.bucket}/{layout.databases_ready_key(name)} "
                "(no job started); runs that need it are admitted",
                markup=False,
            )
            return
        outputs = _needed(config)
        request = setup_job.job_request(
            preset=name,
            bucket=config.bucket,
            image_uri=outputs[stack_config.DATABASES_IMAGE],
            role_arn=outputs[stack_config.DATABASES_SETUP_ROLE],
            region=config.region,
            openfold_params=openfold_params,
            colabfold=colabfold,
            refresh=refresh,
            instance_type=instance_type,
        )
        sagemaker = config.client("sagemaker")
        sagemaker.create_processing_job(**request)
        job = request["ProcessingJobName"]
        volume = request["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"]
        rows = [
            ("job", f"{job} ({name}, {instance_type}, {volume} GB volume)"),
            ("into", f"s3://{config.bucket}/{layout.DATABASES}"),
            (
                "ready at",
                f"s3://{config.bucket}/{layout.databases_ready_key(name)} (its last write)",
            ),
            ("console", setup_job.console_url(config.region, job)),
            ("log", setup_job.logs_command(config.region, job)),
        ]
        for label, value in rows:
            out.print(f"{label:<9} {value}", markup=False)
        if not wait:
            out.print(
                f"Runs that need {name} are refused until it is ready: "
                f"`foldline setup status` shows when.",
                markup=False,
            )
            return
        status = _follow(sagemaker, job, poll_seconds, out)
        ready = name in gdb.ready_presets(config.client("s3"), config.bucket)
        if status["ProcessingJobStatus"] == JOB_COMPLETED and ready:
            out.print(f"{name} is ready: runs that need it are admitted", markup=False)
            return
        reason = (
            status.get("ExitMessage")
            or status.get("FailureReason")
            or (
                "the job ended without the ready record"
                if status["ProcessingJobStatus"] == JOB_COMPLETED
                else ""
            )
        )
        out.print(f"{job} {status['ProcessingJobStatus']}: {reason}".rstrip(": "), markup=False)
    raise typer.Exit(common.EXIT_FAILED)


def _follow(sagemaker, job: str, poll_seconds: int, out) -> dict:
    """DescribeProcessingJob until the job ends, printing each change of status."""
    last = None
    while True:
        described = sagemaker.describe_processing_job(ProcessingJobName=job)
        status = described["ProcessingJobStatus"]
        if status != last:
            out.print(f"{common.now():%Y-%m-%d %H:%M} {job} {status}", markup=False)
            last = status
        if status in JOB_ENDED_STATUSES:
            return described
        time.sleep(poll_seconds)


@common.stack_command
def status(
    as_json: Annotated[bool, typer.Option("--json", help="The same as JSON.")] = False,
    *,
    options: common.StackOptions,
) -> None:
    """Which database presets the stack serves, and its latest setup jobs."""
    import json

    from foldline.databases import presets as gdb
    from foldline.databases import setup_job
    from foldline.spec import layout

    with options.handled():
        config = options.connect()
        s3 = config.client("s3")
        ready = gdb.ready_presets(s3, config.bucket)
        records = {}
        for preset in ready:
            body = s3.get_object(Bucket=config.bucket, Key=layout.databases_ready_key(preset))[
                "Body"
            ]
            records[preset] = json.loads(body.read())
        jobs = [] if config.local else setup_job.recent_jobs(config.client("sagemaker"))
        out = common.console()
        if as_json:
            out.print_json(
                json.dumps(
                    {
                        "ready": records,
                        "jobs": [
                            {
                                "name": j["ProcessingJobName"],
                                "status": j["ProcessingJobStatus"],
                                "created": j["CreationTime"].isoformat(),
                            }
                            for j in jobs
                        ],
                    }
                )
            )
            return
        for preset in DB_PRESETS:
            if preset in records:
                line = f"ready since {records[preset].get('ready_at', '?')} ({records[preset].get('source', '?')})"
            else:
                line = f"not set up: {gdb.setup_command(preset)}"
            out.print(f"{preset:<12} {line}", markup=False)
        for job in jobs:
            out.print(
                f"job  {job['ProcessingJobName']}  {job['ProcessingJobStatus']}  "
                f"{job['CreationTime']:%Y-%m-%d %H:%M}",
                markup=False,
            )


def register(root: typer.Typer) -> None:
    app.command(name="databases")(databases)
    app.command(name="status")(status)
    root.add_typer(app, name="setup")
