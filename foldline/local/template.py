"""template.yaml, read as CloudFormation would: short tags, intrinsics, conditions, SAM.

The local runtime builds its cloud from the deployable template itself (never from a
second list), so a queue's redrive policy, a rule's event pattern or a function's
environment can only differ between local and deployed stacks if the template does.

:func:`load_template` parses the YAML (with constructors for the ``!Ref``/``!Sub``/...
short forms); :class:`Stack` resolves intrinsics against stack parameter values (the
template's defaults, overridden by local values) and local physical names/ARNs, and
enumerates the resources the runtime creates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

__all__ = [
    "Bucket",
    "Function",
    "FunctionEvent",
    "NoValue",
    "PipelineResource",
    "Queue",
    "Rule",
    "Stack",
    "Table",
    "Topic",
    "UnresolvableIntrinsic",
    "load_template",
]

# -- YAML with CloudFormation short tags ------------------------------------------------


# libyaml's loader where PyYAML was built with it: ten times faster on template.yaml
# (its embedded pipeline definition is most of the file); same results.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _CfnLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """SafeLoader plus CloudFormation's short-form tags; dates stay strings (as in CFN)."""


# CloudFormation reads 2012-10-17 as a string; YAML 1.1 would make it a date.
_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_SHORT_TAGS = (
    "Sub",
    "Join",
    "If",
    "Equals",
    "Not",
    "Select",
    "Split",
    "And",
    "Or",
    "FindInMap",
    "Base64",
    "ImportValue",
    "GetAZs",
    "Cidr",
    "ToJsonString",
    "Length",
)


def _construct(loader: yaml.Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


def _fn(name: str):
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict:
        return {f"Fn::{name}": _construct(loader, node)}

    return construct


def _ref(loader: yaml.Loader, node: yaml.Node) -> dict:
    return {"Ref": loader.construct_scalar(node)}


def _condition(loader: yaml.Loader, node: yaml.Node) -> dict:
    return {"Condition": loader.construct_scalar(node)}


def _get_att(loader: yaml.Loader, node: yaml.Node) -> dict:
    value = _construct(loader, node)
    if isinstance(value, str):
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {"Fn::GetAtt": value}


for _name in _SHORT_TAGS:
    _CfnLoader.add_constructor(f"!{_name}", _fn(_name))
_CfnLoader.add_constructor("!Ref", _ref)
_CfnLoader.add_constructor("!Condition", _condition)
_CfnLoader.add_constructor("!GetAtt", _get_att)


def load_template(path: str | Path) -> dict:
    """Parse a CloudFormation/SAM template (YAML or JSON) into plain data."""
    text = Path(path).read_text()
    return yaml.load(text, Loader=_CfnLoader)


# -- resolution -------------------------------------------------------------------------


class _NoValueType:
    """``AWS::NoValue``: the property it sits in is removed."""

    def __repr__(self) -> str:
        return "NoValue"


NoValue = _NoValueType()


class UnresolvableIntrinsic(ValueError):
    """An intrinsic the local stack cannot resolve (an import, an unknown name)."""


#: Ref/GetAtt of each resource type the runtime creates, from its physical name
def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


@dataclass(frozen=True)
class Bucket:
    logical_id: str
    name: str
    properties: dict

    @property
    def eventbridge_enabled(self) -> bool:
        config = self.properties.get("NotificationConfiguration") or {}
        bridge = config.get("EventBridgeConfiguration") or {}
        return bool(bridge.get("EventBridgeEnabled", False))

    @property
    def versioned(self) -> bool:
        config = self.properties.get("VersioningConfiguration") or {}
        return config.get("Status") == "Enabled"


@dataclass(frozen=True)
class Queue:
    logical_id: str
    name: str
    arn: str
    properties: dict

    @property
    def redrive_policy(self) -> dict | None:
        return self.properties.get("RedrivePolicy")

    @property
    def visibility_timeout(self) -> int:
        return int(self.properties.get("VisibilityTimeout", 30))


@dataclass(frozen=True)
class Topic:
    logical_id: str
    name: str
    arn: str
    properties: dict
    #: (protocol, endpoint) from the topic's own Subscription list and
    #: AWS::SNS::Subscription resources
    subscriptions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Table:
    logical_id: str
    name: str
    properties: dict

    @property
    def key_schema(self) -> list[dict]:
        return self.properties["KeySchema"]

    @property
    def attribute_definitions(self) -> list[dict]:
        return self.properties["AttributeDefinitions"]

    @property
    def ttl_attribute(self) -> str | None:
        ttl = self.properties.get("TimeToLiveSpecification") or {}
        return ttl.get("AttributeName") if ttl.get("Enabled") else None


@dataclass(frozen=True)
class Rule:
    """An EventBridge rule: an explicit AWS::Events::Rule or a SAM EventBridgeRule event."""

    logical_id: str
    name: str
    pattern: dict
    event_bus: str
    targets: tuple[dict, ...] = ()  # explicit rules: the template's Targets, resolved
    function: str | None = None  # SAM EventBridgeRule events: the function's logical id
    retry_policy: dict | None = None
    dead_letter_config: dict | None = None
    state: str = "ENABLED"


@dataclass(frozen=True)
class FunctionEvent:
    name: str
    type: str  # "SQS", "EventBridgeRule", ...
    properties: dict


@dataclass(frozen=True)
class Function:
    logical_id: str
    name: str
    arn: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory_size: int
    events: tuple[FunctionEvent, ...]
    #: asynchronous invocations (EventBridge): EventInvokeConfig and DeadLetterQueue
    max_async_retries: int = 2
    on_failure_arn: str | None = None
    on_failure_type: str | None = None  # "SQS" or "Lambda" (others are not delivered locally)

    @property
    def module_path(self) -> Path:
        """The handler's source file (``app.lambda_handler`` -> ``<CodeUri>/app.py``)."""
        module, _, _ = self.handler.rpartition(".")
        return self.code_uri / (module.replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass(frozen=True)
class PipelineResource:
    logical_id: str
    name: str
    definition: dict
    role_arn: str
    display_name: str | None = None
    description: str | None = None


DEFAULT_HANDLER = "app.lambda_handler"
_FUNCTION_DEFAULTS = {"Timeout": 3, "MemorySize": 128}


@dataclass
class Stack:
    """A template resolved for one local stack.

    Parameters
    ----------
    template
        The parsed template (:func:`load_template`).
    base_dir
        The template's folder (CodeUri paths are relative to it).
    parameter_values
        Local values of stack parameters; the template's defaults fill the rest.
    region, account_id, stack_name
        The pseudo parameters.
    endpoint_url
        The local endpoint, used to build SQS queue URLs (a queue's ``Ref``).
    """

    template: dict
    base_dir: Path
    parameter_values: dict[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "foldline-local"
    endpoint_url: str = "http://127.0.0.1"
    #: appended to generated names other than buckets' (CloudFormation appends a random
    #: ``-1A2B3C4D5E6F``; the local runtime none)
    name_suffix: str = ""

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir)
        self._resources: dict[str, dict] = self.template.get("Resources", {})
        self._params = self._parameter_values()
        self._names: dict[str, str] = {}
        self._conditions: dict[str, bool] = {}
        self._naming: set[str] = set()

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> Stack:
        path = Path(path)
        return cls(load_template(path), path.parent, **kwargs)

    # -- parameters and conditions -------------------------------------------------------

    def _parameter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            value = self.parameter_values.get(name, spec.get("Default"))
            if value is None:
                raise UnresolvableIntrinsic(
                    f"stack parameter {name} has no default and no local value"
                )
            kind = str(spec.get("Type", "String"))
            if kind.startswith("List<") or kind == "CommaDelimitedList":
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",")] if value.strip() else []
            else:
                value = str(value) if not isinstance(value, str) else value
            values[name] = value
        return values

    @property
    def parameters(self) -> dict[str, Any]:
        return dict(self._params)

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            try:
                expression = self.template["Conditions"][name]
            except KeyError:
                raise UnresolvableIntrinsic(f"no condition named {name!r}") from None
            self._conditions[name] = bool(self.resolve(expression))
        return self._conditions[name]

    def _present(self, logical_id: str) -> bool:
        cond = self._resources[logical_id].get("Condition")
        return cond is None or self.condition(cond)

    # -- names, refs, attributes ---------------------------------------------------------

    def _pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": _arn(
                "cloudformation",
                self.region,
                self.account_id,
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000",
            ),
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NoValue,
        }[name]

    _NAME_PROPERTY: ClassVar[dict[str, str]] = {
        "AWS::S3::Bucket": "BucketName",
        "AWS::SQS::Queue": "QueueName",
        "AWS::SNS::Topic": "TopicName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::Serverless::Function": "FunctionName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::IAM::Role": "RoleName",
        "AWS::Events::Rule": "Name",
        "AWS::SageMaker::Pipeline": "PipelineName",
    }

    def physical_name(self, logical_id: str) -> str:
        """The resource's name: its name property where the template sets one, else
        ``<stack>-<LogicalId>`` (lower-cased for buckets), as CloudFormation generates."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._naming:
            raise UnresolvableIntrinsic(f"circular name reference through {logical_id}")
        self._naming.add(logical_id)
        try:
            resource = self._resources[logical_id]
            prop = self._NAME_PROPERTY.get(resource.get("Type", ""))
            given = (resource.get("Properties") or {}).get(prop) if prop else None
            name = self.resolve(given) if given is not None else None
            if name is None or name is NoValue:
                name = f"{self.stack_name}-{logical_id}{self.name_suffix}"
                if resource.get("Type") == "AWS::S3::Bucket":
                    name = f"{self.stack_name}-{logical_id}-{self.account_id}".lower()
            self._names[logical_id] = str(name)
            return self._names[logical_id]
        finally:
            self._naming.discard(logical_id)

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self._pseudo(name)
        if name in self._params:
            return self._params[name]
        if name not in self._resources:
            raise UnresolvableIntrinsic(f"Ref to unknown name {name!r}")
        kind = self._resources[name].get("Type", "")
        physical = self.physical_name(name)
        if kind == "AWS::SQS::Queue":
            return f"{self.endpoint_url}/{self.account_id}/{physical}"
        if kind == "AWS::SNS::Topic":
            return _arn("sns", self.region, self.account_id, physical)
        return physical

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self._resources:
            raise UnresolvableIntrinsic(f"GetAtt of unknown resource {logical_id!r}")
        kind = self._resources[logical_id].get("Type", "")
        name = self.physical_name(logical_id)
        region, account = self.region, self.account_id
        table = {
            ("AWS::SQS::Queue", "Arn"): _arn("sqs", region, account, name),
            ("AWS::SQS::Queue", "QueueName"): name,
            ("AWS::SQS::Queue", "QueueUrl"): f"{self.endpoint_url}/{account}/{name}",
            ("AWS::SNS::Topic", "TopicArn"): _arn("sns", region, account, name),
            ("AWS::SNS::Topic", "TopicName"): name,
            ("AWS::S3::Bucket", "Arn"): f"arn:aws:s3:::{name}",
            ("AWS::S3::Bucket", "DomainName"): f"{name}.s3.amazonaws.com",
            ("AWS::S3::Bucket", "RegionalDomainName"): f"{name}.s3.{region}.amazonaws.com",
            ("AWS::DynamoDB::Table", "Arn"): _arn("dynamodb", region, account, f"table/{name}"),
            ("AWS::DynamoDB::Table", "StreamArn"): _arn(
                "dynamodb", region, account, f"table/{name}/stream/1970-01-01T00:00:00.000"
            ),
            ("AWS::Serverless::Function", "Arn"): _arn(
                "lambda", region, account, f"function:{name}"
            ),
            ("AWS::Lambda::Function", "Arn"): _arn("lambda", region, account, f"function:{name}"),
            ("AWS::IAM::Role", "Arn"): f"arn:aws:iam::{account}:role/{name}",
            ("AWS::IAM::Role", "RoleId"): f"AROA{name.upper()[:16]}",
            ("AWS::Events::Rule", "Arn"): _arn("events", region, account, f"rule/{name}"),
            ("AWS::SageMaker::Pipeline", "PipelineName"): name,
            ("AWS::KMS::Key", "Arn"): _arn("kms", region, account, f"key/{name}"),
        }
        try:
            return table[(kind, attribute)]
        except KeyError:
            raise UnresolvableIntrinsic(
                f"GetAtt {logical_id}.{attribute} ({kind}) is not known to the local stack"
            ) from None

    # -- intrinsics ------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function in ``value``; drop ``AWS::NoValue`` entries."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not NoValue]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key[4:], arg)
        out = {}
        for key, item in value.items():
            resolved = self.resolve(item)
            if resolved is not NoValue:
                out[key] = resolved
        return out

    def _function(self, name: str, arg: Any) -> Any:
        if name == "If":
            cond, when_true, when_false = arg
            return self.resolve(when_true if self.condition(cond) else when_false)
        if name == "Sub":
            return self._sub(arg)
        if name == "GetAtt":
            if isinstance(arg, str):
                arg = arg.split(".", 1)
            logical_id, attribute = (self.resolve(a) for a in arg)
            return self.get_att(logical_id, attribute)
        args = self.resolve(arg)
        if name == "Join":
            delimiter, items = args
            return delimiter.join(str(i) for i in items)
        if name == "Equals":
            left, right = args
            return str(left) == str(right)
        if name == "Not":
            return not _truth(args[0])
        if name == "And":
            return all(_truth(a) for a in args)
        if name == "Or":
            return any(_truth(a) for a in args)
        if name == "Select":
            index, items = args
            return items[int(index)]
        if name == "Split":
            delimiter, text = args
            return text.split(delimiter)
        if name == "FindInMap":
            mapping, top, second = args
            return self.template["Mappings"][mapping][top][second]
        if name == "Base64":
            import base64

            return base64.b64encode(str(args).encode()).decode()
        if name == "GetAZs":
            return [f"{self.region}{z}" for z in "abc"]
        if name == "ToJsonString":
            return json.dumps(args)
        if name == "Length":
            return len(args)
        if name == "ImportValue":
            raise UnresolvableIntrinsic(
                f"Fn::ImportValue {args!r}: another stack's export cannot be resolved locally"
            )
        raise UnresolvableIntrinsic(f"Fn::{name} is not supported by the local stack")

    _SUB_VAR = re.compile(r"\$\{([^}]*)\}")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1])
        else:
            text, variables = arg, {}

        def replace(match: re.Match) -> str:
            inner = match.group(1)
            if inner.startswith("!"):  # ${!Literal} writes ${Literal}
                return "${" + inner[1:] + "}"
            if inner in variables:
                value = variables[inner]
            elif "." in inner and not inner.startswith("AWS::"):
                logical_id, attribute = inner.split(".", 1)
                value = self.get_att(logical_id, attribute)
            else:
                value = self.ref(inner)
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            return str(value)

        return self._SUB_VAR.sub(replace, text)

    # -- enumeration -----------------------------------------------------------------------

    def _of_type(self, kind: str) -> list[tuple[str, dict]]:
        return [
            (logical_id, self.resolve(resource.get("Properties") or {}))
            for logical_id, resource in self._resources.items()
            if resource.get("Type") == kind and self._present(logical_id)
        ]

    def resource_type(self, logical_id: str) -> str:
        return self._resources[logical_id].get("Type", "")

    def buckets(self) -> list[Bucket]:
        return [
            Bucket(lid, self.physical_name(lid), props)
            for lid, props in self._of_type("AWS::S3::Bucket")
        ]

    def queues(self) -> list[Queue]:
        return [
            Queue(lid, self.physical_name(lid), self.get_att(lid, "Arn"), props)
            for lid, props in self._of_type("AWS::SQS::Queue")
        ]

    def topics(self) -> list[Topic]:
        extra: dict[str, list[tuple[str, str]]] = {}
        for _, props in self._of_type("AWS::SNS::Subscription"):
            extra.setdefault(props["TopicArn"], []).append((props["Protocol"], props["Endpoint"]))
        topics = []
        for lid, props in self._of_type("AWS::SNS::Topic"):
            arn = self.get_att(lid, "TopicArn")
            subs = [(s["Protocol"], s["Endpoint"]) for s in props.get("Subscription") or []]
            subs += extra.get(arn, [])
            topics.append(Topic(lid, self.physical_name(lid), arn, props, tuple(subs)))
        return topics

    def tables(self) -> list[Table]:
        return [
            Table(lid, self.physical_name(lid), props)
            for lid, props in self._of_type("AWS::DynamoDB::Table")
        ]

    def rules(self) -> list[Rule]:
        """Explicit AWS::Events::Rule resources and SAM functions' EventBridgeRule events."""
        rules = []
        for lid, props in self._of_type("AWS::Events::Rule"):
            if "EventPattern" not in props:
                continue  # scheduled rules: nothing to route locally
            pattern = props["EventPattern"]
            if isinstance(pattern, str):
                pattern = json.loads(pattern)
            rules.append(
                Rule(
                    logical_id=lid,
                    name=self.physical_name(lid),
                    pattern=pattern,
                    event_bus=_bus_name(props.get("EventBusName", "default")),
                    targets=tuple(props.get("Targets") or ()),
                    state=props.get("State", "ENABLED"),
                )
            )
        for function in self.functions():
            for event in function.events:
                if event.type not in ("EventBridgeRule", "CloudWatchEvent"):
                    continue
                p = event.properties
                rules.append(
                    Rule(
                        logical_id=f"{function.logical_id}{event.name}",
                        name=p.get("RuleName")
                        or f"{self.stack_name}-{function.logical_id}{event.name}",
                        pattern=p["Pattern"],
                        event_bus=_bus_name(p.get("EventBusName", "default")),
                        function=function.logical_id,
                        retry_policy=p.get("RetryPolicy"),
                        dead_letter_config=p.get("DeadLetterConfig"),
                        state=p.get("State", "ENABLED"),
                    )
                )
        return rules

    def functions(self) -> list[Function]:
        globals_ = self.resolve(((self.template.get("Globals") or {}).get("Function")) or {})
        functions = []
        for lid, props in self._of_type("AWS::Serverless::Function"):
            merged = {**_FUNCTION_DEFAULTS, **globals_, **props}
            env = {
                **((globals_.get("Environment") or {}).get("Variables") or {}),
                **((props.get("Environment") or {}).get("Variables") or {}),
            }
            code_uri, handler = self._code(lid, merged)
            invoke = merged.get("EventInvokeConfig") or {}
            on_failure = (invoke.get("DestinationConfig") or {}).get("OnFailure") or {}
            failure_arn = on_failure.get("Destination")
            failure_type = on_failure.get("Type", "SQS") if failure_arn else None
            if failure_arn is None and (merged.get("DeadLetterQueue") or {}).get("Type") == "SQS":
                failure_arn, failure_type = merged["DeadLetterQueue"]["TargetArn"], "SQS"
            events = tuple(
                FunctionEvent(name, spec["Type"], spec.get("Properties") or {})
                for name, spec in (props.get("Events") or {}).items()
            )
            functions.append(
                Function(
                    logical_id=lid,
                    name=self.physical_name(lid),
                    arn=self.get_att(lid, "Arn"),
                    code_uri=code_uri,
                    handler=handler,
                    environment={k: _env_text(v) for k, v in env.items()},
                    timeout=int(merged["Timeout"]),
                    memory_size=int(merged["MemorySize"]),
                    events=events,
                    max_async_retries=int(invoke.get("MaximumRetryAttempts", 2)),
                    on_failure_arn=failure_arn,
                    on_failure_type=failure_type,
                )
            )
        return functions

    def _code(self, logical_id: str, props: dict) -> tuple[Path, str]:
        """Where a function's handler module lives, and its handler string.

        Zip functions: CodeUri and Handler. Image functions (``PackageType: Image``): the
        folder of the Dockerfile ``sam build`` uses (Metadata DockerContext/Dockerfile)
        and the handler the image runs (ImageConfig.Command, else the Dockerfile's CMD).
        Inline code has no module: its CodeUri is the template folder (never invoked).
        """
        if props.get("PackageType") != "Image":
            code_uri = props.get("CodeUri", ".")
            if isinstance(code_uri, dict):
                raise UnresolvableIntrinsic(f"{logical_id}: CodeUri must be a local folder")
            return (self.base_dir / code_uri).resolve(), props.get("Handler", "app.lambda_handler")
        metadata = self._resources[logical_id].get("Metadata") or {}
        dockerfile = (
            self.base_dir
            / metadata.get("DockerContext", ".")
            / metadata.get("Dockerfile", "Dockerfile")
        ).resolve()
        command = (props.get("ImageConfig") or {}).get("Command") or _dockerfile_cmd(dockerfile)
        # foldline's convention (every function's module is app.py with lambda_handler)
        # where neither says otherwise
        return dockerfile.parent, command[0] if command else DEFAULT_HANDLER

    def function(self, logical_id: str) -> Function:
        for function in self.functions():
            if function.logical_id == logical_id:
                return function
        raise KeyError(f"no function {logical_id!r} in the template")

    def pipelines(self) -> list[PipelineResource]:
        pipelines = []
        for lid, props in self._of_type("AWS::SageMaker::Pipeline"):
            definition = props["PipelineDefinition"]
            if "PipelineDefinitionBody" not in definition:
                raise UnresolvableIntrinsic(
                    f"{lid}: only an embedded PipelineDefinitionBody can run locally"
                )
            body = definition["PipelineDefinitionBody"]
            pipelines.append(
                PipelineResource(
                    logical_id=lid,
                    name=self.physical_name(lid),
                    definition=json.loads(body) if isinstance(body, str) else body,
                    role_arn=props.get("RoleArn", f"arn:aws:iam::{self.account_id}:role/local"),
                    display_name=props.get("PipelineDisplayName"),
                    description=props.get("PipelineDescription"),
                )
            )
        return pipelines

    def queue_by_arn(self, arn: str) -> Queue:
        for queue in self.queues():
            if queue.arn == arn:
                return queue
        raise KeyError(f"no queue with ARN {arn} in the template")


def _truth(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


def _bus_name(value: str) -> str:
    """An event bus given by name or ARN -> its name."""
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _dockerfile_cmd(dockerfile: Path) -> list[str]:
    """The last ``CMD [...]`` of a Dockerfile (exec form), or [] when there is none."""
    if not dockerfile.is_file():
        return []
    command: list[str] = []
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if stripped.upper().startswith("CMD "):
            rest = stripped[4:].strip()
            try:
                command = list(json.loads(rest))
            except ValueError:
                command = rest.split()
    return command
