"""The Lambda platform as the template, the build files and the code state it (no Docker).

One runtime (python3.12) everywhere, the Lambda platform defined once
(functions/pip-for-lambda.sh) and repeated only where YAML or a Dockerfile must; locks
that pin every package; SnapStart on the start function as AWS requires it, and nothing
in the start path that a snapshot would break. tests/lambda_build builds and runs it all.
"""

from __future__ import annotations

import random
import re
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from foldline.intake.concurrency import Backoff

ROOT = Path(__file__).resolve().parents[2]
PIP_FOR_LAMBDA = ROOT / "functions" / "pip-for-lambda.sh"
ZIP_FUNCTIONS = {
    "StartPipelineFunction": "start_pipeline",
    "NotifyFunction": "notify",
    "ProgressFunction": "progress",
}
LOCKS = [ROOT / "functions" / d / "requirements.txt" for d in (*ZIP_FUNCTIONS.values(), "analysis")]
LOCKS.append(ROOT / "tests" / "lambda_build" / "runtime-requirements.txt")


def platform_fact(name: str) -> str:
    return subprocess.run(
        [str(PIP_FOR_LAMBDA), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def functions(template) -> dict[str, dict]:
    return {
        name: r
        for name, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def test_one_runtime_for_every_function_the_layer_and_the_analysis_image(template):
    runtime = "python" + platform_fact("python-version")
    assert runtime == "python3.12"
    for name, resource in functions(template).items():
        props = resource["Properties"]
        if props.get("PackageType") == "Image":
            continue
        assert props["Runtime"] == runtime, name
    layer = template["Resources"]["FoldlineLayer"]["Properties"]
    assert layer["CompatibleRuntimes"] == [runtime]
    dockerfile = (ROOT / "functions" / "analysis" / "Dockerfile").read_text()
    (base,) = re.findall(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.MULTILINE)
    assert base == f"public.ecr.aws/lambda/python:{runtime.removeprefix('python')}"
    assert template["Resources"]["AnalysisFunction"]["Metadata"]["DockerTag"].startswith(runtime)


def test_the_zip_functions_and_the_layer_build_with_the_makefile(template):
    makefile = (ROOT / "Makefile").read_text()
    resources = template["Resources"]
    for name, folder in ZIP_FUNCTIONS.items():
        metadata, props = resources[name]["Metadata"], resources[name]["Properties"]
        assert (metadata["BuildMethod"], metadata["ContextPath"]) == ("makefile", ".")
        assert props["CodeUri"] == f"functions/{folder}/"
        assert re.search(rf"^build-\S*{name}\b|^build-.* build-{name}\b", makefile, re.MULTILINE), (
            name
        )
    assert resources["FoldlineLayer"]["Metadata"]["BuildMethod"] == "makefile"
    assert re.search(r"^build-FoldlineLayer:", makefile, re.MULTILINE)
    # every install goes through the platform script, and pip never compiles for its own Python
    dockerfile = (ROOT / "functions" / "analysis" / "Dockerfile").read_text()
    assert "pip-for-lambda.sh install" in dockerfile and "pip-for-lambda.sh compile" in dockerfile
    for text in (makefile, dockerfile):
        for line in re.findall(r"pip install[^\n]*", text.replace("\\\n", " ")):
            assert "--no-compile" in line, line


@pytest.mark.parametrize("lock", LOCKS, ids=lambda p: p.parent.name)
def test_every_lock_pins_every_package_exactly(lock):
    names = []
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement = Requirement(line)
        (spec,) = requirement.specifier
        assert spec.operator == "==" and "*" not in spec.version, line
        names.append(requirement.name.lower().replace("_", "-"))
    assert len(names) == len(set(names)), "a package is pinned twice"
    if lock.parent.name != "lambda_build":  # the runtime brings these; a function must not
        assert not {"boto3", "botocore", "s3transfer"} & set(names), lock


def test_snapstart_on_the_start_function_as_aws_requires_it(template, transformed):
    props = template["Resources"]["StartPipelineFunction"]["Properties"]
    assert props["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    # SnapStart applies to published versions only: every change (code or configuration,
    # such as an intake limit in the environment) must publish one and move the alias
    assert props["AutoPublishAlias"] == "live" and props["AutoPublishAliasAllProperties"] is True
    # what SnapStart does not support: provisioned concurrency, EFS, ephemeral storage > 512 MB
    for unsupported in ("ProvisionedConcurrencyConfig", "FileSystemConfigs"):
        assert unsupported not in props
    assert props.get("EphemeralStorage", {}).get("Size", 512) <= 512

    resources = transformed["Resources"]
    function = resources["StartPipelineFunction"]["Properties"]
    assert function["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    (alias_id,) = [
        n
        for n, r in resources.items()
        if r["Type"] == "AWS::Lambda::Alias"
        and r["Properties"]["FunctionName"] == {"Ref": "StartPipelineFunction"}
    ]
    (mapping,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    # the queue invokes the alias (a published version with its snapshot), not $LATEST
    assert mapping["FunctionName"] == {"Ref": alias_id}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["StartQueue", "Arn"]}


def test_start_path_jitter_is_not_the_same_in_every_restored_environment():
    """SnapStart restores ``random``'s state as it was in the snapshot: every execution
    environment would draw the same sequence. The backoff's jitter must not depend on it."""
    backoff = Backoff(base_s=20, max_s=900)
    random.seed(12345)  # what every environment restored from one snapshot shares
    first = [backoff.delay(6) for _ in range(8)]
    random.seed(12345)
    second = [backoff.delay(6) for _ in range(8)]
    assert first != second
