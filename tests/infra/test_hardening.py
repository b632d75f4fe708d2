"""Hardening beyond IAM (tests/infra/test_iam.py) and the bucket basics (test_template.py):
TLS on objects too, encryption on both sides of the KMS option, recursion safety, the
genetic databases mounted read-only, report links that expire, no secrets in the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from foldline.spec import layout
from pipeline import embedded
from tests.strict_skips import PLATFORM_SKIP

ROOT = Path(__file__).resolve().parents[2]


def _branches(value):
    """Both results of an Fn::If, or the value itself."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return value["Fn::If"][1:]
    return [value]


def test_the_bucket_refuses_plain_http_for_the_bucket_and_every_object(template):
    (deny,) = template["Resources"]["FoldlineBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"
    ]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == [
        {"Fn::GetAtt": ["FoldlineBucket", "Arn"]},
        {"Fn::Sub": "${FoldlineBucket.Arn}/*"},
    ]


def test_bucket_and_topic_are_encrypted_with_or_without_a_customer_key(template):
    resources = template["Resources"]
    sse = resources["FoldlineBucket"]["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ][0]
    kms, s3 = _branches(sse["ServerSideEncryptionByDefault"])
    assert kms == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "KmsKeyArn"}}
    assert s3 == {"SSEAlgorithm": "AES256"}
    topic_key = resources["NotificationsTopic"]["Properties"]["KmsMasterKeyId"]
    # a customer managed key either way: CloudWatch cannot publish under alias/aws/sns
    assert _branches(topic_key) == [{"Ref": "KmsKeyArn"}, {"Ref": "StackKey"}]
    for name in ("RunsTable", "IdempotencyTable"):
        assert resources[name]["Properties"]["SSESpecification"]["SSEEnabled"] is True
    for name, resource in resources.items():
        if resource["Type"] == "AWS::SQS::Queue":
            assert resource["Properties"]["SqsManagedSseEnabled"] is True, name


# -- recursion safety: nothing foldline writes can land under inputs/ and start a run


@pytest.mark.parametrize(
    "key",
    [
        layout.rejected_key("inputs/a.fasta"),
        layout.reason_key("inputs/a.fasta"),
        layout.rejected_key("inputs/inputs/nested.fasta"),
        layout.run_input_key("a-" + "0" * 32, "a.fasta"),
        layout.step_output_prefix("a-" + "0" * 32, "msa"),
        layout.report_prefix("a-" + "0" * 32),
        layout.msa_cache_prefix("k"),
        layout.comparison_prefix("c"),
    ],
)
def test_no_output_key_is_under_inputs(key):
    assert not key.startswith(layout.INPUTS), key
    assert not layout.is_input_key(key)


def test_the_pipeline_writes_only_under_runs():
    definition = embedded.load_definition()
    outputs = []
    for step in definition["Steps"]:
        config = step["Arguments"].get("OutputDataConfig")
        if config:
            outputs.append(config["S3OutputPath"])
    assert len(outputs) == 3
    for path in outputs:
        first = path["Std:Join"]["Values"][0] if isinstance(path, dict) else path
        assert first.startswith("s3://${FoldlineBucket}/" + layout.RUNS), first


def test_no_role_may_write_under_inputs(transformed):
    from tests.infra.test_iam import identity_statements

    writes = 0
    for role, statement in identity_statements(transformed):
        actions, resources = (
            v if isinstance(v, list) else [v] for v in (statement["Action"], statement["Resource"])
        )
        if not any(a.startswith(("s3:Put", "s3:Copy", "s3:Restore")) for a in actions):
            continue
        for resource in resources:
            text = resource["Fn::Sub"]
            assert text.startswith("${FoldlineBucket.Arn}/"), (role, text)
            prefix = text[len("${FoldlineBucket.Arn}/") :]
            assert not prefix.startswith((layout.INPUTS, "*")), (role, text)
            writes += 1
    assert writes >= 4  # the walk found the write statements at all


def test_the_inputs_rule_matches_only_inputs(template):
    pattern = template["Resources"]["InputsRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["object"]["key"] == [{"prefix": layout.INPUTS}]
    assert pattern["detail-type"] == ["Object Created"]


# -- the genetic databases


def test_every_step_mounts_the_databases_read_only():
    definition = embedded.load_definition()
    mounts = [
        channel["DataSource"]["FileSystemDataSource"]
        for step in definition["Steps"]
        for channel in step["Arguments"].get("InputDataConfig", [])
        if "FileSystemDataSource" in channel["DataSource"]
    ]
    assert len(mounts) == 3
    assert {m["FileSystemAccessMode"] for m in mounts} == {"ro"}


# -- links in notices


def test_report_links_expire_within_seven_days():
    from foldline.outcomes.succeeded import MAX_LINK_EXPIRY_S, AnalysisContext

    assert MAX_LINK_EXPIRY_S == 7 * 24 * 3600  # SigV4's limit
    common = {
        "s3": None,
        "sagemaker": None,
        "sns": None,
        "runs": None,
        "bucket": "b",
        "topic_arn": "t",
    }
    for bad in (0, MAX_LINK_EXPIRY_S + 1):
        with pytest.raises(ValueError):
            AnalysisContext(**common, link_expiry_s=bad)
    assert AnalysisContext(**common).link_expiry_s <= MAX_LINK_EXPIRY_S


# -- secrets


_SECRET_PATTERNS = [
    re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),  # access key ids
    re.compile(r"aws_secret_access_key\s*[=:]\s*['\"]?[A-Za-z0-9/+]{40}"),
    re.compile(r"-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----"),
]


def test_no_credentials_in_the_tracked_files():
    listed = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        pytest.skip(PLATFORM_SKIP + "not a git checkout")
    found = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        found += [(name, p.pattern) for p in _SECRET_PATTERNS if p.search(text)]
    assert found == []


# -- the notices topic, its key and the alarms that publish to it


def _resolve_refs(value):
    """Ref and GetAtt turned into the logical ids they name (enough to follow the wiring)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        return value["Ref"]
    if isinstance(value, dict) and set(value) == {"Fn::GetAtt"}:
        return value["Fn::GetAtt"][0]
    return value


def test_the_topic_takes_tls_only_and_publishes_only_this_stacks_alarms(template):
    resources = template["Resources"]
    policy = resources["NotificationsTopicPolicy"]["Properties"]
    assert policy["Topics"] == [{"Ref": "NotificationsTopic"}]
    deny, alarms = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sns:Publish")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == "sns:Publish"
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert alarms["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(
        ":alarm:${AWS::StackName}-*"
    )


def test_the_stacks_key_rotates_and_admits_cloudwatch_for_this_stacks_alarms_only(template):
    key = template["Resources"]["StackKey"]
    assert key["Condition"] == "MakeKey"
    assert template["Conditions"]["MakeKey"] == {"Fn::Equals": [{"Ref": "KmsKeyArn"}, ""]}
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = {s["Sid"]: s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    cloudwatch = statements["ThisStacksAlarmsPublishToTheTopic"]
    assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"]["StringEquals"] == {
        "aws:SourceAccount": {"Ref": "AWS::AccountId"}
    }
    admin = statements["AccountAdministersAndIamPoliciesGrantUse"]
    assert admin["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }


def dead_letter_queues(template) -> set[str]:
    """Every queue the stack parks failed work in, found from the wiring itself: redrive
    targets, EventBridge targets' dead-letter configs, functions' on-failure destinations."""
    found = set()
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        redrive = props.get("RedrivePolicy")
        if redrive:
            found.add(_resolve_refs(redrive["deadLetterTargetArn"]))
        for target in props.get("Targets", []):
            if "DeadLetterConfig" in target:
                found.add(_resolve_refs(target["DeadLetterConfig"]["Arn"]))
        for event in (props.get("Events") or {}).values():
            config = event.get("Properties", {}).get("DeadLetterConfig")
            if config:
                found.add(_resolve_refs(config["Arn"]))
        on_failure = (
            (props.get("EventInvokeConfig") or {}).get("DestinationConfig", {}).get("OnFailure")
        )
        if on_failure and on_failure.get("Type") == "SQS":
            found.add(_resolve_refs(on_failure["Destination"]))
    return found


def test_every_dead_letter_queue_alarms_to_the_topic_at_its_first_message(template):
    queues = dead_letter_queues(template)
    assert queues == {"StartDeadLetterQueue", "EventsDeadLetterQueue", "FunctionFailuresQueue"}
    alarmed = {}
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        (dimension,) = props["Dimensions"]
        assert dimension["Name"] == "QueueName"
        alarmed[dimension["Value"]["Fn::GetAtt"][0]] = props
    assert set(alarmed) == queues
    for queue, props in alarmed.items():
        assert (props["Namespace"], props["MetricName"]) == (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
        )
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
        assert props["AlarmActions"] == [{"Ref": "NotificationsTopic"}]
        assert props["TreatMissingData"] == "notBreaching"
        assert "foldline redrive --queue" in props["AlarmDescription"], queue


# -- the steps' volumes and outputs under the stack's key


#: instance families with no instance store (EBS only): SageMaker accepts a VolumeKmsKeyId
#: for them, and refuses one for families with local NVMe storage (g5, g6, g6e, p4d, p5:
#: encrypted in hardware). Source: EC2 "Instance store volumes" table, ResourceConfig docs.
EBS_ONLY_FAMILIES = {"m5", "m6i", "m7i", "c5", "c6i", "c7i", "r5", "r6i", "r7i"}


def test_steps_encrypt_outputs_and_the_msa_volume_with_the_stacks_key(template):
    from foldline.spec import parameters as fp
    from pipeline import definition as pipeline_definition
    from pipeline import placeholders

    steps = {s["Name"]: s["Arguments"] for s in embedded.load_definition()["Steps"]}
    for name, args in steps.items():
        assert args["OutputDataConfig"]["KmsKeyId"] == placeholders.ref(placeholders.OUTPUT_KMS_KEY)
        volume = args["ResourceConfig"].get("VolumeKmsKeyId")
        if name in pipeline_definition.KMS_VOLUME_STEPS:
            assert volume == placeholders.ref(placeholders.VOLUME_KMS_KEY), name
        else:
            assert volume is None, name
    assert pipeline_definition.KMS_VOLUME_STEPS == {fp.MSA_STEP.name}
    families = {t.split(".")[1] for t in fp.MSA_INSTANCE_TYPES}
    assert families <= EBS_ONLY_FAMILIES, families - EBS_ONLY_FAMILIES
    sub = template["Resources"]["FoldPipeline"]["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]["Fn::Sub"][1]
    # KmsKeyArn when given; never empty without it (the definition has one form only)
    assert sub["VolumeKmsKeyId"] == {
        "Fn::If": ["UseKmsKey", {"Ref": "KmsKeyArn"}, {"Fn::GetAtt": ["StackKey", "Arn"]}]
    }
    assert sub["OutputKmsKeyId"] == {"Fn::If": ["UseKmsKey", {"Ref": "KmsKeyArn"}, "alias/aws/s3"]}
