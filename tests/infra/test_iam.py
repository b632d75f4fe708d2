"""Least privilege, checked on the transformed template so nothing SAM adds escapes it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

#: actions AWS cannot scope to a resource, so "Resource": "*" is the only form; why each is here
UNSCOPABLE = {
    "ecr:GetAuthorizationToken": "the registry login token has no resource (SageMaker pulls the step images)",
    "ec2:DescribeNetworkInterfaces": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeVpcs": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeDhcpOptions": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeSubnets": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeSecurityGroups": "EC2 Describe* calls support no resource-level permissions",
    "xray:PutTraceSegments": "X-Ray trace upload has no resource type (Powertools Tracer)",
    "xray:PutTelemetryRecords": "X-Ray telemetry has no resource type",
    "cloudwatch:PutMetricData": "metrics have no resource type; the statement is limited by namespace",
}
#: role -> S3 object prefixes (under the bucket) it may touch
S3_PREFIXES = {
    "SageMakerExecutionRole": ("runs/*", "msa-cache/*"),
    # msa-cache: the start function reads cache manifests (listing: 404 on a miss) and
    # stages the MSA step's FASTA under input/
    "StartPipelineFunctionRole": ("inputs/*", "rejected/*", "runs/*/input/*",
                                  "msa-cache/*/manifest.json", "msa-cache/*/input/*",
                                  "msa-cache/*"),
    "AnalysisFunctionRole": ("runs/*", "runs/*/report/*"),
    "NotifyFunctionRole": (),
    "ProgressFunctionRole": (),
    "LowercaseFunctionRole": (),
}


def _branches(value: Any) -> Iterator[Any]:
    """Both sides of an Fn::If (a condition may hold either way)."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        for branch in value["Fn::If"][1:]:
            yield from _branches(branch)
    elif value != {"Ref": "AWS::NoValue"}:
        yield value


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def identity_statements(transformed: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(role logical id, statement) for every identity policy in the stack."""
    found = []
    for name, resource in transformed["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for branch in _branches(policy):
                    for statement in branch["PolicyDocument"]["Statement"]:
                        found.append((name, statement))
        elif resource["Type"] in ("AWS::IAM::RolePolicy", "AWS::IAM::Policy"):
            roles = [props["RoleName"]] if "RoleName" in props else props.get("Roles", [])
            for role in roles:
                for statement in props["PolicyDocument"]["Statement"]:
                    found.append((role["Ref"], statement))
    return found


@pytest.fixture(scope="module")
def statements(transformed) -> list[tuple[str, dict[str, Any]]]:
    found = identity_statements(transformed)
    assert len(found) > 30  # the walk found the policies at all
    return found


def test_roles_use_no_managed_policies(transformed):
    """SAM would attach AWS managed policies (SQS on "*", logs on "*"); every role here is explicit."""
    roles = {n: r for n, r in transformed["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert set(roles) == set(S3_PREFIXES)
    for name, role in roles.items():
        assert not role["Properties"].get("ManagedPolicyArns"), name


def test_no_wildcard_actions(statements):
    for role, statement in statements:
        for action in _as_list(statement["Action"]):
            assert action != "*", (role, statement)
            assert not action.endswith(":*"), (role, statement)


def test_star_resources_only_for_unscopable_actions(statements):
    for role, statement in statements:
        if "*" in _as_list(statement["Resource"]):
            assert statement["Effect"] == "Allow"
            unscoped = set(_as_list(statement["Action"])) - set(UNSCOPABLE)
            assert not unscoped, f"{role}: {sorted(unscoped)} on Resource '*'"


def test_pass_role_only_for_the_sagemaker_role_to_sagemaker(statements):
    passes = [(r, s) for r, s in statements
              if any(a.startswith("iam:") for a in _as_list(s["Action"]))]  # fmt: skip
    assert len(passes) == 1
    role, statement = passes[0]
    assert role == "SageMakerExecutionRole"
    assert _as_list(statement["Action"]) == ["iam:PassRole"]
    assert statement["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def _s3_object_prefix(resource: Any) -> str | None:
    """``${FoldlineBucket.Arn}/<prefix>`` -> prefix; None for the bucket itself."""
    if resource == {"Fn::GetAtt": ["FoldlineBucket", "Arn"]}:
        return None
    text = resource["Fn::Sub"]
    assert text.startswith("${FoldlineBucket.Arn}/"), text
    return text[len("${FoldlineBucket.Arn}/"):]


def test_each_role_reaches_only_its_prefixes(statements):
    for role, statement in statements:
        if not any(a.startswith("s3:") for a in _as_list(statement["Action"])):
            continue
        for resource in _as_list(statement["Resource"]):
            prefix = _s3_object_prefix(resource)
            if prefix is None:  # ListBucket: must be limited by prefix
                assert set(statement["Condition"]["StringLike"]["s3:prefix"]) <= set(S3_PREFIXES[role])
            else:
                assert prefix in S3_PREFIXES[role], (role, prefix)
    start_writes = {_s3_object_prefix(r) for role, s in statements if role == "StartPipelineFunctionRole"
                    and "s3:PutObject" in _as_list(s["Action"]) for r in _as_list(s["Resource"])}  # fmt: skip
    assert not any(p.startswith("inputs/") for p in start_writes)  # recursion-safe: no writes to inputs/


def test_each_role_reaches_only_this_stacks_tables_topic_and_pipeline(statements):
    own = {
        "dynamodb:": [{"Fn::GetAtt": ["RunsTable", "Arn"]}, {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}],
        "sns:": [{"Ref": "NotificationsTopic"}],
    }
    for role, statement in statements:
        actions = _as_list(statement["Action"])
        for service, allowed in own.items():
            if any(a.startswith(service) for a in actions):
                for resource in _as_list(statement["Resource"]):
                    assert resource in allowed, (role, resource)
        if any(a.startswith("sagemaker:") and "Pipeline" in a for a in actions):
            for resource in _as_list(statement["Resource"]):
                text = json.dumps(resource)
                assert "pipeline/${PipelineName" in text, (role, text)  # this pipeline only


def test_sqs_and_bucket_resource_policies_allow_only_their_senders(transformed):
    for name in ("StartQueuePolicy", "EventsDeadLetterQueuePolicy"):
        for statement in transformed["Resources"][name]["Properties"]["PolicyDocument"]["Statement"]:
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}
            assert statement["Action"] == "sqs:SendMessage"
            assert "aws:SourceArn" in json.dumps(statement["Condition"])
    bucket = transformed["Resources"]["FoldlineBucketPolicy"]["Properties"]["PolicyDocument"]
    assert all(s["Effect"] == "Deny" for s in bucket["Statement"])


def test_sagemaker_trust_is_limited_to_this_account(transformed):
    trust = transformed["Resources"]["SageMakerExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
