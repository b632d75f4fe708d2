"""Each function's build output, alone, handles its sample events in the runtime's Python.

A container of the stand-in runtime image (CPython 3.12 and the runtime's boto3 only)
gets a zip function's `sam build` folder as /var/task and FoldlineLayer's as /opt, both
read-only; the analysis function runs in the image `sam build` made. The handlers reach
moto's server (the stack's resources, made from template.yaml by the local cloud) with
the environment the template gives them, and handle the sample events in events/,
pointed at what each test created. The outcome is checked in the local cloud.
"""

from __future__ import annotations

import json

import pytest

from foldline.intake.run_identity import run_id_for
from foldline.intake.start import pipeline_parameters
from foldline.local import moto_sagemaker
from foldline.local.paths import ACCOUNT_ID
from foldline.runs.table import EXECUTING, RunsTable
from foldline.spec import layout
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP
from tests.conftest import DATA, sqs_batch
from tests.lambda_build import harness
from tests.pipeline_runs import (
    EVENTS,
    alphafold_archive,
    archive_key,
    job_name,
    msa_archive,
    openfold_archive,
)

FASTA = (DATA / "openfold-6kwc" / "6kwc.fasta").read_bytes()
OOM = "AlgorithmError: RuntimeError: CUDA out of memory. Tried to allocate 2.41 GiB, exit code: 1"
SNAPSTART = {"StartPipelineFunction"}


def run_function(cloud, build, runtime_image, logical_id: str, event: dict) -> harness.Invocation:
    """Invoke one function's build output on ``event`` and check what it ran from."""
    function = cloud.stack.function(logical_id)
    env = {
        **function.environment,
        **cloud.env,
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python" + harness.platform_fact("python-version"),
        "_HANDLER": function.handler,
    }
    if logical_id in SNAPSTART:
        env["AWS_LAMBDA_INITIALIZATION_TYPE"] = "snap-start"
    properties = build.template["Resources"][logical_id]["Properties"]
    if properties.get("PackageType") == "Image":
        done = harness.invoke(build.image(logical_id), function.handler, event, env)
        home = "task"
    else:
        done = harness.invoke(
            runtime_image,
            function.handler,
            event,
            env,
            task=build.artifacts(logical_id),
            layer=build.artifacts("FoldlineLayer"),
        )
        home = "layer"
    report = done.report
    assert report["python"].startswith(harness.platform_fact("python-version") + ".")
    modules = report["modules"]
    assert {n: m["file"] for n, m in modules.items() if m["origin"] == "elsewhere"} == {}
    assert modules["foldline"]["origin"] == home
    assert modules["app"]["origin"] == "task"
    assert modules["aws_lambda_powertools"]["origin"] == "task"
    assert modules["boto3"]["origin"] == modules["botocore"]["origin"] == "runtime"
    assert report["foldline_bytecode"] and all(report["foldline_bytecode"].values())
    # init (imports, module-level objects) makes no connection: nothing a SnapStart
    # snapshot could carry stale into restored environments, and no cold-start I/O
    assert [c for c in report["connections"] if c.startswith("init")] == []
    assert any(c.startswith("invoke") for c in report["connections"])  # the hook does see them
    return done


# -- runs the way the start path leaves them -----------------------------------------------


def upload(cloud, key: str, body: bytes) -> dict:
    return cloud.client("s3").put_object(Bucket=cloud.bucket_name(), Key=key, Body=body)


def started_run(cloud, name: str) -> tuple[str, str]:
    """A pipeline execution and runs item for ``inputs/<name>.fasta``: (run id, execution ARN)."""
    key, bucket = f"inputs/{name}.fasta", cloud.bucket_name()
    put = upload(cloud, key, FASTA)
    run_id = run_id_for(bucket, key, put["VersionId"])
    parameters = pipeline_parameters(
        bucket=bucket,
        run_id=run_id,
        fasta_file_name=f"{name}.fasta",
        model_preset="monomer_ptm",
        upload_date="2026-11-26",
        overrides={},
    )
    function = cloud.stack.function("StartPipelineFunction")
    arn = cloud.client("sagemaker").start_pipeline_execution(
        PipelineName=function.environment["PIPELINE_NAME"],
        PipelineExecutionDisplayName=run_id,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        ClientRequestToken=run_id,
    )["PipelineExecutionArn"]
    runs_table(cloud).put(
        run_id,
        status=EXECUTING,
        bucket=bucket,
        key=key,
        target=name,
        parameters=parameters,
        execution_arn=arn,
    )
    return run_id, arn


def runs_table(cloud) -> RunsTable:
    return RunsTable(
        cloud.stack.function("ProgressFunction").environment["RUNS_TABLE"], cloud.client("dynamodb")
    )


def place_outputs(cloud, run_id: str, arn: str) -> dict[str, str]:
    """The steps' model.tar.gz where SageMaker writes them; step dir -> key."""
    keys = {}
    for step, archive in (
        (MSA_STEP, msa_archive()),
        (ALPHAFOLD_STEP, alphafold_archive()),
        (OPENFOLD_STEP, openfold_archive()),
    ):
        keys[step.output_dir] = archive_key(run_id, arn, step)
        upload(cloud, keys[step.output_dir], archive)
    return keys


def sample(name: str, run_id: str, arn: str) -> dict:
    """A pipeline sample event from events/, pointed at this run's execution."""
    event = json.loads((EVENTS / name).read_text())
    detail = event["detail"]
    detail["pipelineExecutionArn"] = arn
    detail["pipelineArn"] = arn.rsplit("/execution/", 1)[0]
    event["resources"] = [detail["pipelineArn"], arn]
    if "pipelineExecutionDisplayName" in detail:
        detail["pipelineExecutionDisplayName"] = run_id
    if "metadata" in detail:
        step = {s.name: s for s in (MSA_STEP, ALPHAFOLD_STEP, OPENFOLD_STEP)}[detail["stepName"]]
        detail["metadata"]["trainingJob"]["arn"] = (
            f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:training-job/{job_name(arn, step).lower()}"
        )
    return event


def set_status(cloud, arn: str, status: str, steps: list[dict] | None = None) -> None:
    """What SageMaker would report for the execution (moto's server runs in this process)."""
    moto_sagemaker.set_status(
        ACCOUNT_ID,
        cloud.region,
        arn,
        status,
        "Step failure: One or multiple steps failed." if status == "Failed" else None,
    )
    if steps is not None:
        moto_sagemaker.set_steps(ACCOUNT_ID, cloud.region, arn, steps)


def notices_for(cloud, run_id: str) -> list[dict]:
    return [
        n
        for n in harness.notices(cloud)
        if n.get("MessageAttributes", {}).get("run_id", {}).get("Value") == run_id
    ]


# -- the start function -------------------------------------------------------------------------


def pointed_at(cloud, key: str, body: bytes) -> dict:
    """events/sqs-s3-object-created.json, naming an object this test uploaded."""
    put = upload(cloud, key, body)
    batch = json.loads((EVENTS / "sqs-s3-object-created.json").read_text())
    (record,) = batch["Records"]
    event = json.loads(record["body"])
    event["detail"]["bucket"]["name"] = cloud.bucket_name()
    event["resources"] = [f"arn:aws:s3:::{cloud.bucket_name()}"]
    event["detail"]["object"].update(
        {
            "key": key,
            "version-id": put["VersionId"],
            "etag": put["ETag"].strip('"'),
            "size": len(body),
        }
    )
    record["body"] = json.dumps(event)
    return batch


def test_start_function_starts_the_sample_uploads_run(cloud, build, runtime_image):
    batch = pointed_at(cloud, "inputs/6kwc.fasta", FASTA)

    done = run_function(cloud, build, runtime_image, "StartPipelineFunction", batch)

    assert done.result == {"batchItemFailures": []}
    pipeline = cloud.stack.function("StartPipelineFunction").environment["PIPELINE_NAME"]
    executions = cloud.client("sagemaker").list_pipeline_executions(PipelineName=pipeline)
    (execution,) = [
        e
        for e in executions["PipelineExecutionSummaries"]
        if e["PipelineExecutionDisplayName"].startswith("6kwc-")
    ]
    run_id = execution["PipelineExecutionDisplayName"]
    item = runs_table(cloud).get(run_id)
    assert item["execution_arn"] == execution["PipelineExecutionArn"]
    copied = cloud.client("s3").get_object(
        Bucket=cloud.bucket_name(), Key=layout.run_input_key(run_id, "6kwc.fasta")
    )
    assert copied["Body"].read() == FASTA


def test_start_function_rejects_an_upload_that_is_not_fasta(cloud, build, runtime_image):
    key = "inputs/notes.fasta"
    batch = sqs_batch(
        [
            json.loads(
                pointed_at(cloud, key, b"these are notes, not sequences\n")["Records"][0]["body"]
            )
        ]
    )

    done = run_function(cloud, build, runtime_image, "StartPipelineFunction", batch)

    assert done.result == {"batchItemFailures": []}
    s3, bucket = cloud.client("s3"), cloud.bucket_name()
    reason = json.loads(s3.get_object(Bucket=bucket, Key=layout.reason_key(key))["Body"].read())
    assert reason
    assert (
        s3.get_object(Bucket=bucket, Key=layout.rejected_key(key))["Body"]
        .read()
        .startswith(b"these")
    )
    rejected = [n for n in harness.notices(cloud) if "notes.fasta" in n.get("Message", "")]
    assert len(rejected) == 1


# -- the end-of-run functions ---------------------------------------------------------------------


def test_analysis_function_reports_a_succeeded_run(cloud, build, runtime_image):
    run_id, arn = started_run(cloud, "analysed")
    place_outputs(cloud, run_id, arn)
    set_status(cloud, arn, "Succeeded")

    done = run_function(
        cloud,
        build,
        runtime_image,
        "AnalysisFunction",
        sample("pipeline-succeeded.json", run_id, arn),
    )

    assert done.result["action"] == "reported"
    s3, bucket = cloud.client("s3"), cloud.bucket_name()
    prefix = layout.report_prefix(run_id)
    written = {
        o["Key"][len(prefix) :]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    }
    assert {"metrics.json", "report.html", "plddt.png"} <= written
    metrics = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "metrics.json")["Body"].read())
    assert 0.95 < metrics["comparison"]["complex"]["tm_score"] <= 1.0  # relaxed vs unrelaxed 6KWC
    png = s3.get_object(Bucket=bucket, Key=prefix + "plddt.png")["Body"].read()
    assert png.startswith(b"\x89PNG")  # matplotlib drew it, in the image's read-only root
    (notice,) = notices_for(cloud, run_id)
    assert notice["MessageAttributes"]["status"]["Value"] == "succeeded"


def test_notify_function_names_the_failed_step_and_its_reason(cloud, build, runtime_image):
    run_id, arn = started_run(cloud, "failed")
    steps = [
        {
            "StepName": s.name,
            "StepStatus": status,
            "AttemptCount": 1,
            "Metadata": {
                "TrainingJob": {
                    "Arn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}:"
                    f"training-job/{job_name(arn, s).lower()}"
                }
            },
            **({"FailureReason": OOM} if status == "Failed" else {}),
        }
        for s, status in (
            (MSA_STEP, "Succeeded"),
            (ALPHAFOLD_STEP, "Succeeded"),
            (OPENFOLD_STEP, "Failed"),
        )
    ]
    set_status(cloud, arn, "Failed", steps)

    done = run_function(
        cloud, build, runtime_image, "NotifyFunction", sample("pipeline-failed.json", run_id, arn)
    )

    assert done.result["action"] == "notified" and done.result["failed_step"] == "RunOpenFold"
    (notice,) = notices_for(cloud, run_id)
    assert notice["Subject"].startswith("foldline: failed failed at RunOpenFold")
    assert OOM in notice["Message"]
    assert runs_table(cloud).get(run_id)["status"] == "Failed"


def test_notify_function_tells_of_a_stopped_run(cloud, build, runtime_image):
    run_id, arn = started_run(cloud, "stopped")
    set_status(cloud, arn, "Stopped", [])

    done = run_function(
        cloud, build, runtime_image, "NotifyFunction", sample("pipeline-stopped.json", run_id, arn)
    )

    assert done.result["status"] == "Stopped"
    (notice,) = notices_for(cloud, run_id)
    assert notice["Subject"] == f"foldline: stopped stopped (run {run_id})"


def test_notify_function_tells_of_an_analysis_that_gave_up(cloud, build, runtime_image):
    run_id, arn = started_run(cloud, "unanalysed")
    keys = place_outputs(cloud, run_id, arn)
    set_status(cloud, arn, "Succeeded")
    record = json.loads((EVENTS / "analysis-on-failure.json").read_text())
    record["requestPayload"] = sample("pipeline-succeeded.json", run_id, arn)

    run_function(cloud, build, runtime_image, "NotifyFunction", record)

    (notice,) = notices_for(cloud, run_id)
    assert "analysis failed" in notice["Subject"]
    assert f"s3://{cloud.bucket_name()}/{keys['alphafold']}" in notice["Message"]


@pytest.mark.parametrize(
    ("sample_event", "step", "status"),
    [
        ("step-succeeded.json", ALPHAFOLD_STEP, "Succeeded"),
        ("step-failed.json", OPENFOLD_STEP, "Failed"),
    ],
)
def test_progress_function_records_the_steps_status(
    cloud, build, runtime_image, sample_event, step, status
):
    run_id, arn = started_run(cloud, f"progress-{status.lower()}")

    done = run_function(
        cloud, build, runtime_image, "ProgressFunction", sample(sample_event, run_id, arn)
    )

    assert done.result["action"] == "recorded" and done.result["run_id"] == run_id
    recorded = runs_table(cloud).get(run_id)["steps"][step.name]
    assert recorded["status"] == status
    assert recorded["training_job"] == job_name(arn, step).lower()
    if status == "Failed":
        assert "CUDA out of memory" in recorded["failure_reason"]
