"""``foldline setup``: the databases setup job started from the stack's outputs, followed to
its end, and the presets the stack serves (moto: CreateProcessingJob and its listing are
there; a moto job is Completed at once and writes nothing, so the tests write what the
job's program would, whose own run is tested in tests/databases/test_presets_and_setup_job.py)."""

from __future__ import annotations

import pytest

from foldline.databases import presets as genetic_databases
from foldline.spec import layout

from .conftest import invoke

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/foldline-msa:v7"


@pytest.fixture
def extra_parameters() -> dict:
    return {"MsaImageUri": IMAGE}  # the databases job runs in the MSA image


@pytest.fixture
def setup_stack(moto_stack):
    """The command's moto stack: template.yaml's outputs for the setup among the rest."""
    return moto_stack


def test_setup_starts_the_job_with_the_stacks_role_and_image(setup_stack):
    result = invoke("setup", "databases", "--preset", "reduced_dbs", "--openfold-params")

    assert result.exit_code == 0, result.output
    (summary,) = setup_stack.sagemaker.list_processing_jobs()["ProcessingJobSummaries"]
    job = setup_stack.sagemaker.describe_processing_job(
        ProcessingJobName=summary["ProcessingJobName"]
    )
    assert job["RoleArn"] == setup_stack.outputs["DatabasesSetupRoleArn"]
    assert job["AppSpecification"]["ImageUri"] == IMAGE
    assert job["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "-m",
        "foldline.databases.download",
        "--preset",
        "reduced_dbs",
        "--bucket",
        setup_stack.bucket,
        "--job",
        summary["ProcessingJobName"],
        "--openfold-params",
    ]
    assert summary["ProcessingJobName"] in result.output
    assert f"s3://{setup_stack.bucket}/{layout.DATABASES}" in result.output
    assert "Runs that need reduced_dbs are refused until it is ready" in result.output


def test_wait_ends_well_only_with_the_ready_record(setup_stack):
    waited = invoke("setup", "databases", "--preset", "full_dbs", "--wait", "--poll-seconds", "0")
    assert waited.exit_code == 1  # moto's job "Completed" without writing anything
    assert "Completed: the job ended without the ready record" in waited.output

    genetic_databases.write_ready(
        setup_stack.s3, setup_stack.bucket, "full_dbs", source="setup job x"
    )
    again = invoke("setup", "databases", "--preset", "full_dbs", "--wait", "--poll-seconds", "0")
    assert again.exit_code == 0, again.output
    assert again.output.rstrip().endswith("full_dbs is ready: runs that need it are admitted")


def test_status_shows_each_preset_and_the_jobs(setup_stack):
    before = invoke("setup", "status")
    assert before.exit_code == 0, before.output
    assert "full_dbs     not set up: foldline setup databases --preset full_dbs" in before.output
    invoke("setup", "databases", "--preset", "reduced_dbs")
    genetic_databases.write_ready(
        setup_stack.s3, setup_stack.bucket, "reduced_dbs", source="setup job y"
    )

    after = invoke("setup", "status")

    assert "reduced_dbs  ready since " in after.output and "(setup job y)" in after.output
    assert "full_dbs     not set up" in after.output
    assert "job  foldline-databases-reduced-dbs-" in after.output


def test_mark_ready_records_a_file_system_filled_otherwise(setup_stack):
    result = invoke("setup", "databases", "--preset", "full_dbs", "--mark-ready")
    assert result.exit_code == 0, result.output
    assert setup_stack.sagemaker.list_processing_jobs()["ProcessingJobSummaries"] == []
    readiness = genetic_databases.Readiness(setup_stack.s3)
    assert readiness.choose(setup_stack.bucket, "full_dbs") == (
        "full_dbs",
        None,
    )  # the start path admits it


#: what a stack deployed before the databases setup existed lacks
SETUP_OUTPUTS = (
    "DatabasesSetupRoleArn",
    "DatabasesImageUri",
    "DatabasesS3Uri",
    "DatabasesFileSystemId",
    "DatabasesDirectoryPath",
)


@pytest.mark.parametrize("withheld_outputs", [SETUP_OUTPUTS])
def test_a_stack_without_the_setup_outputs_says_to_deploy_this_version(moto_stack):
    result = invoke("setup", "databases", "--preset", "reduced_dbs")
    assert result.exit_code == 4
    assert (
        "has no output DatabasesSetupRoleArn, DatabasesImageUri: deploy this version"
        in result.output
    )
