"""Evaluating a SageMaker pipeline definition's expressions, as SageMaker does at run time.

A rendered definition refers to run-time values through small JSON expressions:
``{"Get": "Parameters.ModelPreset"}``, ``{"Get": "Execution.PipelineExecutionId"}``,
``{"Get": "Steps.RunMSA.ModelArtifacts.S3ModelArtifacts"}`` and
``{"Std:Join": {"On": "", "Values": [...]}}``. :func:`evaluate` replaces each with its
value; :func:`step_references` finds the steps an expression tree depends on.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ExecutionValues",
    "UnsupportedExpression",
    "dependencies_of_definition",
    "evaluate",
    "parameter_values",
    "step_references",
]


class UnsupportedExpression(ValueError):
    """An expression the local executor does not evaluate (it says which)."""


@dataclass
class ExecutionValues:
    """What ``Get`` can reach: parameters, execution variables and finished steps' properties."""

    parameters: Mapping[str, Any]
    execution_arn: str
    pipeline_arn: str
    pipeline_name: str
    start_time: _dt.datetime
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # step -> properties

    def execution_variable(self, name: str) -> Any:
        values = {
            "PipelineExecutionId": self.execution_arn.rsplit("/", 1)[-1],
            "PipelineExecutionArn": self.execution_arn,
            "PipelineName": self.pipeline_name,
            "PipelineArn": self.pipeline_arn,
            "StartDateTime": self.start_time.isoformat(),
            "CurrentDateTime": _dt.datetime.now(_dt.UTC).isoformat(),
        }
        if name not in values:
            raise UnsupportedExpression(f"execution variable {name!r} is not known locally")
        return values[name]


_INDEX = re.compile(r"^(?P<name>[^\[]*)((\[(?P<index>[^\]]+)\])*)$")


def _walk(value: Any, path: list[str], where: str) -> Any:
    for part in path:
        match = _INDEX.match(part)
        name = match.group("name") if match else part
        if name:
            if not isinstance(value, Mapping) or name not in value:
                raise UnsupportedExpression(f"{where}: no property {name!r}")
            value = value[name]
        for index in re.findall(r"\[([^\]]+)\]", part):
            key = index.strip("'\"")
            value = value[int(key)] if key.isdigit() else value[key]
    return value


def _get(path: str, values: ExecutionValues) -> Any:
    head, _, rest = path.partition(".")
    if head == "Parameters":
        if rest not in values.parameters:
            raise UnsupportedExpression(f"no pipeline parameter {rest!r}")
        return values.parameters[rest]
    if head == "Execution":
        return values.execution_variable(rest)
    if head == "Steps":
        step, _, prop = rest.partition(".")
        if step not in values.steps:
            raise UnsupportedExpression(f"step {step!r} has not run (referenced as {path})")
        return _walk(values.steps[step], prop.split(".") if prop else [], f"Steps.{step}")
    raise UnsupportedExpression(f"cannot evaluate {{'Get': {path!r}}}")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def evaluate(node: Any, values: ExecutionValues) -> Any:
    """``node`` with every expression replaced by its value."""
    if isinstance(node, list):
        return [evaluate(item, values) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        ((key, arg),) = node.items()
        if key == "Get":
            return _get(arg, values)
        if key == "Std:Join":
            items = evaluate(arg["Values"], values)
            return _text(arg.get("On", "")).join(_text(i) for i in items)
        if key.startswith("Std:"):
            raise UnsupportedExpression(f"{key} is not evaluated by the local executor")
    return {key: evaluate(item, values) for key, item in node.items()}


def step_references(node: Any) -> set[str]:
    """Names of the steps whose properties ``node`` reads (``{"Get": "Steps.X..."}``)."""
    found: set[str] = set()
    if isinstance(node, list):
        for item in node:
            found |= step_references(item)
    elif isinstance(node, dict):
        get = node.get("Get")
        if len(node) == 1 and isinstance(get, str) and get.startswith("Steps."):
            found.add(get.split(".")[1])
        else:
            for item in node.values():
                found |= step_references(item)
    return found


def dependencies_of_definition(definition: Mapping[str, Any]) -> dict[str, set[str]]:
    """Step name -> the steps it waits for: its DependsOn and every step whose
    properties its arguments read."""
    names = {s["Name"] for s in definition.get("Steps", [])}
    graph = {}
    for spec in definition.get("Steps", []):
        wanted = set(spec.get("DependsOn") or []) | step_references(spec.get("Arguments"))
        unknown = wanted - names
        if unknown:
            raise UnsupportedExpression(f"step {spec['Name']} depends on unknown {sorted(unknown)}")
        graph[spec["Name"]] = wanted
    return graph


def parameter_values(definition: Mapping[str, Any], given: list[dict[str, str]]) -> dict[str, Any]:
    """The execution's parameter values: the definition's defaults, then what the start gave.

    Values keep the parameter's type (an Integer parameter is an int), as SageMaker's
    expressions see them.
    """
    types = {}
    values: dict[str, Any] = {}
    for spec in definition.get("Parameters", []):
        types[spec["Name"]] = spec.get("Type", "String")
        if "DefaultValue" in spec:
            values[spec["Name"]] = spec["DefaultValue"]
    for item in given:
        values[item["Name"]] = item["Value"]
    for name, value in values.items():
        kind = types.get(name, "String")
        if kind == "Integer":
            values[name] = int(value)
        elif kind == "Float":
            values[name] = float(value)
        elif kind == "Boolean":
            values[name] = value if isinstance(value, bool) else str(value).lower() == "true"
        else:
            values[name] = str(value)
    return values
