"""The databases setup job as SageMaker sees it: its CreateProcessingJob request, its state.

``foldline setup databases`` starts it with the stack's own setup role (which may write
only the databases prefixes of the stack's bucket) and the MSA step's image, both found
in the stack's outputs; the job runs :mod:`foldline.databases.download`.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from foldline.databases import presets as gdb

JOB_PREFIX = "foldline-databases-"
#: 8 vCPU, 32 GiB, up to 10 Gbit/s: the sources' servers, not the instance, set the pace
INSTANCE_TYPE = "ml.m5.2xlarge"
#: full_dbs takes most of a day (BFD alone is a 272 GB archive); room for slow mirrors
MAX_RUNTIME_S = 3 * 24 * 3600
TAG_KEY = "foldline:databases"


def job_name(preset: str, now: _dt.datetime | None = None) -> str:
    stamp = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y%m%d-%H%M%S")
    return f"{JOB_PREFIX}{preset.replace('_', '-')}-{stamp}"


def job_request(
    *,
    preset: str,
    bucket: str,
    image_uri: str,
    role_arn: str,
    region: str,
    openfold_params: bool = False,
    colabfold: bool = False,
    refresh: bool = False,
    instance_type: str = INSTANCE_TYPE,
    name: str | None = None,
) -> dict[str, Any]:
    """The CreateProcessingJob request: the job program with its preset, on a volume that
    holds the largest database of the preset while it is fetched."""
    gdb.databases_for(preset)  # ValueError on an unknown preset
    name = name or job_name(preset)
    command = [
        "python3",
        "-m",
        "foldline.databases.download",
        "--preset",
        preset,
        "--bucket",
        bucket,
        "--job",
        name,
    ]
    if openfold_params:
        command.append("--openfold-params")
    if colabfold:
        command.append("--colabfold")
    if refresh:
        command.append("--refresh")
    return {
        "ProcessingJobName": name,
        "RoleArn": role_arn,
        "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": command},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": instance_type,
                "VolumeSizeInGB": gdb.volume_gb(preset, colabfold),
            }
        },
        # no VPC: the sources are on the internet (Google Cloud Storage, the PDB's rsync
        # and FTP servers, UniProt, the public openfold bucket)
        "Environment": {"AWS_DEFAULT_REGION": region, "PYTHONUNBUFFERED": "1"},
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_S},
        "Tags": [{"Key": TAG_KEY, "Value": preset}],
    }


def recent_jobs(sagemaker: Any, limit: int = 5) -> list[dict[str, Any]]:
    """The newest setup jobs (ListProcessingJobs), newest first."""
    listed = sagemaker.list_processing_jobs(
        NameContains=JOB_PREFIX, SortBy="CreationTime", SortOrder="Descending", MaxResults=limit
    )
    return listed.get("ProcessingJobSummaries", [])


def console_url(region: str, name: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/sagemaker/home?region={region}"
        f"#/processing-jobs/{name}"
    )


def logs_command(region: str, name: str) -> str:
    return f"aws logs tail /aws/sagemaker/ProcessingJobs --region {region} --follow --log-stream-name-prefix {name}"
