"""Re-drive dead-letter messages to where they were going.

Three queues collect what could not be handled (template.yaml):

- ``start``: StartDeadLetterQueue, upload events the start function failed on every try
  -> back to StartQueue.
- ``events``: EventsDeadLetterQueue, events EventBridge could not deliver; each message
  names its target in the ``TARGET_ARN`` attribute -> that queue, or that function
  (invoked asynchronously, as EventBridge would).
- ``functions``: FunctionFailuresQueue, Lambda's on-failure records of asynchronous
  invocations that failed every retry -> ``requestPayload`` to ``requestContext.functionArn``.

SQS's StartMessageMoveTask would do the first; moto does not implement it, so all three use
one receive / send / delete loop (a message is deleted only after it was delivered). In
local mode a function is reached through the queue the local runtime feeds it from,
since the local cloud runs no Lambda service.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from foldline import stack_config
from foldline.stack_config import StackConfig

QUEUES = {
    "start": stack_config.START_DLQ,
    "events": stack_config.EVENTS_DLQ,
    "functions": stack_config.FUNCTION_FAILURES,
}
_RECEIVE_VISIBILITY_S = 120  # long enough to deliver a batch; a failed one comes back after


class RedriveError(Exception):
    """A message whose destination cannot be found or reached."""


@dataclass
class RedriveReport:
    queue: str
    queue_url: str
    dry_run: bool
    found: int = 0
    moved: int = 0
    failed: int = 0
    destinations: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Destination:
    kind: str  # "queue" or "function"
    arn_or_url: str
    body: str
    attributes: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.arn_or_url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1] if self.kind == "queue" \
            else self.arn_or_url.split(":function:", 1)[-1]


def _function_arn(arn: str) -> str:
    """Without a version qualifier (``...:function:name:$LATEST`` -> ``...:function:name``)."""
    head, sep, rest = arn.partition(":function:")
    return head + sep + rest.split(":", 1)[0] if sep else arn


def destination(kind: str, message: dict, config: StackConfig) -> Destination:
    """Where one dead-letter message goes back to."""
    body = message["Body"]
    if kind == "start":
        start_queue = config.outputs.get(stack_config.START_QUEUE)
        if not start_queue:
            raise RedriveError("the stack has no StartQueueUrl output")
        return Destination("queue", start_queue, body, message.get("MessageAttributes") or {})
    if kind == "events":
        target = ((message.get("MessageAttributes") or {}).get("TARGET_ARN") or {}).get("StringValue")
        if not target:
            raise RedriveError(f"message {message['MessageId']} has no TARGET_ARN attribute")
        if ":sqs:" in target:
            return Destination("queue", target, body)
        if ":lambda:" in target:
            return Destination("function", _function_arn(target), body)
        raise RedriveError(f"message {message['MessageId']}: cannot re-drive to {target}")
    if kind == "functions":
        try:
            record = json.loads(body)
            arn = record["requestContext"]["functionArn"]
            payload = record["requestPayload"]
        except (ValueError, KeyError, TypeError):
            raise RedriveError(f"message {message['MessageId']} is not a Lambda on-failure record") from None
        return Destination("function", _function_arn(arn), json.dumps(payload))
    raise ValueError(f"unknown queue {kind!r}; one of {', '.join(QUEUES)}")


class Deliverer:
    """Sends a :class:`Destination`'s body on: SQS, Lambda, or (local) a function's route queue."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.sqs = config.client("sqs")
        self._lambda: Any = None
        self._urls: dict[str, str] = {}

    def queue_url(self, arn_or_url: str) -> str:
        if arn_or_url.startswith(("http://", "https://")):
            return arn_or_url
        if arn_or_url not in self._urls:
            _, _, _, _, account, name = arn_or_url.split(":", 5)
            self._urls[arn_or_url] = self.sqs.get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]  # fmt: skip
        return self._urls[arn_or_url]

    def deliver(self, dest: Destination) -> None:
        if dest.kind == "queue":
            kwargs: dict[str, Any] = {"QueueUrl": self.queue_url(dest.arn_or_url), "MessageBody": dest.body}
            if dest.attributes:
                kwargs["MessageAttributes"] = dest.attributes
            self.sqs.send_message(**kwargs)
        elif self.config.local:
            self.sqs.send_message(QueueUrl=self.local_route(dest), MessageBody=dest.body)
        else:
            if self._lambda is None:
                self._lambda = self.config.client("lambda")
            response = self._lambda.invoke(FunctionName=dest.arn_or_url, InvocationType="Event",
                                           Payload=dest.body.encode())  # fmt: skip
            if response.get("StatusCode") not in (200, 202):
                raise RedriveError(f"Lambda answered {response.get('StatusCode')} for {dest.name}")

    def local_route(self, dest: Destination) -> str:
        """The local runtime's queue for the rule of this function that matches the event."""
        from moto.events.models import EventPattern

        from foldline.local.paths import (
            ACCOUNT_ID,
            DEFAULT_TEMPLATE,
            LOCAL_STACK_PARAMETERS,
            STACK_NAME,
            async_queue_name,
            route_queue_name,
        )
        from foldline.local.template import Stack

        stack = Stack.from_file(DEFAULT_TEMPLATE, parameter_values=dict(LOCAL_STACK_PARAMETERS),
                                region=self.config.region, account_id=ACCOUNT_ID,
                                stack_name=STACK_NAME, endpoint_url=self.config.endpoint_url or "")  # fmt: skip
        function = next((f for f in stack.functions() if f.arn == dest.arn_or_url), None)
        if function is None:
            raise RedriveError(f"no function {dest.arn_or_url} in the local stack")
        event = json.loads(dest.body)
        for rule in stack.rules():
            if rule.function == function.logical_id and EventPattern.load(
                json.dumps(rule.pattern)
            ).matches_event(event):
                return self.queue_url_by_name(route_queue_name(rule.logical_id))
        try:  # an on-failure destination's record: the function's own asynchronous queue
            return self.queue_url_by_name(async_queue_name(function.logical_id))
        except Exception:  # noqa: BLE001 - no such queue: say what was looked for
            raise RedriveError(f"no rule of {function.logical_id} matches the event any more, "
                               f"and it takes no other asynchronous invocations") from None

    def queue_url_by_name(self, name: str) -> str:
        return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]


def redrive(config: StackConfig, kind: str, *, dry_run: bool = False,
            on_message: Callable[[Destination | None, str | None], None] | None = None) -> RedriveReport:  # fmt: skip
    """Move every message of one dead-letter queue back; count what happened."""
    output = QUEUES[kind]
    url = config.outputs.get(output)
    if not url:
        raise RedriveError(f"the stack has no {output} output")
    report = RedriveReport(kind, url, dry_run)
    deliverer = Deliverer(config)
    sqs = deliverer.sqs
    kept: list[str] = []  # receipt handles to make visible again (dry run, failures)
    seen: set[str] = set()
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=_RECEIVE_VISIBILITY_S,
                                  MessageAttributeNames=["All"], AttributeNames=["All"])  # fmt: skip
        messages = [m for m in got.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            break
        for message in messages:
            seen.add(message["MessageId"])
            report.found += 1
            try:
                dest = destination(kind, message, config)
                report.destinations[dest.name] += 1
                if not dry_run:
                    deliverer.deliver(dest)
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    report.moved += 1
                else:
                    kept.append(message["ReceiptHandle"])
                if on_message:
                    on_message(dest, None)
            except Exception as err:  # noqa: BLE001 - one bad message must not stop the rest
                report.failed += 1
                problem = f"{message['MessageId']}: {err}"
                report.problems.append(problem)
                kept.append(message["ReceiptHandle"])
                if on_message:
                    on_message(None, problem)
    for handle in kept:  # back on the queue at once, not after the visibility timeout
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return report
