"""template.yaml as the tests see it: parsed (short tags in long form) and SAM-transformed offline."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from pipeline import embedded

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
FAKE_ACCOUNT = "123456789012"
FAKE_IMAGE = f"{FAKE_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/foldline/{{}}:1.0"

#: values for the stack parameters without a default (what `sam deploy --guided` asks for)
DEPLOY_PARAMETERS: dict[str, Any] = {
    "MsaImageUri": FAKE_IMAGE.format("msa"),
    "AlphaFoldImageUri": FAKE_IMAGE.format("alphafold"),
    "OpenFoldImageUri": FAKE_IMAGE.format("openfold"),
    "VpcId": "vpc-0123456789abcdef0",
    "SubnetIds": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "SecurityGroupIds": ["sg-0123456789abcdef0"],
}


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return embedded.load_template(TEMPLATE)


def _with_remote_code(template: dict[str, Any]) -> dict[str, Any]:
    """The template as `sam package` would hand it on: code and images already uploaded.

    The translator only accepts s3:// code locations and an ImageUri; `sam build` +
    `sam package` put them there. Everything else stays as written.
    """
    packaged = copy.deepcopy(template)
    for name, resource in packaged["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            if props.get("PackageType") == "Image":
                props["ImageUri"] = FAKE_IMAGE.format(name.lower())
            elif "CodeUri" in props:
                props["CodeUri"] = f"s3://packaged-code/{name}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://packaged-code/{name}.zip"
    return packaged


@pytest.fixture(scope="session")
def transformed(template: dict[str, Any]) -> dict[str, Any]:
    """The template after the AWS::Serverless transform, made offline (no IAM client)."""
    import os

    from samtranslator.internal.managed_policies import get_bundled_managed_policy_map
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    class BundledPolicies(ManagedPolicyLoader):
        def __init__(self) -> None:  # no IAM client: the map shipped with the translator
            self._policy_map = None

        def load(self) -> dict[str, str]:
            return get_bundled_managed_policy_map("aws")

    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result = transform(_with_remote_code(template), dict(DEPLOY_PARAMETERS), BundledPolicies())
    return json.loads(json.dumps(result))  # plain dicts and lists only
