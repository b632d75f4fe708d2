"""The local mode's fixed names and places: work folder, databases, template, account.

Kept apart from :mod:`foldline.local.runtime` and :mod:`foldline.local.cloud` (which
import moto) so the ``foldline`` command can show option defaults and find a running
local cloud without importing moto.
"""

from __future__ import annotations

from pathlib import Path

#: the work folder of ``foldline local`` (state, jobs, outbox), relative to the cwd
DEFAULT_WORKDIR = Path("foldline-local")
#: the bundled demo databases (AlphaFold's download layout), in a checkout
DEFAULT_DATABASES = Path(__file__).resolve().parents[2] / "examples" / "databases"

ACCOUNT_ID = "123456789012"  # moto's default account
DEFAULT_REGION = "us-east-1"
STACK_NAME = "foldline-local"
#: the access key the local cloud hands every process it starts (how a process knows it
#: runs inside the local cloud)
LOCAL_ACCESS_KEY = "foldline-local"
#: the state file of a running local cloud, in its work folder (its endpoint, region, pid)
LOCAL_STATE_FILE = "local-cloud.json"
#: where template.yaml sits in a checkout (the package is installed editable)
DEFAULT_TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

#: Stack parameters that only a deployment has (images, FSx, VPC) get local stand-ins:
#: the definition carries them, nothing local uses them.
LOCAL_STACK_PARAMETERS: dict[str, str] = {
    "MsaImageUri": f"{ACCOUNT_ID}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com/foldline-msa:local",
    "AlphaFoldImageUri": f"{ACCOUNT_ID}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com/foldline-alphafold:local",
    "OpenFoldImageUri": f"{ACCOUNT_ID}.dkr.ecr.{DEFAULT_REGION}.amazonaws.com/foldline-openfold:local",
    "FsxFileSystemId": "fs-0000000000000000a",
    "FsxMountName": "local",
    "VpcId": "vpc-local",
    "SubnetIds": "subnet-local",
    "SecurityGroupIds": "sg-local",
    # the MSA engine this machine has (AlphaFold if installed, else pyhmmer), resolved
    # alike by the start function and the MSA step: it is part of the MSA cache key
    "MsaEngine": "auto",
}


def route_queue_name(rule_logical_id: str, target_id: str | None = None) -> str:
    """The queue the local cloud puts between a rule and the function it targets (moto's
    EventBridge delivers to SQS only)."""
    return f"{STACK_NAME}-route-{rule_logical_id}" + (f"-{target_id}" if target_id else "")


def async_queue_name(function_logical_id: str) -> str:
    """The queue of a function's other asynchronous invocations: a Lambda on-failure
    destination's records, and re-driven invocations that no rule of it matches."""
    return f"{STACK_NAME}-async-{function_logical_id}"
