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
one receive / send / delete loop (a message is deleted only after it was delivered). A
function is reached the way the stack config says (:attr:`StackConfig.function_invoker`):
Lambda's asynchronous Invoke, or in local mode the queue the local runtime feeds it from
(:class:`foldline.local.stack.RouteQueueInvoker`), since the local cloud runs no Lambda.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from foldline.cli import stack_config
from foldline.cli.stack_config import StackConfig

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
        return (
            self.arn_or_url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
            if self.kind == "queue"
            else self.arn_or_url.split(":function:", 1)[-1]
        )


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
        target = ((message.get("MessageAttributes") or {}).get("TARGET_ARN") or {}).get(
            "StringValue"
        )
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
            raise RedriveError(
                f"message {message['MessageId']} is not a Lambda on-failure record"
            ) from None
        return Destination("function", _function_arn(arn), json.dumps(payload))
    raise ValueError(f"unknown queue {kind!r}; one of {', '.join(QUEUES)}")


class Deliverer:
    """Sends a :class:`Destination`'s body on: to a queue, or to a function."""

    def __init__(self, config: StackConfig):
        self.config = config
        self.sqs = config.client("sqs")
        self._invoke: Callable[[Destination], None] | None = None
        self._urls: dict[str, str] = {}

    def queue_url(self, arn_or_url: str) -> str:
        if arn_or_url.startswith(("http://", "https://")):
            return arn_or_url
        if arn_or_url not in self._urls:
            _, _, _, _, account, name = arn_or_url.split(":", 5)
            self._urls[arn_or_url] = self.sqs.get_queue_url(
                QueueName=name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._urls[arn_or_url]

    def deliver(self, dest: Destination) -> None:
        if dest.kind == "queue":
            kwargs: dict[str, Any] = {
                "QueueUrl": self.queue_url(dest.arn_or_url),
                "MessageBody": dest.body,
            }
            if dest.attributes:
                kwargs["MessageAttributes"] = dest.attributes
            self.sqs.send_message(**kwargs)
        else:
            if self._invoke is None:
                self._invoke = (self.config.function_invoker or LambdaInvoker)(self.config)
            self._invoke(dest)


class LambdaInvoker:
    """Invokes a function asynchronously with the event, as EventBridge would have."""

    def __init__(self, config: StackConfig):
        self.lambda_ = config.client("lambda")

    def __call__(self, dest: Destination) -> None:
        response = self.lambda_.invoke(
            FunctionName=dest.arn_or_url, InvocationType="Event", Payload=dest.body.encode()
        )
        if response.get("StatusCode") not in (200, 202):
            raise RedriveError(f"Lambda answered {response.get('StatusCode')} for {dest.name}")


def redrive(
    config: StackConfig,
    kind: str,
    *,
    dry_run: bool = False,
    on_message: Callable[[Destination | None, str | None], None] | None = None,
) -> RedriveReport:
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
        got = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=_RECEIVE_VISIBILITY_S,
            MessageAttributeNames=["All"],
            AttributeNames=["All"],
        )
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
