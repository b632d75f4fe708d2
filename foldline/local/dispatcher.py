"""The dispatcher: polls each route's queue and invokes its function, as Lambda's pollers do.

- SQS event sources (``kind="sqs"``): batches of up to the event's BatchSize, in
  Lambda's SQS event shape; with ReportBatchItemFailures only the reported messages go
  back to the queue, otherwise a failed invocation returns the whole batch. A message
  that comes back is visible again after ``retry_delay`` seconds (Lambda waits for the
  queue's visibility timeout; locally that would only slow the rehearsal down), and the
  queue's own redrive policy (maxReceiveCount -> dead-letter queue) applies as in AWS.
- EventBridge targets (``kind="eventbridge"``): EventBridge invokes the function
  asynchronously, one event per invocation; a failed invocation is retried up to the
  function's EventInvokeConfig MaximumRetryAttempts (Lambda's default: 2), then sent to
  its on-failure destination (or DeadLetterQueue) in Lambda's destination record
  format, or dropped. A function that is an on-failure destination gets the record on a
  queue of its own, so it is retried and, failing that, sent on to its own destination
  (the notify function's: FunctionFailuresQueue), as Lambda does.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from foldline.local.cloud import LocalCloud, Route, queued_messages
from foldline.local.lambda_runtime import Invocation, LocalFunction

log = logging.getLogger("foldline.local.dispatcher")


@dataclass
class Dispatcher:
    cloud: LocalCloud
    log_dir: Path
    retry_delay: int = 1
    on_invocation: Callable[[Invocation, Route], None] | None = None
    invocations: list[Invocation] = field(default_factory=list)
    #: set in every function's environment besides the template's (the work folder)
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._sqs = self.cloud.client("sqs")
        self._functions: dict[str, LocalFunction] = {}
        self._lock = threading.Lock()
        self._in_flight = 0

    def function(self, route: Route) -> LocalFunction:
        key = route.function.logical_id
        with self._lock:
            if key not in self._functions:
                self._functions[key] = LocalFunction(route.function, self.log_dir, self.env)
            return self._functions[key]

    def close(self) -> None:
        """End every function's execution environment."""
        with self._lock:
            functions = list(self._functions.values())
        for function in functions:
            function.close()

    # -- polling -------------------------------------------------------------------------

    def pollers(self) -> list[tuple[str, Callable[[], int]]]:
        """One poller per route (with the route's name), each for a thread of its own:
        functions run side by side, as Lambda's pollers invoke them."""
        return [
            (f"{route.source} -> {route.function.logical_id}",
             functools.partial(self._poll_route, route))
            for route in self.cloud.routes
        ]  # fmt: skip

    def _receive(self, route: Route, count: int) -> list[dict]:
        response = self._sqs.receive_message(
            QueueUrl=route.queue_url,
            MaxNumberOfMessages=min(max(count, 1), 10),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _poll_route(self, route: Route) -> int:
        messages = self._receive(route, route.batch_size if route.kind == "sqs" else 10)
        if not messages:
            return 0
        with self._lock:
            self._in_flight += 1
        try:
            if route.kind == "sqs":
                self._deliver_batch(route, messages)
            else:
                for message in messages:
                    self._deliver_event(route, message)
        finally:
            with self._lock:
                self._in_flight -= 1
        return len(messages)

    @property
    def busy(self) -> bool:
        """A route is delivering what it received."""
        return self._in_flight > 0

    def _record(self, invocation: Invocation, route: Route) -> None:
        with self._lock:
            self.invocations.append(invocation)
        if invocation.error:
            log.warning("%s failed: %s", route.function.logical_id, invocation.error)
        if self.on_invocation is not None:
            self.on_invocation(invocation, route)

    # -- SQS event sources -------------------------------------------------------------------

    def _sqs_event(self, route: Route, messages: list[dict]) -> dict:
        records = []
        for m in messages:
            records.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {
                        k: {
                            "stringValue": v.get("StringValue"),
                            "binaryValue": v.get("BinaryValue"),
                            "stringListValues": [],
                            "binaryListValues": [],
                            "dataType": v["DataType"],
                        }
                        for k, v in (m.get("MessageAttributes") or {}).items()
                    },
                    "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": route.queue_arn,
                    "awsRegion": self.cloud.region,
                }
            )
        return {"Records": records}

    def _deliver_batch(self, route: Route, messages: list[dict]) -> None:
        invocation = self.function(route).invoke(self._sqs_event(route, messages), route.source)
        self._record(invocation, route)
        if invocation.error:
            failed = {m["MessageId"] for m in messages}
        elif route.report_batch_item_failures and isinstance(invocation.result, dict):
            failed = {f["itemIdentifier"] for f in invocation.result.get("batchItemFailures") or []}
        else:
            failed = set()
        for message in messages:
            if message["MessageId"] in failed:
                self._sqs.change_message_visibility(
                    QueueUrl=route.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay,
                )
            else:
                self._sqs.delete_message(
                    QueueUrl=route.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )

    # -- EventBridge targets -------------------------------------------------------------------

    def _deliver_event(self, route: Route, message: dict) -> None:
        event = json.loads(message["Body"])
        invocation = self.function(route).invoke(event, route.source)
        self._record(invocation, route)
        if invocation.error:
            attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
            if attempts <= route.max_retries:
                self._sqs.change_message_visibility(
                    QueueUrl=route.queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self.retry_delay,
                )
                return
            record = _failure_record(route, event, invocation, attempts)
            if route.dead_letter_url:
                self._sqs.send_message(
                    QueueUrl=route.dead_letter_url, MessageBody=json.dumps(record)
                )
            elif route.failure_function is not None:  # a Lambda on-failure destination:
                # invoked asynchronously, with its own retries and on-failure destination
                self._sqs.send_message(
                    QueueUrl=self._async_queue(route.failure_function),
                    MessageBody=json.dumps(record),
                )
        self._sqs.delete_message(QueueUrl=route.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _async_queue(self, function) -> str:
        route = next(
            r
            for r in self.cloud.routes
            if r.function.logical_id == function.logical_id
            and r.rule is None
            and r.kind == "eventbridge"
        )
        return route.queue_url

    # -- idleness --------------------------------------------------------------------------

    def pending(self) -> int:
        """Messages waiting, in flight or delayed on every route's queue.

        Delayed ones count too: an upload the concurrency gate deferred is re-sent with a
        delay, and the run is not stalled while it waits.
        """
        return queued_messages(self._sqs, (route.queue_url for route in self.cloud.routes))


def _failure_record(route: Route, event: dict, invocation: Invocation, attempts: int) -> dict:
    """What Lambda sends to an on-failure destination when retries are exhausted."""
    error_type, _, message = (invocation.error or "Error: ").partition(": ")
    return {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": invocation.request_id,
            "functionArn": f"{route.function.arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": message, "errorType": error_type},
    }


class Pump:
    """One background thread calling ``poll`` (which returns how much it handled) until
    stopped, pausing while there is nothing to handle."""

    def __init__(self, poll: Callable[[], int], name: str, idle_sleep: float = 0.2):
        self.poll = poll
        self.idle_sleep = idle_sleep
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"foldline-local {name}", daemon=True
        )
        self.errors: list[str] = []

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            handled = 0
            try:
                handled = self.poll()
            except Exception as err:
                if not self._stop.is_set():
                    self.errors.append(f"{type(err).__name__}: {err}")
                    log.exception("local runtime poller failed")
            if not handled:
                self._stop.wait(self.idle_sleep)

    def request_stop(self) -> None:
        """Stop after the current poll (:meth:`stop` waits for it)."""
        self._stop.set()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
