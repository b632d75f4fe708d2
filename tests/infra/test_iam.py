"""Least privilege, checked on the transformed template so nothing SAM adds escapes it, and
each role's actions checked against the AWS calls its code really makes.

The second half runs each function's handler (and the databases setup job) under moto
through the paths its code can take, records every botocore call, turns each into the IAM
actions AWS authorises it by, and compares them with the role's statements: an action the
code uses that the role lacks fails (AccessDenied in the cloud), and so does one the role
grants that no path uses (and no AWS service uses on the role's behalf, listed with why).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from botocore.client import BaseClient
from botocore.stub import Stubber

from foldline.spec import layout
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP, STEPS
from tests.conftest import load_handler, sqs_batch
from tests.moto_stack import BUCKET, RUNS_TABLE
from tests.pipeline_runs import (
    EVENTS,
    IDEMPOTENCY_TABLE,
    job_name,
    set_execution_status,
    tar_gz,
)

#: actions AWS cannot scope to a resource, so "Resource": "*" is the only form; why each is here
UNSCOPABLE = {
    "ecr:GetAuthorizationToken": "the registry login token has no resource (SageMaker pulls the step images)",
    "ec2:DescribeNetworkInterfaces": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeVpcs": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeDhcpOptions": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeSubnets": "EC2 Describe* calls support no resource-level permissions",
    "ec2:DescribeSecurityGroups": "EC2 Describe* calls support no resource-level permissions",
    "fsx:DescribeFileSystems": "the Service Authorization Reference lists no resource type for it",
    "xray:PutTraceSegments": "X-Ray trace upload has no resource type (Powertools Tracer)",
    "xray:PutTelemetryRecords": "X-Ray telemetry has no resource type",
    "cloudwatch:PutMetricData": "metrics have no resource type; the statement is limited by namespace",
}
#: role -> S3 object prefixes (under the bucket) it may touch. The pipeline's role only
#: creates jobs; each step's job reaches what its step reads and writes, nothing more.
S3_PREFIXES = {
    "SageMakerExecutionRole": (),
    "MsaJobRole": (
        "msa-cache/*",
        "msa-cache/*/input/*",
        "msa-cache/*/manifest.json",
        "msa-cache/*/files/*",
        "msa-cache/*/search-lease.json",
        f"runs/*/{MSA_STEP.output_dir}/*",
    ),
    **{
        role: ("runs/*/input/*", f"runs/*/{MSA_STEP.output_dir}/*", f"runs/*/{step.output_dir}/*")
        for role, step in (("AlphaFoldJobRole", ALPHAFOLD_STEP), ("OpenFoldJobRole", OPENFOLD_STEP))
    },
    # msa-cache: the start function reads cache manifests (listing: 404 on a miss) and
    # stages the MSA step's FASTA under input/; databases-setup: which presets are ready
    "StartPipelineFunctionRole": (
        "inputs/*",
        "rejected/*",
        "runs/*/input/*",
        "msa-cache/*/manifest.json",
        "msa-cache/*/input/*",
        "msa-cache/*",
        layout.DATABASES_SETUP + "*",
        "campaigns/*/summary.json",  # a screening drop whose records were all refused
    ),
    "AnalysisFunctionRole": ("runs/*", "runs/*/report/*", "campaigns/*/summary.json"),
    # lists a failed run's outputs for its notice; the summary of a screening drop's end
    "NotifyFunctionRole": ("runs/*", "campaigns/*/summary.json"),
    "ProgressFunctionRole": (),
    "LowercaseFunctionRole": (),
    "DatabasesSetupRole": (layout.DATABASES + "*", layout.DATABASES_SETUP + "*"),
}
#: the stack's KMS keys: the customer's, or the one the stack makes without it
KEYS = ({"Ref": "KmsKeyArn"}, {"Fn::GetAtt": ["StackKey", "Arn"]})


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


def test_pass_role_only_for_the_pipeline_role_to_sagemaker_and_only_the_step_roles(statements):
    from pipeline import placeholders

    passes = [
        (r, s) for r, s in statements if any(a.startswith("iam:") for a in _as_list(s["Action"]))
    ]
    assert len(passes) == 1
    role, statement = passes[0]
    assert role == placeholders.ROLE
    assert _as_list(statement["Action"]) == ["iam:PassRole"]
    assert statement["Resource"] == [
        {"Fn::GetAtt": [r, "Arn"]} for r in placeholders.STEP_ROLES.values()
    ]
    assert statement["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_each_step_job_writes_only_its_own_outputs_and_starts_no_job(statements):
    """A compromised engine cannot rewrite a run's input or report, another step's
    outputs, or start training jobs of its own (the pipeline's role does that)."""
    from pipeline import placeholders

    for step in STEPS:
        role = placeholders.STEP_ROLES[step.name]
        writes = {
            _s3_object_prefix(r)
            for name, s in statements
            if name == role and "s3:PutObject" in _as_list(s["Action"])
            for r in _as_list(s["Resource"])
        }
        mine = f"runs/*/{step.output_dir}/*"
        assert mine in writes, role
        others = {p for p in writes if p.startswith(layout.RUNS)} - {mine}
        assert not others, (role, others)
        assert step is MSA_STEP or not any(p.startswith(layout.MSA_CACHE) for p in writes), role
        actions = {a for name, s in statements if name == role for a in _as_list(s["Action"])}
        assert not actions & {"sagemaker:CreateTrainingJob", "iam:PassRole"}, role
    pipeline_actions = {
        a for name, s in statements if name == placeholders.ROLE for a in _as_list(s["Action"])
    }
    assert not any(a.startswith("s3:") for a in pipeline_actions)


def _s3_object_prefix(resource: Any) -> str | None:
    """``${FoldlineBucket.Arn}/<prefix>`` -> prefix; None for the bucket itself."""
    if resource == {"Fn::GetAtt": ["FoldlineBucket", "Arn"]}:
        return None
    text = resource["Fn::Sub"]
    assert text.startswith("${FoldlineBucket.Arn}/"), text
    return text[len("${FoldlineBucket.Arn}/") :]


def test_each_role_reaches_only_its_prefixes(statements):
    for role, statement in statements:
        if not any(a.startswith("s3:") for a in _as_list(statement["Action"])):
            continue
        for resource in _as_list(statement["Resource"]):
            prefix = _s3_object_prefix(resource)
            if prefix is None:  # ListBucket: must be limited by prefix
                assert set(statement["Condition"]["StringLike"]["s3:prefix"]) <= set(
                    S3_PREFIXES[role]
                )
            else:
                assert prefix in S3_PREFIXES[role], (role, prefix)
    start_writes = {
        _s3_object_prefix(r)
        for role, s in statements
        if role == "StartPipelineFunctionRole" and "s3:PutObject" in _as_list(s["Action"])
        for r in _as_list(s["Resource"])
    }
    assert not any(
        p.startswith("inputs/") for p in start_writes
    )  # recursion-safe: no writes to inputs/


def test_each_role_reaches_only_this_stacks_tables_topic_pipeline_and_keys(statements):
    own = {
        "dynamodb:": [
            {"Fn::GetAtt": ["RunsTable", "Arn"]},
            {"Fn::GetAtt": ["IdempotencyTable", "Arn"]},
        ],
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
        if any(a.startswith("kms:") for a in actions):
            for resource in _as_list(statement["Resource"]):
                assert all(branch in KEYS for branch in _branches(resource)), (role, resource)


def test_the_setup_role_is_not_the_training_jobs_role(transformed, statements):
    """The download job writes the databases; the steps may only read them (FSx, read-only)."""
    writes = {
        role
        for role, s in statements
        if "s3:PutObject" in _as_list(s["Action"])
        and any(_s3_object_prefix(r) == layout.DATABASES + "*" for r in _as_list(s["Resource"]))
    }
    assert writes == {"DatabasesSetupRole"}
    trust = transformed["Resources"]["DatabasesSetupRole"]["Properties"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    }
    logs = [
        s
        for role, s in statements
        if role == "DatabasesSetupRole" and "logs:PutLogEvents" in _as_list(s["Action"])
    ]
    assert [s["Resource"]["Fn::Sub"].split(":log-group:")[1] for s in logs] == [
        "/aws/sagemaker/ProcessingJobs:*"
    ]


def test_sqs_and_bucket_resource_policies_allow_only_their_senders(transformed):
    for name in ("StartQueuePolicy", "EventsDeadLetterQueuePolicy"):
        for statement in transformed["Resources"][name]["Properties"]["PolicyDocument"][
            "Statement"
        ]:
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}
            assert statement["Action"] == "sqs:SendMessage"
            assert "aws:SourceArn" in json.dumps(statement["Condition"])
    bucket = transformed["Resources"]["FoldlineBucketPolicy"]["Properties"]["PolicyDocument"]
    assert all(s["Effect"] == "Deny" for s in bucket["Statement"])


def test_sagemaker_trust_is_limited_to_this_account(transformed):
    from pipeline import placeholders

    for role in (placeholders.ROLE, *placeholders.STEP_ROLES.values()):
        trust = transformed["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
        }


# -- the code's calls against the roles -----------------------------------------------------

#: actions an AWS service uses with the role on the code's behalf (no botocore call in the
#: code makes them), by role, with the reason. Each must be granted; anything else granted
#: must be used by the code.
_LAMBDA = {
    "logs:CreateLogStream": "Lambda writes the function's log (LoggingConfig)",
    "logs:PutLogEvents": "Lambda writes the function's log (LoggingConfig)",
    "xray:PutTraceSegments": "Lambda's active tracing sends the trace",
    "xray:PutTelemetryRecords": "Lambda's active tracing sends the trace",
}
_ON_FAILURE_QUEUE = {
    "sqs:SendMessage": "Lambda's on-failure destination (FunctionFailuresQueue) sends as the function",
}
_SAGEMAKER_JOB = {
    "ecr:GetAuthorizationToken": "SageMaker pulls the job's image with the job's role",
    "ecr:BatchGetImage": "SageMaker pulls the job's image with the job's role",
    "ecr:GetDownloadUrlForLayer": "SageMaker pulls the job's image with the job's role",
    "ecr:BatchCheckLayerAvailability": "SageMaker pulls the job's image with the job's role",
    "logs:CreateLogGroup": "SageMaker writes the job's log to /aws/sagemaker/ProcessingJobs",
    "logs:CreateLogStream": "SageMaker writes the job's log to /aws/sagemaker/ProcessingJobs",
    "logs:PutLogEvents": "SageMaker writes the job's log to /aws/sagemaker/ProcessingJobs",
    "logs:DescribeLogStreams": "SageMaker writes the job's log to /aws/sagemaker/ProcessingJobs",
    "cloudwatch:PutMetricData": "SageMaker publishes the job's instance metrics",
}
#: Powertools idempotency (notify, analysis) as its documentation lists its IAM needs: it
#: reads a record with GetItem where DynamoDB does not hand it back with the failed put
_IDEMPOTENCY = {
    "dynamodb:GetItem IdempotencyTable": "Powertools idempotency reads a record it could not put",
}
SERVICE_USED: dict[str, dict[str, str]] = {
    "StartPipelineFunctionRole": {
        **_LAMBDA,
        "sqs:ReceiveMessage": "the SQS event source mapping polls StartQueue with the function's role",
        "sqs:DeleteMessage": "the event source mapping deletes the batch's successes",
        "sqs:GetQueueAttributes": "the event source mapping reads the queue's attributes",
        "sqs:ChangeMessageVisibility": "the event source mapping returns failed records early",
    },
    "NotifyFunctionRole": {**_LAMBDA, **_ON_FAILURE_QUEUE, **_IDEMPOTENCY},
    "ProgressFunctionRole": {**_LAMBDA, **_ON_FAILURE_QUEUE},
    "AnalysisFunctionRole": {
        **_LAMBDA,
        **_IDEMPOTENCY,
        "lambda:InvokeFunction": "Lambda's on-failure destination invokes the notify function as the function",
    },
    "DatabasesSetupRole": {
        **_SAGEMAKER_JOB,
        "s3:AbortMultipartUpload": "boto3's transfer manager aborts a multipart upload that failed",
    },
}
#: what a call makes AWS do with a KMS key as the caller: SNS encrypts a message under the
#: topic's key; S3 encrypts and decrypts objects under a KmsKeyArn bucket's key
_KMS = {("kms:Decrypt", None), ("kms:GenerateDataKey", None)}
IMPLIES_KMS = {("sns", "Publish")} | {
    ("s3", op)
    for op in ("GetObject", "PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart")
}

#: the stack's DynamoDB tables by the names the functional stack gives them
TABLES = {RUNS_TABLE: "RunsTable", IDEMPOTENCY_TABLE: "IdempotencyTable"}


@contextlib.contextmanager
def recorded_calls() -> Iterator[list[tuple[str, str, dict]]]:
    """Every botocore API call made meanwhile, by any client: (IAM prefix, operation, params)."""
    calls: list[tuple[str, str, dict]] = []
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict) -> Any:
        calls.append((client.meta.service_model.signing_name, operation, dict(params)))
        return original(client, operation, params)

    BaseClient._make_api_call = record
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original


def iam_actions(prefix: str, operation: str, params: dict) -> set[tuple[str, str | None]]:
    """The IAM actions (with the DynamoDB table they act on) AWS checks for one call."""
    table = TABLES.get(params.get("TableName", ""))
    if prefix == "dynamodb":
        return {(f"dynamodb:{operation}", table)}
    if prefix != "s3":
        actions = {f"{prefix}:{operation}"}
        if prefix == "sagemaker" and operation.startswith("Create") and params.get("Tags"):
            actions.add("sagemaker:AddTags")  # tagging on create needs AddTags
        return {(a, None) for a in actions}
    version = "Version" if params.get("VersionId") else ""
    s3 = {
        "HeadObject": {f"s3:GetObject{version}"},
        "GetObject": {f"s3:GetObject{version}"},
        "GetObjectTagging": {f"s3:GetObject{version}Tagging"},
        "ListObjectsV2": {"s3:ListBucket"},
        "ListObjects": {"s3:ListBucket"},
        "PutObject": {"s3:PutObject"}
        | ({"s3:PutObjectTagging"} if params.get("Tagging") else set()),
        "CreateMultipartUpload": {"s3:PutObject"},
        "UploadPart": {"s3:PutObject"},
        "CompleteMultipartUpload": {"s3:PutObject"},
        "AbortMultipartUpload": {"s3:AbortMultipartUpload"},
        "DeleteObject": {f"s3:DeleteObject{version}"},
    }
    if operation == "CopyObject":  # the source's bytes and tags, written with its tags
        source = "Version" if "VersionId" in params["CopySource"] else ""
        found = {
            f"s3:GetObject{source}",
            f"s3:GetObject{source}Tagging",
            "s3:PutObject",
            "s3:PutObjectTagging",
        }
    else:
        found = s3[operation]
    return {(a, None) for a in found}


def granted(statements, role: str) -> set[tuple[str, str | None]]:
    found = set()
    for name, statement in statements:
        if name != role or statement["Effect"] != "Allow":
            continue
        for action in _as_list(statement["Action"]):
            tables = {
                r["Fn::GetAtt"][0]
                for r in _as_list(statement["Resource"])
                if isinstance(r, dict)
                and "Fn::GetAtt" in r
                and r["Fn::GetAtt"][0] in TABLES.values()
            }
            found |= (
                {(action, t) for t in tables}
                if action.startswith("dynamodb:")
                else {(action, None)}
            )
    return found


def compare(statements, role: str, calls: list[tuple[str, str, dict]]) -> None:
    used = set().union(*(iam_actions(*call) for call in calls))
    if any((prefix, operation) in IMPLIES_KMS for prefix, operation, _ in calls):
        used |= _KMS
    service = {(key.split()[0], (key.split() + [None])[1]) for key in SERVICE_USED[role]}
    allowed = granted(statements, role)
    missing = used - allowed
    unused = {
        (a, t) for a, t in allowed - used if (a, t) not in service and (a, None) not in service
    }
    assert not missing, (
        f"{role}: the code calls AWS with actions its role lacks: {sorted(missing, key=str)}"
    )
    assert not unused, f"{role}: granted, but no code path uses them: {sorted(unused, key=str)}"
    lacking = {a for a, _ in service} - {a for a, _ in allowed}
    assert not lacking, f"{role}: AWS uses these as the role, but it lacks them: {sorted(lacking)}"


def still_executing(execution_arn: str) -> None:
    """What SageMaker would report for a run in progress (moto's end at once)."""
    from moto.sagemaker.models import sagemaker_backends

    from foldline.spec.parameters import PIPELINE_NAME

    pipeline = sagemaker_backends["123456789012"]["us-east-1"].pipelines[PIPELINE_NAME]
    pipeline.pipeline_executions[execution_arn].pipeline_execution_status = "Executing"


FASTA = b">6KWC_1\nGSTIQPGTGYNNGYFYSYWNDGHGGVTYTNGPGGQFSVNWSNSGNFVGGKGWQPGTKNKVINFSGSYNPNGNSYLSVYGWSRNPLIEYYIVENFGTYNPSTGATKLGEVTSDGSVYDIYRTQRVNQPSIIGTATFYQYWSVRRNHRSSGSVNTANHFNAWAQQGLTLGTMDYQIVAVEGYFSSGSASITVS\n"


def test_the_start_functions_calls_match_its_role(stack, statements, lambda_context, monkeypatch):
    """Every path of the start function: a start, a tagged start, a rejection, a deferral,
    a screening drop."""
    queue = stack.sqs.create_queue(QueueName="StartQueue")["QueueUrl"]
    monkeypatch.setenv("FOLDLINE_MAX_CONCURRENT_EXECUTIONS", "1")
    monkeypatch.setenv("START_QUEUE_URL", queue)
    app = load_handler("start_pipeline")
    for cached in (app.start_context, app.sns_client, app.deferrer):
        cached.cache_clear()
    bad = stack.put("inputs/bad.fasta", b">gene\nATGGCGTACGATCGATCGATCGTAGCTAGCTAG\n")
    tagged = stack.put("inputs/tagged.fasta", FASTA, tags="ModelPreset=monomer_ptm")
    waits = stack.put("inputs/waits.fasta", FASTA)
    # a screening drop whose one record is refused: its campaign ends in the start function
    screen = stack.put("inputs/screen.fasta", b">dna\nATGGCGTACGATCGATCGATCGTAGC\n", "Mode=screen")
    with recorded_calls() as calls:
        for events in (bad, tagged, screen):
            assert app.lambda_handler(sqs_batch(events), lambda_context) == {
                "batchItemFailures": []
            }
        for execution in stack.executions():  # still running: the next upload finds the gate full
            still_executing(execution["PipelineExecutionArn"])
        assert app.lambda_handler(sqs_batch(waits), lambda_context) == {"batchItemFailures": []}
    assert len(stack.executions()) == 1  # one started, one rejected, one deferred
    delayed = stack.sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert delayed["ApproximateNumberOfMessagesDelayed"] == "1"  # the deferral
    compare(statements, "StartPipelineFunctionRole", calls)
    # the fault this caught: idempotency-table rights the start function never used
    idempotency = {
        "Effect": "Allow",
        "Action": ["dynamodb:GetItem", "dynamodb:PutItem"],
        "Resource": {"Fn::GetAtt": ["IdempotencyTable", "Arn"]},
    }
    with pytest.raises(AssertionError, match="IdempotencyTable"):
        compare(
            [*statements, ("StartPipelineFunctionRole", idempotency)],
            "StartPipelineFunctionRole",
            calls,
        )


def _as_campaign_member(run) -> None:
    """Make ``run`` the one record of a screening drop: its end sends the campaign's summary
    (and writes campaigns/<id>/summary.json) from the function that records the end."""
    from foldline.runs.campaigns import Campaigns
    from foldline.runs.table import RunsTable

    runs = RunsTable(RUNS_TABLE, run.stack.dynamodb)
    campaign_id = "drop-0123456789abcdef0123456789abcdef"
    runs.update(run.run_id, campaign=campaign_id, campaign_record=1)
    Campaigns(runs).create(
        campaign_id,
        bucket=BUCKET,
        key="inputs/drop.fasta",
        members=[{"number": 1, "record_id": "6kwc", "run_id": run.run_id}],
        expected=1,
    )


def _steps_client(run, failed: str | None = None, msa_from: str | None = None) -> Any:
    """ListPipelineExecutionSteps (moto lacks it) through a stubbed client: each step with its
    training job, RunMSA a step-cache hit of ``msa_from`` where given."""
    client = boto3.client("sagemaker")
    stub = Stubber(client)
    arn = "arn:aws:sagemaker:us-east-1:123456789012:training-job/"
    steps = [
        {
            "StepName": s,
            "StepStatus": "Failed" if s == failed else "Succeeded",
            "Metadata": {"TrainingJob": {"Arn": arn + job_name(run.execution_arn, step).lower()}},
        }
        for s, step in ((step.name, step) for step in STEPS)
    ]
    if msa_from:
        steps[0]["CacheHitResult"] = {"SourcePipelineExecutionArn": msa_from}
    for _ in range(4):
        stub.add_response("list_pipeline_execution_steps", {"PipelineExecutionSteps": steps})
    stub.activate()
    return client


def test_the_notify_functions_calls_match_its_role(ended_run, statements, lambda_context):
    """A failed run, an analysis that gave up (its models found by listing), and an event
    that fails (Powertools lets its record go, so the retry can run)."""
    from foldline.events.pipeline import list_execution_steps

    run = ended_run
    app = load_handler("notify")
    app.notify_context.cache_clear()
    app.notify_context().list_steps = partial(
        list_execution_steps, _steps_client(run, "RunOpenFold")
    )
    set_execution_status(run, "Failed")
    run.place_outputs()
    _as_campaign_member(run)
    given_up = json.loads((EVENTS / "analysis-on-failure.json").read_text())
    given_up["requestPayload"] = run.event("pipeline-succeeded.json")
    with recorded_calls() as calls:
        app.lambda_handler(run.event("pipeline-failed.json"), lambda_context)
        app.lambda_handler(given_up, lambda_context)
    run.stack.dynamodb.Table(RUNS_TABLE).delete()  # the next event fails: Powertools lets go
    stopped = run.event("pipeline-stopped.json")
    stopped["detail"]["pipelineExecutionArn"] += "x"  # another execution (not a duplicate)
    with recorded_calls() as failing, pytest.raises(Exception):  # noqa: B017 - whichever: the calls count
        app.lambda_handler(stopped, lambda_context)
    calls += failing
    compare(statements, "NotifyFunctionRole", calls)
    # the fault this caught: the notice's fallback listing of the run's outputs was refused
    no_listing = [
        (r, s)
        for r, s in statements
        if not (r == "NotifyFunctionRole" and "s3:ListBucket" in _as_list(s["Action"]))
    ]
    with pytest.raises(AssertionError, match="s3:ListBucket"):
        compare(no_listing, "NotifyFunctionRole", calls)


def test_the_progress_functions_calls_match_its_role(ended_run, statements, lambda_context):
    app = load_handler("progress")
    app.clients.cache_clear()
    with recorded_calls() as calls:
        app.lambda_handler(ended_run.event("step-succeeded.json"), lambda_context)
        app.lambda_handler(ended_run.event("step-failed.json"), lambda_context)
    compare(statements, "ProgressFunctionRole", calls)


def _already_exists(**_kwargs: Any) -> tuple[Any, dict]:
    """SageMaker's answer to a Create* of a name that exists (moto accepts it twice)."""
    from botocore.awsrequest import AWSResponse

    error = {"Code": "ValidationException", "Message": "Trial Component already exists"}
    return AWSResponse("https://api.sagemaker", 400, {}, None), {
        "Error": error,
        "ResponseMetadata": {"HTTPStatusCode": 400},
    }


def test_the_analysis_functions_calls_match_its_role(ended_run, statements, lambda_context):
    """A succeeded run analysed on a retry (its trial component made by the first try, its
    MSA a step-cache hit), the same event again, and a run whose archive is broken."""
    from foldline.events.pipeline import list_execution_steps

    run = ended_run
    app = load_handler("analysis")
    app.analysis_context.cache_clear()
    context = app.analysis_context()
    context.list_steps = partial(
        list_execution_steps, _steps_client(run, msa_from=run.execution_arn)
    )
    run.stack.sagemaker.create_trial_component(TrialComponentName=f"{run.run_id}-comparison")
    context.sagemaker.meta.events.register(
        "before-call.sagemaker.CreateTrialComponent", _already_exists
    )
    run.place_outputs()
    _as_campaign_member(run)
    event = run.event("pipeline-succeeded.json")
    with recorded_calls() as calls:
        assert app.lambda_handler(event, lambda_context)["action"] == "reported"
        app.lambda_handler(event, lambda_context)  # a redelivery: the stored result
        run.place_outputs(alphafold=b"not a gzip file")
        broken = run.event("pipeline-succeeded.json")
        broken["detail"]["pipelineExecutionArn"] += "x"  # another execution: analysed afresh
        with pytest.raises(Exception):  # noqa: B017 - whichever: the calls count
            app.lambda_handler(broken, lambda_context)
    compare(statements, "AnalysisFunctionRole", calls)


def test_the_setup_jobs_calls_match_its_role(stack, statements, tmp_path):
    """The job program fetches a database and records it, then the preset; run twice (the
    second finds the record and fetches nothing)."""
    from foldline.databases import download as download_databases
    from foldline.databases import presets as genetic_databases

    archive = tmp_path / "params.tar"
    archive.write_bytes(tar_gz({"params_model_1.npz": b"weights"}))
    database = genetic_databases.Database(
        "params", genetic_databases.TAR, (archive.as_uri(),), 0, 0
    )
    with recorded_calls() as calls:
        for _ in range(2):
            download_databases.setup(
                "reduced_dbs",
                BUCKET,
                databases=[database],
                work=tmp_path / "work",
                s3=boto3.client("s3"),
                log=lambda _message: None,
            )
    assert f"{layout.DATABASES}params/params_model_1.npz" in stack.keys(layout.DATABASES)
    compare(statements, "DatabasesSetupRole", calls)


# -- the steps' jobs: every object their code and SageMaker touch, against their roles --------


def _resource_patterns(statements, role: str, action: str) -> list[tuple[str, dict]]:
    """(ARN pattern with ``*``, condition) of every Allow of ``action`` to ``role``, the
    bucket's ARN written ``arn:aws:s3:::BUCKET``."""
    found = []
    for name, statement in statements:
        if (
            name != role
            or statement["Effect"] != "Allow"
            or action not in _as_list(statement["Action"])
        ):
            continue
        for resource in _as_list(statement["Resource"]):
            prefix = _s3_object_prefix(resource)
            arn = f"arn:aws:s3:::{BUCKET}" + ("" if prefix is None else f"/{prefix}")
            found.append((arn, statement.get("Condition") or {}))
    return found


def _allowed(statements, role: str, action: str, arn: str, prefix: str | None = None) -> bool:
    import fnmatch

    for pattern, condition in _resource_patterns(statements, role, action):
        if not fnmatch.fnmatchcase(arn, pattern):
            continue
        wanted = condition.get("StringLike", {}).get("s3:prefix")
        if wanted is None or any(fnmatch.fnmatchcase(prefix or "", p) for p in _as_list(wanted)):
            return True
    return False


def _s3_requests(calls: list[tuple[str, str, dict]]) -> list[tuple[str, str, str | None]]:
    """(IAM action, resource ARN, listed prefix) of each S3 call."""
    found = []
    for prefix, operation, params in calls:
        if prefix != "s3":
            continue
        if operation in ("ListObjectsV2", "ListObjects"):
            found.append(
                ("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}", params.get("Prefix", ""))
            )
            continue
        for action, _ in iam_actions(prefix, operation, params):
            found.append((action, f"arn:aws:s3:::{params['Bucket']}/{params['Key']}", None))
    return found


def _sagemaker_requests(
    run_id: str, step, channels: dict[str, str]
) -> list[tuple[str, str, str | None]]:
    """What SageMaker does with the step's role around the job: list and read each input
    channel (File mode), write the model archive under the step's output path."""
    found = []
    for uri in channels.values():
        _, key = layout.split_s3_uri(uri)
        found.append(("s3:ListBucket", f"arn:aws:s3:::{BUCKET}", key))
        found.append(("s3:GetObject", f"arn:aws:s3:::{BUCKET}/{key}any-file", None))
    output = layout.step_output_prefix(run_id, step.output_dir)
    found.append(
        (
            "s3:PutObject",
            (
                f"arn:aws:s3:::{BUCKET}/{output}pipelines-x-{step.name}-abc/output/"
                f"{layout.MODEL_ARCHIVE}"
            ),
            None,
        )
    )
    return found


def test_each_step_roles_grants_cover_what_its_job_touches_and_no_other_step(stack, statements):
    """The MSA step's cache code runs under moto (a miss, a store, a hit), its calls are
    recorded; with what SageMaker does for each step (its channels, its output), every
    object is checked against the step's role, and against the other steps' roles."""
    from foldline.steps import msa_cache, msa_lease
    from pipeline import placeholders

    run_id = "6kwc-0123456789abcdef0123456789abcdef"
    key = msa_cache.cache_key(
        ["GSTIQPGTGYNNGYFYSYWNDGHGG"],
        db_preset="reduced_dbs",
        max_template_date="2026-11-01",
        model_preset="monomer",
        engine="pyhmmer",
    )
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp, recorded_calls() as calls:
        source = Path(tmp) / "model"
        (source / "msas").mkdir(parents=True)
        (source / "msas" / "uniref90_hits.sto").write_text("# STOCKHOLM 1.0\n//\n")
        assert msa_cache.lookup(stack.s3, BUCKET, key.key) is None
        lease = msa_lease.claim(stack.s3, BUCKET, key.key, run_id, 60)  # one search at a time
        assert msa_lease.claim(stack.s3, BUCKET, key.key, "another-run", 60) is None
        assert msa_lease.renew(stack.s3, BUCKET, key.key, lease, 60)
        msa_cache.store(stack.s3, BUCKET, key, source, origin_run=run_id, engine="pyhmmer")
        assert msa_lease.release(stack.s3, BUCKET, key.key, lease)
        entry = msa_cache.lookup(stack.s3, BUCKET, key.key)
        msa_cache.fetch(stack.s3, BUCKET, entry, Path(tmp) / "again")
    msa_requests = _s3_requests(calls) + _sagemaker_requests(
        run_id, MSA_STEP, {"fasta": msa_cache.cache_uri(BUCKET, key.key) + layout.INPUT_DIR + "/"}
    )
    inference_channels = {
        "fasta": f"s3://{BUCKET}/{layout.run_input_prefix(run_id)}",
        "msa": f"s3://{BUCKET}/{layout.step_output_prefix(run_id, 'msa')}x/output/model.tar.gz",
    }
    requests = {MSA_STEP: msa_requests}
    for step in (ALPHAFOLD_STEP, OPENFOLD_STEP):
        requests[step] = _sagemaker_requests(run_id, step, inference_channels)
    for step, wanted in requests.items():
        role = placeholders.STEP_ROLES[step.name]
        for action, arn, prefix in wanted:
            assert _allowed(statements, role, action, arn, prefix), (role, action, arn, prefix)
        for other in STEPS:  # another step's role may not write this step's outputs
            if other is step:
                continue
            writes = [(a, r) for a, r, _ in wanted if a == "s3:PutObject"]
            assert not any(
                _allowed(statements, placeholders.STEP_ROLES[other.name], a, r) for a, r in writes
            ), (other.name, step.name)
