"""The local cloud: moto's server on 127.0.0.1, with the stack's resources from template.yaml.

Every component — the runtime, the handlers it invokes, the step programs it starts —
reaches the server through boto3 and ``AWS_ENDPOINT_URL``; none asks "am I local?".

Resources are created from the template itself (:class:`~foldline.local.template.Stack`):
tables, bucket(s) (EventBridge notifications switched on last, after any restored
objects are back, so a restore starts nothing), queues with their redrive policies,
topics, the pipeline from its embedded definition, and the EventBridge rules with the
template's own patterns. moto's EventBridge can only deliver to SQS, so each rule whose
target is a Lambda function (SAM ``EventBridgeRule`` events, explicit Lambda targets)
gets a queue made by the runtime; :class:`Route` records which function it feeds.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from foldline.local import moto_sagemaker
from foldline.local.paths import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    DEFAULT_TEMPLATE,
    LOCAL_ACCESS_KEY,
    LOCAL_STACK_PARAMETERS,
    STACK_NAME,
    async_queue_name,
    route_queue_name,
)
from foldline.local.template import Function, Rule, Stack

log = logging.getLogger("foldline.local")

#: connections per shared client: the executor's step threads, the dispatcher, the outbox
SHARED_CLIENT_POOL = 64

#: default Lambda async retries when an EventBridgeRule event has no RetryPolicy
DEFAULT_EVENT_RETRIES = 2


@dataclass(frozen=True)
class Route:
    """A queue whose messages the dispatcher hands to one function.

    ``kind`` is ``"sqs"`` for a SAM SQS event source (the template's own queue: batches,
    partial-batch failures, the queue's redrive policy) or ``"eventbridge"`` for a rule
    that targets the function (one event per invocation, the rule's RetryPolicy and
    DeadLetterConfig).
    """

    function: Function
    kind: str
    queue_url: str
    queue_arn: str
    source: str  # the template's name for it: "<Function>.<Event>" or the rule's logical id
    batch_size: int = 1
    report_batch_item_failures: bool = False
    max_retries: int = DEFAULT_EVENT_RETRIES  # async retries after the first attempt
    dead_letter_url: str | None = None  # the on-failure destination queue
    failure_function: Function | None = None  # or the on-failure destination function
    rule: Rule | None = None


def queued_messages(sqs: Any, queue_urls: Iterable[str]) -> int:
    """Messages waiting, in flight or delayed on these queues (SQS's approximate counts)."""
    counts = (
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    )
    total = 0
    for url in queue_urls:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(counts))
        total += sum(int(attrs["Attributes"][name]) for name in counts)
    return total


@dataclass
class LocalCloud:
    """moto's server plus the stack's resources, created from template.yaml."""

    template_path: Path = DEFAULT_TEMPLATE
    parameter_values: dict[str, Any] = field(default_factory=dict)
    region: str = DEFAULT_REGION

    def __post_init__(self) -> None:
        self.template_path = Path(self.template_path)
        self.server = None
        self.endpoint_url = ""
        self.stack: Stack | None = None
        self.routes: list[Route] = []
        self._saved_env: dict[str, str | None] = {}
        self._session: boto3.session.Session | None = None
        self._clients: dict[tuple, Any] = {}
        self._clients_lock = threading.Lock()

    # -- server and environment ----------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """What every component needs to reach the local cloud."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_ACCESS_KEY,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        if not os.environ.get("FOLDLINE_LOCAL_VERBOSE"):
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
        moto_sagemaker.install()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.endpoint_url = f"http://{host}:{port}"
        # The session token and profile of a real account must not leak into local calls.
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SECURITY_TOKEN"):
            self._saved_env[name] = os.environ.pop(name, None)
        for name, value in self.env.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        self.stack = Stack.from_file(
            self.template_path,
            parameter_values={**LOCAL_STACK_PARAMETERS, **self.parameter_values},
            region=self.region,
            account_id=ACCOUNT_ID,
            stack_name=STACK_NAME,
            endpoint_url=self.endpoint_url,
        )

    def stop(self) -> None:
        if self.server is not None:
            try:
                import urllib.request

                # moto's backends are process-global: leave nothing for the next server
                urllib.request.urlopen(
                    urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST"),
                    timeout=5,
                ).read()
            except OSError:
                pass
            self.server.stop()
            self.server = None
            moto_sagemaker.uninstall()
        with self._clients_lock:
            self._clients.clear()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()

    def session(self) -> boto3.session.Session:
        """A fresh session (boto3's default session is not safe to share across threads)."""
        return boto3.session.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=self.region,
        )

    def client(self, service: str, **kwargs: Any) -> Any:
        """A client of the local cloud, made once per service and options, then shared.

        boto3 clients are thread safe; making one loads its service model from JSON
        (0.1-0.4 s), which a display refreshing twice a second, or a thread per step,
        would otherwise pay again and again on the cores the step jobs need. Its
        connection pool is sized for every thread of the local runtime at once.
        """
        key = (service, self.endpoint_url, tuple(sorted(kwargs.items())))
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                if self._session is None:  # a Session is not thread safe: used under the lock
                    self._session = self.session()
                config = Config(
                    retries={"max_attempts": 2, "mode": "standard"},
                    max_pool_connections=SHARED_CLIENT_POOL,
                )
                client = self._session.client(
                    service, endpoint_url=self.endpoint_url, config=config, **kwargs
                )
                self._clients[key] = client
            return client

    # -- resources -----------------------------------------------------------------------

    def create_resources(self, restore: Callable[[LocalCloud], None] | None = None) -> None:
        """Create the template's resources; ``restore`` runs before anything can fire."""
        assert self.stack is not None, "start() first"
        builder = StackBuilder(self.stack, self.client)
        builder.create_storage_and_queues()
        if restore is not None:
            restore(self)
        builder.enable_bucket_notifications()
        self.routes = self._create_rules_and_routes()

    # -- routing -------------------------------------------------------------------------

    def _route_queue(self, name: str) -> tuple[str, str]:
        """A queue made by the runtime (not in the template): its URL and ARN."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return url, arn["Attributes"]["QueueArn"]

    def _queue_url(self, arn: str) -> str:
        return self.client("sqs").get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]

    def _async_route(
        self, function: Function, url: str, arn: str, source: str, rule: Rule | None
    ) -> Route:
        """EventBridge invokes a function asynchronously: a failed invocation is retried
        per the function's EventInvokeConfig, then sent to its on-failure destination (or
        DeadLetterQueue). The rule's own RetryPolicy/DeadLetterConfig cover failures to
        deliver the event, which cannot happen locally (the queue always accepts it)."""
        dead_letter_url = failure_function = None
        if function.on_failure_type == "SQS":
            dead_letter_url = self._queue_url(function.on_failure_arn)
        elif function.on_failure_type == "Lambda":
            failure_function = next(
                f for f in self.stack.functions() if f.arn == function.on_failure_arn
            )
        elif function.on_failure_arn:
            log.warning(
                "%s: on-failure destination %s is not delivered locally",
                function.logical_id,
                function.on_failure_arn,
            )
        return Route(
            function=function,
            kind="eventbridge",
            queue_url=url,
            queue_arn=arn,
            source=source,
            max_retries=function.max_async_retries,
            dead_letter_url=dead_letter_url,
            failure_function=failure_function,
            rule=rule,
        )

    def _create_rules_and_routes(self) -> list[Route]:
        events = self.client("events")
        functions = {f.arn: f for f in self.stack.functions()}
        by_id = {f.logical_id: f for f in self.stack.functions()}
        routes: list[Route] = []
        buses = {"default"}
        for rule in self.stack.rules():
            if rule.event_bus not in buses:
                events.create_event_bus(Name=rule.event_bus)
                buses.add(rule.event_bus)
            events.put_rule(
                Name=rule.name,
                EventPattern=json.dumps(rule.pattern),
                EventBusName=rule.event_bus,
                State=rule.state,
            )
            targets = []
            if rule.function is not None:  # SAM EventBridgeRule event
                function = by_id[rule.function]
                url, arn = self._route_queue(route_queue_name(rule.logical_id))
                targets.append({"Id": f"{rule.function}Target", "Arn": arn})
                event_name = rule.logical_id[len(function.logical_id) :]
                routes.append(
                    self._async_route(
                        function, url, arn, f"{function.logical_id}.{event_name}", rule
                    )
                )
            for target in rule.targets:
                target = dict(target)
                function = functions.get(target["Arn"])
                if function is not None:  # a Lambda target: give it a queue
                    url, arn = self._route_queue(route_queue_name(rule.logical_id, target["Id"]))
                    routes.append(self._async_route(function, url, arn, rule.logical_id, rule))
                    target["Arn"] = arn
                elif ":sqs:" not in target["Arn"]:
                    log.warning(
                        "rule %s: target %s cannot be delivered locally",
                        rule.logical_id,
                        target["Arn"],
                    )
                    continue
                # moto delivers to SQS; the dead-letter/retry settings are the dispatcher's
                target.pop("DeadLetterConfig", None)
                target.pop("RetryPolicy", None)
                targets.append(target)
            if targets:
                events.put_targets(Rule=rule.name, EventBusName=rule.event_bus, Targets=targets)
        # A Lambda on-failure destination is invoked asynchronously too: its own queue, so
        # it gets its own retries and, failing those, its own on-failure destination
        destinations = {
            f.on_failure_arn for f in self.stack.functions() if f.on_failure_type == "Lambda"
        }
        for function in self.stack.functions():
            if function.arn in destinations:
                url, arn = self._route_queue(async_queue_name(function.logical_id))
                routes.append(
                    self._async_route(function, url, arn, f"{function.logical_id}.Async", None)
                )
        for function in self.stack.functions():
            for event in function.events:
                if event.type != "SQS":
                    continue
                p = event.properties
                queue = self.stack.queue_by_arn(p["Queue"])
                routes.append(
                    Route(
                        function=function,
                        kind="sqs",
                        queue_url=self._queue_url(queue.arn),
                        queue_arn=queue.arn,
                        source=f"{function.logical_id}.{event.name}",
                        batch_size=int(p.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (p.get("FunctionResponseTypes") or ()),
                    )
                )
        return routes

    # -- lookups used by the runtime and tests ----------------------------------------------

    def bucket_name(self) -> str:
        buckets = self.stack.buckets()
        if len(buckets) != 1:
            raise RuntimeError(f"expected one bucket in the template, found {len(buckets)}")
        return buckets[0].name


@dataclass
class StackBuilder:
    """Creates a :class:`Stack`'s resources (those the runtime needs: tables, buckets, queues,
    topics, pipelines) through boto3 clients: the local cloud's, or, in the tests, moto's
    in-process mock. One way to make foldline's stack from template.yaml, for both."""

    stack: Stack
    #: service name -> a boto3 client (``boto3.client`` under moto's mock_aws)
    client: Callable[[str], Any]

    def create_storage_and_queues(self, databases_ready: bool = True) -> None:
        """Everything but the bucket notifications (they make events: enable them last).

        ``databases_ready``: record both presets' databases as set up (the local cloud's
        database folder stands in for them); a freshly deployed stack has none."""
        self.create_tables()
        self.create_buckets()
        if databases_ready:
            self.record_databases_ready()
        self.create_queues()
        self.create_topics()
        self.create_pipelines()

    def create(self, databases_ready: bool = True) -> None:
        self.create_storage_and_queues(databases_ready)
        self.enable_bucket_notifications()

    def create_tables(self) -> None:
        dynamodb = self.client("dynamodb")
        for table in self.stack.tables():
            props = table.properties
            kwargs: dict[str, Any] = {
                "TableName": table.name,
                "KeySchema": table.key_schema,
                "AttributeDefinitions": table.attribute_definitions,
                "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
            }
            if kwargs["BillingMode"] == "PROVISIONED":
                kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
            for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if props.get(index_kind):
                    kwargs[index_kind] = props[index_kind]
            dynamodb.create_table(**kwargs)
            if table.ttl_attribute:
                dynamodb.update_time_to_live(
                    TableName=table.name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
                )

    def create_buckets(self) -> None:
        s3 = self.client("s3")
        for bucket in self.stack.buckets():
            s3.create_bucket(Bucket=bucket.name)
            if bucket.versioned:
                s3.put_bucket_versioning(
                    Bucket=bucket.name, VersioningConfiguration={"Status": "Enabled"}
                )

    def record_databases_ready(self) -> None:
        """The setup's last write, for the local database folder (it stands in for the
        stack's file system): the start function admits runs of either preset."""
        from foldline.databases.presets import write_ready
        from foldline.spec.parameters import DB_PRESETS

        s3 = self.client("s3")
        for bucket in self.stack.buckets():
            for preset in DB_PRESETS:
                write_ready(s3, bucket.name, preset, source="the local cloud's database folder")

    def enable_bucket_notifications(self) -> None:
        s3 = self.client("s3")
        for bucket in self.stack.buckets():
            if bucket.eventbridge_enabled:
                s3.put_bucket_notification_configuration(
                    Bucket=bucket.name,
                    NotificationConfiguration={"EventBridgeConfiguration": {}},
                )

    def create_queues(self) -> None:
        sqs = self.client("sqs")
        queues = self.stack.queues()
        # dead-letter queues first: a redrive policy names an existing queue
        queues.sort(key=lambda q: q.redrive_policy is not None)
        for queue in queues:
            attributes: dict[str, str] = {}
            for name in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
                "MaximumMessageSize",
            ):
                if name in queue.properties:
                    attributes[name] = str(queue.properties[name])
            if queue.redrive_policy:
                policy = dict(queue.redrive_policy)
                policy["maxReceiveCount"] = int(policy["maxReceiveCount"])
                attributes["RedrivePolicy"] = json.dumps(policy)
            if queue.properties.get("FifoQueue"):
                attributes["FifoQueue"] = "true"
            sqs.create_queue(QueueName=queue.name, Attributes=attributes)

    def create_topics(self) -> None:
        sns = self.client("sns")
        for topic in self.stack.topics():
            sns.create_topic(Name=topic.name)
            for protocol, endpoint in topic.subscriptions:
                if endpoint:
                    sns.subscribe(TopicArn=topic.arn, Protocol=protocol, Endpoint=endpoint)

    def create_pipelines(self) -> None:
        sagemaker = self.client("sagemaker")
        for pipeline in self.stack.pipelines():
            kwargs = {
                "PipelineName": pipeline.name,
                "PipelineDefinition": json.dumps(pipeline.definition),
                "RoleArn": pipeline.role_arn,
            }
            if pipeline.display_name:
                kwargs["PipelineDisplayName"] = pipeline.display_name
            if pipeline.description:
                kwargs["PipelineDescription"] = pipeline.description
            sagemaker.create_pipeline(**kwargs)
