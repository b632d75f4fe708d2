"""Where foldline's resources are: a deployed stack's CloudFormation outputs, or the local cloud.

The ``foldline`` command never asks for ARNs. In the cloud it reads the outputs of the
CloudFormation stack (``--stack``, else ``FOLDLINE_STACK``, else ``foldline``) with the
usual AWS profile and region settings. In local mode (``--local``, ``FOLDLINE_LOCAL=1``,
or automatically in a process the local runtime started, which carries its
``AWS_ENDPOINT_URL`` and access key) the same outputs are resolved from ``template.yaml``
the way the local runtime names its resources, at the local cloud's endpoint.

The endpoint of a local cloud running in another terminal (``foldline local serve``) is
found, in order: ``--endpoint-url`` / ``FOLDLINE_ENDPOINT_URL``; the state file
``<workdir>/local-cloud.json`` (:func:`foldline.local.stack.write_local_state`); ``AWS_ENDPOINT_URL`` when it
points at a local cloud.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foldline.local.paths import DEFAULT_WORKDIR, LOCAL_ACCESS_KEY, LOCAL_STATE_FILE  # noqa: F401

# boto3/botocore, Bio.SeqIO (foldline.intake.fasta) and foldline.runs.table are imported where used:
# every `foldline` command imports this module, and those cost ~0.5 s before any work
if TYPE_CHECKING:
    import boto3

    from foldline.intake.fasta import IntakeLimits
    from foldline.intake.spend_limits import SpendLimits
    from foldline.runs.table import RunsTable

DEFAULT_STACK = "foldline"
DEFAULT_LOCAL_WORKDIR = DEFAULT_WORKDIR

# template.yaml's Outputs, by what the command calls them
BUCKET = "BucketName"
RUNS_TABLE = "RunsTableName"
TOPIC = "TopicArn"
PIPELINE = "PipelineName"
START_QUEUE = "StartQueueUrl"
START_DLQ = "StartDeadLetterQueueUrl"
EVENTS_DLQ = "EventsDeadLetterQueueUrl"
FUNCTION_FAILURES = "FunctionFailuresQueueUrl"
# the genetic databases' setup (`foldline setup databases`)
DATABASES_SETUP_ROLE = "DatabasesSetupRoleArn"
DATABASES_IMAGE = "DatabasesImageUri"
DATABASES_S3 = "DatabasesS3Uri"
DATABASES_FILE_SYSTEM = "DatabasesFileSystemId"
REQUIRED_OUTPUTS = (BUCKET, RUNS_TABLE, TOPIC, PIPELINE)
OPTIONAL_OUTPUTS = (
    START_QUEUE,
    START_DLQ,
    EVENTS_DLQ,
    FUNCTION_FAILURES,
    DATABASES_SETUP_ROLE,
    DATABASES_IMAGE,
    DATABASES_S3,
    DATABASES_FILE_SYSTEM,
)

#: stack parameter -> IntakeLimits field: the start function's limits, as deployed
_LIMIT_PARAMETERS = {
    "FoldlineMinLength": "min_length",
    "FoldlineMaxResidues": "max_total_residues",
    "FoldlineMaxChains": "max_chains",
    "FoldlineMaxFastaBytes": "max_bytes",
    "FoldlineMaxScreenSequences": "max_screen_sequences",
}

#: stack parameter -> the start function's variable for foldline.intake.spend_limits
_SPEND_PARAMETERS = {
    "PinnableInstanceFamilies": "FOLDLINE_PINNABLE_INSTANCE_FAMILIES",
    "MaxRunCostUsd": "FOLDLINE_MAX_RUN_COST_USD",
}


class ConfigError(Exception):
    """The stack cannot be used; ``str()`` is one line a person can act on."""

    exit_code = 4


class NoCredentials(ConfigError):
    exit_code = 3


class StackNotFound(ConfigError):
    exit_code = 4


@dataclass(frozen=True)
class StackConfig:
    """The resolved resources and how to reach them."""

    outputs: dict[str, str]
    region: str
    source: str  # where the values came from, for people
    stack_name: str
    profile: str | None = None
    endpoint_url: str | None = None
    local: bool = False
    parameters: dict[str, str] = field(default_factory=dict)  # the stack's parameters
    session: Any = field(default=None, compare=False, repr=False)
    #: how a dead-letter message reaches a function again (foldline.cli.dead_letters):
    #: made from this config; None is Lambda's asynchronous Invoke (the local cloud,
    #: which runs no Lambda service, supplies its own)
    function_invoker: Callable[[StackConfig], Any] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def bucket(self) -> str:
        return self.outputs[BUCKET]

    @property
    def runs_table_name(self) -> str:
        return self.outputs[RUNS_TABLE]

    @property
    def topic_arn(self) -> str:
        return self.outputs[TOPIC]

    @property
    def pipeline_name(self) -> str:
        return self.outputs[PIPELINE]

    def client(self, service: str) -> Any:
        from botocore.config import Config

        config = Config(retries={"max_attempts": 3, "mode": "standard"})
        return self.session.client(service, endpoint_url=self.endpoint_url, config=config)

    def runs(self) -> RunsTable:
        from foldline.runs.table import RunsTable

        return RunsTable(self.runs_table_name, dynamodb=self.client("dynamodb"))

    def intake_limits(self, env: Mapping[str, str] | None = None) -> IntakeLimits:
        """The start function's limits: the stack's parameters where known, else the env."""
        from foldline.intake.fasta import IntakeLimits

        base = IntakeLimits.from_env(dict(os.environ if env is None else env))
        values = {f: getattr(base, f) for f in _LIMIT_PARAMETERS.values()}
        for parameter, name in _LIMIT_PARAMETERS.items():
            if self.parameters.get(parameter, "").strip().isdigit():
                values[name] = int(self.parameters[parameter])
        return IntakeLimits(**values)

    def spend_limits(self, env: Mapping[str, str] | None = None) -> SpendLimits:
        """The start function's bounds on pins and cost: the stack's parameters, else the env."""
        from foldline.intake.spend_limits import FAMILIES_ENV, MAX_COST_ENV, SpendLimits

        values = dict(os.environ if env is None else env)
        for parameter, variable in _SPEND_PARAMETERS.items():
            if parameter in self.parameters:
                values[variable] = self.parameters[parameter]
        return SpendLimits.from_env(
            {k: values[k] for k in (FAMILIES_ENV, MAX_COST_ENV) if k in values}
        )


def inside_local_cloud(env: Mapping[str, str]) -> bool:
    """True in a process the local runtime started (or one that set its environment)."""
    return bool(env.get("AWS_ENDPOINT_URL")) and env.get("AWS_ACCESS_KEY_ID") == LOCAL_ACCESS_KEY


# -- CloudFormation --------------------------------------------------------------------------


def _session(profile: str | None, region: str | None) -> boto3.session.Session:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise NoCredentials(f"AWS profile {profile!r} not found in your AWS config") from None
    if not session.region_name:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION")
    try:
        credentials = session.get_credentials()
    except Exception as err:  # noqa: BLE001 - a broken credential process, SSO token expired ...
        raise NoCredentials(f"AWS credentials could not be loaded: {err}") from None
    if credentials is None:
        raise NoCredentials(
            "no AWS credentials found: run `aws configure` or `aws sso login`, "
            "or pass --profile (or use --local)"
        )
    return session


def describe_stack(cloudformation: Any, stack_name: str) -> dict:
    from botocore.exceptions import ClientError, NoCredentialsError

    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except NoCredentialsError:
        raise NoCredentials(
            "no AWS credentials found: run `aws configure` or pass --profile"
        ) from None
    except ClientError as err:
        error = err.response["Error"]
        if "does not exist" in error.get("Message", ""):
            region = cloudformation.meta.region_name
            raise StackNotFound(
                f"CloudFormation stack {stack_name!r} not found in {region} "
                "(pass --stack/--region, or set FOLDLINE_STACK)"
            ) from None
        if error.get("Code") in (
            "ExpiredToken",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
        ):
            raise NoCredentials(f"AWS refused the credentials: {error.get('Message')}") from None
        raise ConfigError(
            f"cannot read stack {stack_name!r}: {error.get('Code')}: {error.get('Message')}"
        ) from None


def _resolve_cloud(
    stack_name: str, profile: str | None, region: str | None, env: Mapping[str, str]
) -> StackConfig:
    session = _session(profile, region or env.get("AWS_REGION") or None)  # then boto3's own order
    endpoint = env.get("AWS_ENDPOINT_URL") or None  # boto3 honours it; say so in `stack`
    description = describe_stack(session.client("cloudformation"), stack_name)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs") or []}
    missing = [name for name in REQUIRED_OUTPUTS if name not in outputs]
    if missing:
        raise StackNotFound(
            f"stack {stack_name!r} ({description.get('StackStatus')}) has no output "
            f"{', '.join(missing)}: is it a foldline stack, and finished deploying?"
        )
    parameters = {
        p["ParameterKey"]: p.get("ParameterValue", "") for p in description.get("Parameters") or []
    }
    where = f"CloudFormation stack {stack_name!r} in {session.region_name}"
    if profile:
        where += f" (profile {profile})"
    if endpoint:
        where += f" at {endpoint}"
    return StackConfig(
        outputs=outputs,
        region=session.region_name,
        source=where,
        stack_name=stack_name,
        profile=profile,
        endpoint_url=endpoint,
        parameters=parameters,
        session=session,
    )


def resolve(
    *,
    stack: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    local: bool | None = None,
    endpoint_url: str | None = None,
    workdir: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> StackConfig:
    """Find the stack: local when asked (or inside the local runtime), else CloudFormation."""
    env = os.environ if env is None else env
    if local is None:  # an endpoint (--endpoint-url, FOLDLINE_ENDPOINT_URL) is the local cloud's
        local = (
            bool(endpoint_url or env.get("FOLDLINE_ENDPOINT_URL"))
            or env.get("FOLDLINE_LOCAL", "").lower() in ("1", "true", "yes")
            or inside_local_cloud(env)
        )
    if local:
        from foldline.local.stack import resolve_local

        workdir = Path(workdir or env.get("FOLDLINE_WORKDIR") or DEFAULT_LOCAL_WORKDIR)
        return resolve_local(endpoint_url or env.get("FOLDLINE_ENDPOINT_URL"), workdir, env)
    return _resolve_cloud(stack or env.get("FOLDLINE_STACK") or DEFAULT_STACK, profile, region, env)
