"""The local cloud as the ``foldline`` command sees it: its endpoint, its stack's outputs.

:func:`resolve_local` is what :func:`foldline.cli.stack_config.resolve` calls in local
mode: the same outputs a deployed stack has, resolved from ``template.yaml`` the way the
local runtime names its resources, at the local cloud's endpoint. Since the local cloud
runs no Lambda service, a re-driven function event goes to the queue the local runtime
feeds that function from (:class:`RouteQueueInvoker`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from foldline.cli.stack_config import (
    OPTIONAL_OUTPUTS,
    REQUIRED_OUTPUTS,
    StackConfig,
    StackNotFound,
)
from foldline.local.paths import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_TEMPLATE,
    LOCAL_ACCESS_KEY,
    LOCAL_STACK_PARAMETERS,
    LOCAL_STATE_FILE,
    STACK_NAME,
    async_queue_name,
    route_queue_name,
)

if TYPE_CHECKING:
    from foldline.cli.dead_letters import Destination
    from foldline.local.template import Stack


def local_stack(region: str = DEFAULT_REGION, endpoint_url: str = "") -> Stack:
    """template.yaml as the local runtime deploys it (its stack name, account, stand-ins)."""
    from foldline.local.template import Stack

    return Stack.from_file(
        DEFAULT_TEMPLATE,
        parameter_values=dict(LOCAL_STACK_PARAMETERS),
        region=region,
        account_id=ACCOUNT_ID,
        stack_name=STACK_NAME,
        endpoint_url=endpoint_url,
    )


def write_local_state(workdir: Path, endpoint_url: str, region: str) -> Path:
    """Record a running local cloud's endpoint, for ``foldline`` commands in other shells.

    Meant for the local runtime to call when its server starts (and
    :func:`clear_local_state` when it stops).
    """
    path = Path(workdir) / LOCAL_STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"endpoint_url": endpoint_url, "region": region, "pid": os.getpid()})
    )
    return path


def clear_local_state(workdir: Path) -> None:
    (Path(workdir) / LOCAL_STATE_FILE).unlink(missing_ok=True)


def _local_endpoint(
    endpoint_url: str | None, workdir: Path, env: Mapping[str, str]
) -> tuple[str, str, str]:
    """(endpoint, region, where it came from) of the local cloud."""
    if endpoint_url:
        return endpoint_url, DEFAULT_REGION, "--endpoint-url"
    state = workdir / LOCAL_STATE_FILE
    if state.is_file():
        try:
            saved = json.loads(state.read_text())
            return saved["endpoint_url"], saved.get("region") or DEFAULT_REGION, str(state)
        except (ValueError, KeyError):
            raise StackNotFound(f"{state} is not a local-cloud state file") from None
    if env.get("AWS_ENDPOINT_URL"):
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
        return env["AWS_ENDPOINT_URL"], region, "AWS_ENDPOINT_URL"
    raise StackNotFound(
        f"no local cloud found for work folder {workdir}: start `foldline local serve` "
        "or pass --endpoint-url"
    )


def resolve_local(endpoint_url: str | None, workdir: Path, env: Mapping[str, str]) -> StackConfig:
    """The local stack's outputs, resolved from template.yaml as the local runtime names
    its resources (same stack name, account and stand-in parameters)."""
    import boto3

    from foldline.local.template import UnresolvableIntrinsic

    endpoint, region, where = _local_endpoint(endpoint_url, workdir, env)
    stack = local_stack(region, endpoint)
    outputs: dict[str, str] = {}
    for name in (*REQUIRED_OUTPUTS, *OPTIONAL_OUTPUTS):
        spec = (stack.template.get("Outputs") or {}).get(name)
        if spec is None:
            continue
        try:
            outputs[name] = str(stack.resolve(spec["Value"]))
        except UnresolvableIntrinsic:
            continue
    session = boto3.session.Session(
        aws_access_key_id=LOCAL_ACCESS_KEY,
        aws_secret_access_key=LOCAL_ACCESS_KEY,
        region_name=region,
    )
    parameters = {k: str(v) for k, v in stack.parameters.items() if not isinstance(v, list)}
    return StackConfig(
        outputs=outputs,
        region=region,
        stack_name=STACK_NAME,
        endpoint_url=endpoint,
        local=True,
        parameters=parameters,
        session=session,
        function_invoker=RouteQueueInvoker,
        source=f"local cloud at {endpoint} (endpoint from {where}; names from {DEFAULT_TEMPLATE.name})",
    )


class RouteQueueInvoker:
    """Delivers a function's event to the local runtime's queue for the rule that matches it."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.sqs = config.client("sqs")

    def __call__(self, dest: Destination) -> None:
        self.sqs.send_message(QueueUrl=self.route(dest), MessageBody=dest.body)

    def route(self, dest: Destination) -> str:
        """The queue of the rule of this function that matches the event."""
        from moto.events.models import EventPattern

        from foldline.cli.dead_letters import RedriveError

        stack = local_stack(self.config.region, self.config.endpoint_url or "")
        function = next((f for f in stack.functions() if f.arn == dest.arn_or_url), None)
        if function is None:
            raise RedriveError(f"no function {dest.arn_or_url} in the local stack")
        event = json.loads(dest.body)
        for rule in stack.rules():
            if rule.function == function.logical_id and EventPattern.load(
                json.dumps(rule.pattern)
            ).matches_event(event):
                name = route_queue_name(rule.logical_id)
                return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        try:  # an on-failure destination's record: the function's own asynchronous queue
            name = async_queue_name(function.logical_id)
            return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except Exception:  # noqa: BLE001 - no such queue: say what was looked for
            raise RedriveError(
                f"no rule of {function.logical_id} matches the event any more, "
                f"and it takes no other asynchronous invocations"
            ) from None
