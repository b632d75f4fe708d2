"""The template's rules, not a copy, decide which function each event reaches.

Every EventBridge rule and every SAM event source in template.yaml is enumerated from
the raw YAML here; the runtime must have created each rule with the template's pattern,
and an event made to match that pattern must arrive on the queue whose route invokes the
function the template names — and on no other function's queue.
"""

from __future__ import annotations

import json

from foldline.local.template import load_template

from .conftest import TEMPLATE


def template_event_sources() -> tuple[set[str], set[tuple[str, str, str]]]:
    """(explicit rule ids, {(function, event name, type)}) straight from the YAML."""
    resources = load_template(TEMPLATE)["Resources"]
    rules = {lid for lid, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
    events = {
        (lid, name, spec["Type"])
        for lid, r in resources.items()
        if r["Type"] == "AWS::Serverless::Function"
        for name, spec in (r["Properties"].get("Events") or {}).items()
    }
    return rules, events


def matching_value(matcher):
    """A value that an event-pattern matcher accepts."""
    if isinstance(matcher, dict) and not any(
        k in matcher for k in ("prefix", "suffix", "equals-ignore-case", "anything-but", "exists")
    ):
        return {key: matching_value(value) for key, value in matcher.items()}
    first = matcher[0] if isinstance(matcher, list) else matcher
    if not isinstance(first, dict):
        return first
    if "prefix" in first:
        return first["prefix"] + "example.fasta"
    if "suffix" in first:
        return "example" + first["suffix"]
    if "equals-ignore-case" in first:
        return first["equals-ignore-case"].upper()  # the case must not matter
    if "anything-but" in first:
        return "something-else"
    return "present"


def event_for(pattern: dict) -> dict:
    sample = {key: matching_value(value) for key, value in pattern.items()}
    return {
        "Source": sample["source"],
        "DetailType": sample["detail-type"],
        "Detail": json.dumps(sample.get("detail", {})),
    }


def drain(sqs, url: str) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def test_every_template_rule_and_event_source_is_routed(make_runtime):
    runtime = make_runtime(dispatch=False)  # nothing consumes the queues: we look at them
    cloud = runtime.cloud
    explicit_rules, function_events = template_event_sources()
    assert explicit_rules and function_events  # the template has both kinds

    # every SAM event source is a route to its own function
    routed = {route.source: route for route in cloud.routes}
    for function, name, kind in function_events:
        route = routed[f"{function}.{name}"]
        assert route.function.logical_id == function
        assert route.kind == {"SQS": "sqs", "EventBridgeRule": "eventbridge"}[kind]

    events, sqs = cloud.client("events"), cloud.client("sqs")
    route_queues = {route.queue_url for route in cloud.routes}
    rules = cloud.stack.rules()
    assert {r.logical_id for r in rules if r.function is None} == explicit_rules
    for rule in rules:
        described = events.describe_rule(Name=rule.name)
        assert json.loads(described["EventPattern"]) == rule.pattern
        targets = events.list_targets_by_rule(Rule=rule.name)["Targets"]
        target_arns = {t["Arn"] for t in targets}
        expected = [r for r in cloud.routes if r.rule == rule or r.queue_arn in target_arns]
        assert expected, f"{rule.logical_id} reaches no function"
        for url in route_queues:
            drain(sqs, url)
        assert events.put_events(Entries=[event_for(rule.pattern)])["FailedEntryCount"] == 0
        delivered = {url for url in route_queues if drain(sqs, url)}
        assert delivered == {r.queue_url for r in expected}, rule.logical_id
        for route in expected:
            if rule.function is not None:
                assert route.function.logical_id == rule.function
