"""template.yaml: transforms offline, lints clean, and wires the fixed resources as designed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from moto.events.models import EventPattern

from foldline.events import pipeline as pipeline_events
from foldline.local.template import Stack
from foldline.spec import layout
from foldline.spec.parameters import PIPELINE_NAME
from pipeline import placeholders
from tests.infra.conftest import DEPLOY_PARAMETERS, FAKE_ACCOUNT

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"

FIXED = {
    "FoldlineBucket": "AWS::S3::Bucket",
    "InputsRule": "AWS::Events::Rule",
    "StartQueue": "AWS::SQS::Queue",
    "StartDeadLetterQueue": "AWS::SQS::Queue",
    "StartPipelineFunction": "AWS::Serverless::Function",
    "NotificationsTopic": "AWS::SNS::Topic",
    "RunsTable": "AWS::DynamoDB::Table",
    "IdempotencyTable": "AWS::DynamoDB::Table",
    "SageMakerExecutionRole": "AWS::IAM::Role",
    "FoldPipeline": "AWS::SageMaker::Pipeline",
    "AnalysisFunction": "AWS::Serverless::Function",
    "NotifyFunction": "AWS::Serverless::Function",
    "ProgressFunction": "AWS::Serverless::Function",
}
#: function -> (its pipeline-event rule's event name, the statuses it listens for or None)
PIPELINE_RULES = {
    "AnalysisFunction": ("RunSucceeded", [pipeline_events.SUCCEEDED]),
    "NotifyFunction": ("RunFailedOrStopped", [pipeline_events.FAILED, pipeline_events.STOPPED]),
    "ProgressFunction": ("StepStatusChanged", None),
}


def stack_of(template: dict, *, account: str = FAKE_ACCOUNT, region: str = "us-east-1") -> Stack:
    """template.yaml's intrinsics resolved as the local runtime resolves them (one resolver)."""
    return Stack(
        template, ROOT, parameter_values=DEPLOY_PARAMETERS, region=region, account_id=account
    )


def test_template_transforms_offline(transformed):
    types = {r["Type"] for r in transformed["Resources"].values()}
    assert not any(t.startswith("AWS::Serverless::") for t in types)
    assert transformed["Resources"]["StartPipelineFunction"]["Type"] == "AWS::Lambda::Function"


def test_cfn_lint_reports_no_error():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--format", "parseable", "template.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    errors = [line for line in result.stdout.splitlines() if ":E" in line]
    assert not errors, result.stdout
    # exit status bits: 2 errors, 4 warnings, 8 informational; 1 means cfn-lint itself failed
    assert result.returncode != 1 and not result.returncode & 2, result.stdout + result.stderr


def test_fixed_logical_ids_and_types(template):
    resources = template["Resources"]
    for name, kind in FIXED.items():
        assert resources[name]["Type"] == kind, name
    for name, code in [
        ("StartPipelineFunction", "functions/start_pipeline/"),
        ("NotifyFunction", "functions/notify/"),
        ("ProgressFunction", "functions/progress/"),
    ]:
        props = resources[name]["Properties"]
        assert (props["CodeUri"], props["Handler"], props["Runtime"]) == (
            code,
            "app.lambda_handler",
            "python3.12",
        )
        assert (ROOT / code).is_dir()
    analysis = resources["AnalysisFunction"]
    assert analysis["Properties"]["PackageType"] == "Image"
    assert analysis["Metadata"]["Dockerfile"] == "functions/analysis/Dockerfile"


def test_bucket_is_hardened(template):
    bucket = template["Resources"]["FoldlineBucket"]["Properties"]
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    sse = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    kms, s3 = sse["ServerSideEncryptionByDefault"]["Fn::If"][1:]
    assert kms["SSEAlgorithm"] == "aws:kms" and s3["SSEAlgorithm"] == "AES256"
    (deny,) = template["Resources"]["FoldlineBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert template["Resources"]["NotificationsTopic"]["Properties"]["KmsMasterKeyId"]


def test_tables(template):
    runs = template["Resources"]["RunsTable"]["Properties"]
    assert runs["KeySchema"] == [{"AttributeName": "run_id", "KeyType": "HASH"}]
    assert runs["AttributeDefinitions"] == [{"AttributeName": "run_id", "AttributeType": "S"}]
    assert runs["BillingMode"] == "PAY_PER_REQUEST"
    assert runs["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    idem = template["Resources"]["IdempotencyTable"]["Properties"]
    assert idem["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert idem["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}


def test_inputs_rule_feeds_only_the_start_queue(template, transformed):
    resources = template["Resources"]
    rule = resources["InputsRule"]["Properties"]
    stack = stack_of(template)
    pattern = stack.resolve(rule["EventPattern"])
    assert pattern["detail"]["object"]["key"] == [{"prefix": layout.INPUTS}]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["StartQueue", "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    (allow,) = resources["StartQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["InputsRule", "Arn"]}}
    }
    redrive = resources["StartQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["StartDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == {"Ref": "StartMaxReceiveCount"}

    matcher = EventPattern.load(json.dumps(pattern))
    event = json.loads((EVENTS / "s3-object-created.json").read_text())
    event["detail"]["bucket"]["name"] = stack.resolve({"Ref": "FoldlineBucket"})
    event["detail"]["object"]["key"] = "inputs/6kwc.fasta"
    assert matcher.matches_event(event)
    for other_key in ("rejected/6kwc.fasta", "runs/x/input/6kwc.fasta", "6kwc.fasta"):
        event["detail"]["object"]["key"] = other_key
        assert not matcher.matches_event(event), other_key
    event["detail"]["object"]["key"] = "inputs/6kwc.fasta"
    event["detail-type"] = "Object Tags Added"  # moto emits these on every put
    assert not matcher.matches_event(event)


def test_start_function_event_source(transformed):
    mapping = transformed["Resources"]["StartPipelineFunctionUploads"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["StartQueue", "Arn"]}
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "MaxConcurrentStarts"}}


def _pipeline_patterns(template, account: str, region: str) -> dict[str, EventPattern]:
    stack = stack_of(template, account=account, region=region)
    patterns = {}
    for function, (event_name, _) in PIPELINE_RULES.items():
        event = template["Resources"][function]["Properties"]["Events"][event_name]
        assert event["Type"] == "EventBridgeRule"
        patterns[function] = EventPattern.load(
            json.dumps(stack.resolve(event["Properties"]["Pattern"]))
        )
    return patterns


def test_pipeline_event_rules_follow_the_package(template):
    for function, (event_name, statuses) in PIPELINE_RULES.items():
        props = template["Resources"][function]["Properties"]
        rule = props["Events"][event_name]["Properties"]
        pattern = rule["Pattern"]
        assert pattern["source"] == [pipeline_events.SOURCE]
        kind = (
            pipeline_events.EXECUTION_STATUS_CHANGE
            if statuses
            else pipeline_events.STEP_STATUS_CHANGE
        )
        assert pattern["detail-type"] == [kind]
        assert pattern["detail"].get("currentPipelineExecutionStatus") == statuses
        assert rule["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
        assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
        on_failure = props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
        # a failed analysis becomes an "analysis failed" notice; the others park the event
        target = "NotifyFunction" if function == "AnalysisFunction" else "FunctionFailuresQueue"
        assert on_failure["Destination"] == {"Fn::GetAtt": [target, "Arn"]}
    ended = set(PIPELINE_RULES["AnalysisFunction"][1] + PIPELINE_RULES["NotifyFunction"][1])
    assert ended == set(pipeline_events.ENDED_STATUSES)


PIPELINE_SAMPLES = sorted(
    p.name
    for p in EVENTS.glob("*.json")
    if json.loads(p.read_text()).get("source") == pipeline_events.SOURCE
)


def test_there_are_pipeline_samples():
    assert len(PIPELINE_SAMPLES) >= 4, PIPELINE_SAMPLES


@pytest.mark.parametrize("sample", PIPELINE_SAMPLES)
def test_sample_events_reach_exactly_their_function(template, sample):
    """Each events/ sample of this pipeline fires the right rule, and only that one.

    The samples carry the ARN as SageMaker writes it (lower case); the rules are built
    from the mixed-case pipeline name, so this also proves the case-insensitive match.
    """
    event = json.loads((EVENTS / sample).read_text())
    patterns = _pipeline_patterns(template, event["account"], event["region"])
    status = event["detail"].get("currentPipelineExecutionStatus")
    if event["detail-type"] == pipeline_events.STEP_STATUS_CHANGE:
        expected = {"ProgressFunction"}
    elif status == pipeline_events.SUCCEEDED:
        expected = {"AnalysisFunction"}
    elif status in (pipeline_events.FAILED, pipeline_events.STOPPED):
        expected = {"NotifyFunction"}
    else:
        expected = set()
    assert {f for f, p in patterns.items() if p.matches_event(event)} == expected

    other = json.loads(json.dumps(event))
    for key in ("pipelineArn", "pipelineExecutionArn"):
        other["detail"][key] = event["detail"][key].replace(
            f"pipeline/{PIPELINE_NAME.lower()}", "pipeline/someotherpipeline"
        )
    assert not any(p.matches_event(other) for p in patterns.values())


def test_pipeline_resource(template):
    props = template["Resources"]["FoldPipeline"]["Properties"]
    assert props["PipelineName"] == {"Ref": "PipelineName"}
    assert props["RoleArn"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
    sub = props["PipelineDefinition"]["PipelineDefinitionBody"]["Fn::Sub"]
    # the Sub map fills exactly the placeholders no parameter or resource answers by name
    by_name = set(template["Parameters"]) | set(template["Resources"])
    assert set(sub[1]) == set(placeholders.ALL) - by_name
    assert sub[1]["SubnetsJson"] == {"Fn::Join": ['","', {"Ref": "SubnetIds"}]}
    own, given = sub[1]["SecurityGroupsJson"]["Fn::If"][1:]
    assert sub[1]["SecurityGroupsJson"]["Fn::If"][0] == "CreateFileSystem"
    assert {"Ref": "DatabasesSecurityGroup"} in own["Fn::Join"][1]  # the jobs join the Lustre group
    assert given == {"Fn::Join": ['","', {"Ref": "SecurityGroupIds"}]}
    assert sub[1]["DatabasesFileSystemId"] == {
        "Fn::If": ["CreateFileSystem", {"Ref": "DatabasesFileSystem"}, {"Ref": "FsxFileSystemId"}]
    }


def test_outputs(template):
    assert {
        "BucketName",
        "RunsTableName",
        "TopicArn",
        "PipelineName",
        "StartQueueUrl",
        "StartDeadLetterQueueUrl",
    } <= set(template["Outputs"])


# -- network: what training jobs in a VPC need


def test_the_stack_makes_an_s3_gateway_endpoint_unless_told_the_vpc_has_one(template):
    params = template["Parameters"]
    assert params["S3Endpoint"]["AllowedValues"] == ["create", "existing"]
    assert params["S3Endpoint"]["Default"] == "create"
    assert params["VpcId"]["Type"] == "AWS::EC2::VPC::Id"
    assert params["RouteTableIds"]["Type"] == "CommaDelimitedList"
    assert template["Conditions"]["CreateS3Endpoint"] == {
        "Fn::Equals": [{"Ref": "S3Endpoint"}, "create"]
    }
    endpoint = template["Resources"]["S3GatewayEndpoint"]
    assert endpoint["Condition"] == "CreateS3Endpoint"
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway"
    assert props["ServiceName"] == {"Fn::Sub": "com.amazonaws.${AWS::Region}.s3"}
    assert (props["VpcId"], props["RouteTableIds"]) == ({"Ref": "VpcId"}, {"Ref": "RouteTableIds"})
    # an endpoint without route tables serves nothing: the deploy stops with the reason
    rule = template["Rules"]["TheS3EndpointNeedsRouteTables"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "S3Endpoint"}, "create"]}
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Not": [{"Fn::Contains": [{"Ref": "RouteTableIds"}, ""]}]}


def _lustre_rules(template) -> set[tuple[str, int, int]]:
    rules = set()
    for resource in template["Resources"].values():
        if resource["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            props = resource["Properties"]
            peer = props.get("SourceSecurityGroupId") or props.get("DestinationSecurityGroupId")
            assert props["GroupId"] == peer == {"Ref": "DatabasesSecurityGroup"}  # within the group
            rules.add((resource["Type"].rsplit("::", 1)[1], props["FromPort"], props["ToPort"]))
    return rules


def test_the_stacks_file_system_and_the_jobs_share_a_group_open_to_lustre_only(template):
    assert _lustre_rules(template) == {
        (kind, low, high)
        for kind in ("SecurityGroupIngress", "SecurityGroupEgress")
        for low, high in ((988, 988), (1018, 1023))
    }
    fs = template["Resources"]["DatabasesFileSystem"]
    assert fs["Condition"] == "CreateFileSystem"
    props = fs["Properties"]
    assert props["SecurityGroupIds"] == [{"Ref": "DatabasesSecurityGroup"}]
    assert props["SubnetIds"] == [{"Fn::Select": [0, {"Ref": "SubnetIds"}]}]
    assert props["LustreConfiguration"]["DeploymentType"] == "PERSISTENT_2"
    assert props["StorageCapacity"] == {"Ref": "FsxStorageCapacityGiB"}
    # PERSISTENT_2 SSD sizes: 1,200 GiB, 2,400 GiB, then steps of 2,400 GiB
    for size in template["Parameters"]["FsxStorageCapacityGiB"]["AllowedValues"]:
        assert size == 1200 or size % 2400 == 0, size
    group = template["Resources"]["DatabasesSecurityGroup"]["Properties"]
    (placeholder,) = group["SecurityGroupEgress"]  # no allow-all egress left
    assert placeholder["CidrIp"] == "127.0.0.1/32"


def test_the_deploy_parameters_the_tests_use_are_what_sam_deploy_asks_for(template):
    """tests/infra/conftest.py's DEPLOY_PARAMETERS: exactly the parameters without a default."""
    from tests.infra.conftest import DEPLOY_PARAMETERS

    required = {name for name, spec in template["Parameters"].items() if "Default" not in spec}
    assert set(DEPLOY_PARAMETERS) == required
