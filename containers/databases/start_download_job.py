#!/usr/bin/env python3
"""Start the SageMaker Processing job that downloads the genetic databases into S3.

    python containers/databases/start_download_job.py --preset full_dbs \
        --image-uri <MsaImageUri> --role-arn <SageMaker execution role> \
        --s3-uri s3://<bucket>/alphafold-databases [--openfold-params] [--wait]

The job runs ``download_databases.py`` in the MSA image on one instance with a volume
large enough for the preset's download and unpacking, then SageMaker uploads the folder
to ``--s3-uri``. Link that prefix to FSx for Lustre with ``containers/fsx.yaml``.
Sizes (AlphaFold 2.3): full_dbs about 556 GB to download, 2.62 TB unpacked;
reduced_dbs about 600 GB unpacked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

#: GB of job volume per preset: the unpacked databases plus the largest archive in flight
VOLUME_GB = {"full_dbs": 3200, "reduced_dbs": 1000}
LOCAL_PATH = "/opt/ml/processing/databases"
MAX_RUNTIME_S = 2 * 24 * 3600  # full_dbs takes most of a day; BFD alone is 272 GB


def job_request(*, preset: str, image_uri: str, role_arn: str, s3_uri: str,
                instance_type: str = "ml.m5.2xlarge", openfold_params: bool = False,
                name: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The CreateProcessingJob request."""
    if preset not in VOLUME_GB:
        raise ValueError(f"preset {preset!r} is not one of {sorted(VOLUME_GB)}")
    if not s3_uri.startswith("s3://"):
        raise ValueError(f"--s3-uri must be an s3:// URI, got {s3_uri!r}")
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    entrypoint = ["/opt/foldline-env/bin/python", "/opt/foldline/download_databases.py",
                  "--preset", preset, "--target", LOCAL_PATH]  # fmt: skip
    if openfold_params:
        entrypoint.append("--openfold-params")
    return {
        "ProcessingJobName": name or f"foldline-databases-{preset.replace('_', '-')}-{stamp}",
        "RoleArn": role_arn,
        "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": entrypoint},
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": instance_type,
                "VolumeSizeInGB": VOLUME_GB[preset],
            }
        },
        "ProcessingOutputConfig": {
            "Outputs": [{
                "OutputName": "databases",
                "S3Output": {"S3Uri": s3_uri.rstrip("/"), "LocalPath": LOCAL_PATH,
                             "S3UploadMode": "EndOfJob"},
            }]
        },  # fmt: skip
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_S},
        "Tags": [{"Key": "foldline:databases", "Value": preset}],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(VOLUME_GB), required=True)
    parser.add_argument("--image-uri", required=True, help="the MsaImageUri build_and_push.sh printed")
    parser.add_argument("--role-arn", required=True)
    parser.add_argument("--s3-uri", required=True)
    parser.add_argument("--instance-type", default="ml.m5.2xlarge")
    parser.add_argument("--openfold-params", action="store_true")
    parser.add_argument("--wait", action="store_true", help="block until the job ends")
    args = parser.parse_args(argv)
    import boto3

    request = job_request(preset=args.preset, image_uri=args.image_uri, role_arn=args.role_arn,
                          s3_uri=args.s3_uri, instance_type=args.instance_type,
                          openfold_params=args.openfold_params)  # fmt: skip
    client = boto3.client("sagemaker")
    arn = client.create_processing_job(**request)["ProcessingJobArn"]
    print(json.dumps({"ProcessingJobName": request["ProcessingJobName"], "ProcessingJobArn": arn}))
    if args.wait:
        client.get_waiter("processing_job_completed_or_stopped").wait(
            ProcessingJobName=request["ProcessingJobName"],
            WaiterConfig={"Delay": 300, "MaxAttempts": MAX_RUNTIME_S // 300 + 1},
        )
        status = client.describe_processing_job(ProcessingJobName=request["ProcessingJobName"])
        print(status["ProcessingJobStatus"], status.get("FailureReason", ""))
        return 0 if status["ProcessingJobStatus"] == "Completed" else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
