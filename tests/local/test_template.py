"""Reading template.yaml as CloudFormation would: short tags, intrinsics, conditions, SAM."""

from __future__ import annotations

import textwrap

import pytest

from foldline.local.cloud import LOCAL_STACK_PARAMETERS
from foldline.local.expressions import dependencies_of_definition
from foldline.local.template import Stack, UnresolvableIntrinsic, load_template
from foldline.spec.parameters import PIPELINE_NAME, STEP_DEPENDENCIES

from .conftest import TEMPLATE

SMALL = textwrap.dedent("""
    Parameters:
      Env: {Type: String, Default: dev}
      Email: {Type: String, Default: ""}
      Subnets: {Type: CommaDelimitedList, Default: "subnet-a,subnet-b"}
    Mappings:
      Sizes: {dev: {Memory: 256}}
    Conditions:
      HasEmail: !Not [!Equals [!Ref Email, ""]]
      IsDev: !Equals [!Ref Env, dev]
      Both: !And [!Condition IsDev, !Not [!Condition HasEmail]]
    Globals:
      Function:
        Timeout: 30
        Environment: {Variables: {TABLE: !Ref Table, SHARED: from-globals}}
    Resources:
      Bucket:
        Type: AWS::S3::Bucket
        Properties:
          BucketName: !Sub "${AWS::StackName}-data-${Env}"
          NotificationConfiguration: {EventBridgeConfiguration: {EventBridgeEnabled: true}}
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          KeySchema: [{AttributeName: id, KeyType: HASH}]
          AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      Dlq: {Type: AWS::SQS::Queue}
      Queue:
        Type: AWS::SQS::Queue
        Properties:
          RedrivePolicy: {deadLetterTargetArn: !GetAtt Dlq.Arn, maxReceiveCount: 3}
      Mail:
        Type: AWS::SNS::Subscription
        Condition: HasEmail
        Properties: {TopicArn: !Ref Topic, Protocol: email, Endpoint: !Ref Email}
      Topic: {Type: AWS::SNS::Topic}
      Fn:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: functions/fn/
          Handler: app.lambda_handler
          MemorySize: !FindInMap [Sizes, !Ref Env, Memory]
          Environment:
            Variables:
              SHARED: from-function
              LITERAL: !Sub "${!NotAVariable}"
              FIRST_SUBNET: !Select [0, !Ref Subnets]
              JOINED: !Join ["+", !Split [",", "a,b,c"]]
              MAYBE: !If [HasEmail, !Ref Email, !Ref AWS::NoValue]
              BOTH: !If [Both, "yes", "no"]
              QUEUE_URL: !Ref Queue
              VARS: !Sub ["${A}-${Topic.TopicName}", {A: !GetAtt Queue.QueueName}]
          Events:
            Q: {Type: SQS, Properties: {Queue: !GetAtt Queue.Arn, BatchSize: 4}}
            R:
              Type: EventBridgeRule
              Properties: {Pattern: {source: [my.app]}}
""")


@pytest.fixture
def small(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(SMALL)
    return lambda **values: Stack.from_file(
        path, parameter_values=values, endpoint_url="http://127.0.0.1:1"
    )


def test_intrinsics_conditions_and_globals(small):
    stack = small()
    (function,) = stack.functions()
    env = function.environment
    assert env["TABLE"] == "foldline-local-Table"  # Globals, resolved
    assert env["SHARED"] == "from-function"  # the function's own value wins
    assert env["LITERAL"] == "${NotAVariable}"
    assert env["FIRST_SUBNET"] == "subnet-a"
    assert env["JOINED"] == "a+b+c"
    assert "MAYBE" not in env  # AWS::NoValue removes the key
    assert env["BOTH"] == "yes"
    assert env["QUEUE_URL"] == "http://127.0.0.1:1/123456789012/foldline-local-Queue"
    assert env["VARS"] == "foldline-local-Queue-foldline-local-Topic"
    assert function.memory_size == 256 and function.timeout == 30
    assert function.module_path == (function.code_uri / "app.py")
    assert [e.type for e in function.events] == ["SQS", "EventBridgeRule"]
    (bucket,) = stack.buckets()
    assert bucket.name == "foldline-local-data-dev" and bucket.eventbridge_enabled
    queue = next(q for q in stack.queues() if q.logical_id == "Queue")
    assert queue.redrive_policy == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:foldline-local-Dlq",
        "maxReceiveCount": 3,
    }
    assert stack.topics()[0].subscriptions == ()  # the subscription's condition is false
    (rule,) = stack.rules()
    assert rule.function == "Fn" and rule.pattern == {"source": ["my.app"]}


def test_local_values_override_defaults(small):
    stack = small(Email="someone@example.org", Env="dev")
    assert stack.topics()[0].subscriptions == (("email", "someone@example.org"),)
    assert stack.functions()[0].environment["MAYBE"] == "someone@example.org"
    assert stack.functions()[0].environment["BOTH"] == "no"


def test_unknown_names_are_reported(small):
    with pytest.raises(UnresolvableIntrinsic, match="NoSuchThing"):
        small().resolve({"Ref": "NoSuchThing"})
    with pytest.raises(UnresolvableIntrinsic, match="another stack"):
        small().resolve({"Fn::ImportValue": "x"})


def test_dates_stay_strings(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("Version: 2012-10-17\nResources: {}\n")
    assert load_template(path)["Version"] == "2012-10-17"


def test_the_projects_template_resolves_completely():
    """Everything the runtime creates comes out of template.yaml with local values."""
    stack = Stack.from_file(TEMPLATE, parameter_values=LOCAL_STACK_PARAMETERS)
    assert len(stack.buckets()) == 1 and stack.buckets()[0].eventbridge_enabled
    tables = {t.logical_id: t for t in stack.tables()}
    assert tables["RunsTable"].key_schema == [{"AttributeName": "run_id", "KeyType": "HASH"}]
    assert tables["IdempotencyTable"].ttl_attribute
    start_queue = next(q for q in stack.queues() if q.logical_id == "StartQueue")
    assert start_queue.redrive_policy["deadLetterTargetArn"].endswith("StartDeadLetterQueue")
    functions = {f.logical_id: f for f in stack.functions()}
    for name in ("StartPipelineFunction", "AnalysisFunction", "NotifyFunction", "ProgressFunction"):
        assert functions[name].module_path.is_file(), name
        env = functions[name].environment
        assert env["PIPELINE_NAME"] == PIPELINE_NAME
        assert env["BUCKET_NAME"] == stack.buckets()[0].name
    (pipeline,) = stack.pipelines()
    assert pipeline.name == PIPELINE_NAME
    assert dependencies_of_definition(pipeline.definition) == {
        step: set(deps) for step, deps in STEP_DEPENDENCIES.items()
    }
