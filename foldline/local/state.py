"""What survives a restart of the local cloud: S3 objects and DynamoDB items, on disk.

moto keeps everything in memory. :func:`save` mirrors each bucket's current objects to
``<state>/s3/<bucket>/<key>`` (content type and tags beside them in an index) and each
table's items to ``<state>/dynamodb/<table>.json`` (DynamoDB JSON, so types survive);
:func:`restore` puts them back into a fresh server before the bucket's notifications and
the rules exist, so a restore starts nothing. Pipeline executions do not survive: a run
still Executing when the runtime stopped is marked by :func:`interrupted_runs`' caller.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from foldline.local.cloud import LocalCloud

INDEX = "index.json"


def _bucket_dir(root: Path, bucket: str) -> Path:
    return root / "s3" / bucket


def save(cloud: LocalCloud, root: Path) -> None:
    s3 = cloud.client("s3")
    for bucket in cloud.stack.buckets():
        folder = _bucket_dir(root, bucket.name)
        index_path = folder / INDEX
        old = json.loads(index_path.read_text()) if index_path.is_file() else {}
        index: dict[str, dict[str, Any]] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket.name):
            for obj in page.get("Contents", []):
                key, etag = obj["Key"], obj["ETag"]
                path = folder / "objects" / key
                if old.get(key, {}).get("etag") != etag or not path.is_file():
                    path.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(bucket.name, key, str(path))
                    head = s3.head_object(Bucket=bucket.name, Key=key)
                    tags = s3.get_object_tagging(Bucket=bucket.name, Key=key)["TagSet"]
                    index[key] = {"etag": etag, "content_type": head.get("ContentType"),
                                  "tags": tags}  # fmt: skip
                else:
                    index[key] = old[key]
        for key in set(old) - set(index):  # deleted since the last save
            (folder / "objects" / key).unlink(missing_ok=True)
        folder.mkdir(parents=True, exist_ok=True)
        index_path.write_text(json.dumps(index, indent=1))
    dynamodb = cloud.client("dynamodb")
    for table in cloud.stack.tables():
        items: list[dict] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table.name):
            items.extend(page.get("Items", []))
        path = root / "dynamodb" / f"{table.logical_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(items))


def restore(cloud: LocalCloud, root: Path) -> int:
    """Put saved objects and items back; returns how many things were restored."""
    restored = 0
    s3 = cloud.client("s3")
    for bucket in cloud.stack.buckets():
        folder = _bucket_dir(root, bucket.name)
        index_path = folder / INDEX
        if not index_path.is_file():
            continue
        for key, meta in json.loads(index_path.read_text()).items():
            path = folder / "objects" / key
            if not path.is_file():
                continue
            extra: dict[str, Any] = {}
            if meta.get("content_type"):
                extra["ContentType"] = meta["content_type"]
            if meta.get("tags"):
                extra["Tagging"] = urlencode({t["Key"]: t["Value"] for t in meta["tags"]})
            s3.put_object(Bucket=bucket.name, Key=key, Body=path.read_bytes(), **extra)
            restored += 1
    dynamodb = cloud.client("dynamodb")
    for table in cloud.stack.tables():
        path = root / "dynamodb" / f"{table.logical_id}.json"
        if path.is_file():
            for item in json.loads(path.read_text()):
                dynamodb.put_item(TableName=table.name, Item=item)
                restored += 1
    return restored


def save_executions(cloud: LocalCloud, folder: Path) -> None:
    """Each execution as the SageMaker API describes it, with its parameters and steps.

    moto forgets executions when it stops; this record (``<id>.json``) is what is left
    of them, for people and tests to read.
    """
    sagemaker = cloud.client("sagemaker")
    for pipeline in cloud.stack.pipelines():
        summaries = sagemaker.list_pipeline_executions(PipelineName=pipeline.name)
        for summary in summaries["PipelineExecutionSummaries"]:
            arn = summary["PipelineExecutionArn"]
            record = {
                "execution": sagemaker.describe_pipeline_execution(PipelineExecutionArn=arn),
                "parameters": sagemaker.list_pipeline_parameters_for_execution(
                    PipelineExecutionArn=arn)["PipelineParameters"],
                "steps": sagemaker.list_pipeline_execution_steps(
                    PipelineExecutionArn=arn, SortOrder="Ascending")["PipelineExecutionSteps"],
            }  # fmt: skip
            for key in ("ResponseMetadata",):
                record["execution"].pop(key, None)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{arn.rsplit('/', 1)[-1]}.json").write_text(
                json.dumps(record, indent=1, default=str)
            )
