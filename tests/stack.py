"""foldline's stack for the tests, made one way: from template.yaml, by the local runtime's
:class:`foldline.local.cloud.StackBuilder`, under moto (in-process or its server).

The names are the template's own (``<stack>-<LogicalId>``, as CloudFormation and the
local runtime make them), the stack parameters the template's defaults with the local
stand-ins for those a deployment supplies, plus whatever a test sets.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from foldline.local.cloud import StackBuilder
from foldline.local.paths import ACCOUNT_ID, DEFAULT_REGION, LOCAL_STACK_PARAMETERS
from foldline.local.template import Stack

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"
TEST_STACK = "foldline-test"
#: moto's in-process SQS writes queue URLs under this endpoint
MOTO_ENDPOINT = f"https://sqs.{DEFAULT_REGION}.amazonaws.com"


def template_stack(
    stack_name: str = TEST_STACK,
    endpoint_url: str = MOTO_ENDPOINT,
    name_suffix: str = "",
    **parameters: Any,
) -> Stack:
    """template.yaml resolved for a stack of this name (no AWS call)."""
    return Stack.from_file(
        TEMPLATE,
        parameter_values={**LOCAL_STACK_PARAMETERS, **parameters},
        region=DEFAULT_REGION,
        account_id=ACCOUNT_ID,
        stack_name=stack_name,
        endpoint_url=endpoint_url,
        name_suffix=name_suffix,
    )


def build_stack(
    stack: Stack, client: Callable[[str], Any] = boto3.client, *, databases_ready: bool = True
) -> Stack:
    """Create the stack's resources (inside ``mock_aws``, or with clients of a moto server);
    ``databases_ready``: as after `foldline setup databases` for both presets."""
    StackBuilder(stack, client).create(databases_ready=databases_ready)
    return stack


def outputs(stack: Stack) -> dict[str, str]:
    """The stack's outputs, as ``describe_stacks`` would give them."""
    return {
        name: str(stack.resolve(spec["Value"]))
        for name, spec in (stack.template.get("Outputs") or {}).items()
        if _resolvable(stack, spec["Value"])
    }


def publish_as_cloudformation(stack: Stack, withhold: tuple[str, ...] = ()) -> dict:
    """A CloudFormation stack in moto that describes ``stack`` as a deployed one would:
    its name, parameters and outputs (moto's CloudFormation cannot make template.yaml's
    resources itself: SAM, SageMaker pipelines, FSx). Its ``describe_stacks`` entry;
    ``withhold``: outputs it lacks (a stack deployed from an earlier template)."""
    import yaml

    parameters = {
        name: ",".join(value) if isinstance(value, list) else str(value)
        for name, value in stack.parameters.items()
    }
    carrier = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {name: {"Type": "String"} for name in parameters},
        "Resources": {"Described": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {
            name: {"Value": value} for name, value in outputs(stack).items() if name not in withhold
        },
    }
    cloudformation = boto3.client("cloudformation")
    with warnings.catch_warnings():  # moto makes no WaitConditionHandle, and says so
        warnings.simplefilter("ignore", UserWarning)
        cloudformation.create_stack(
            StackName=stack.stack_name,
            TemplateBody=yaml.safe_dump(carrier),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
    return cloudformation.describe_stacks(StackName=stack.stack_name)["Stacks"][0]


def _resolvable(stack: Stack, value: Any) -> bool:
    from foldline.local.template import UnresolvableIntrinsic

    try:
        stack.resolve(value)
    except UnresolvableIntrinsic:
        return False
    return True
