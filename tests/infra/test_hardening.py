"""Hardening beyond IAM (tests/infra/test_iam.py) and the bucket basics (test_template.py):
TLS on objects too, encryption on both sides of the KMS option, recursion safety, the
genetic databases mounted read-only, report links that expire, no secrets in the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from foldline import layout
from pipeline import embedded

ROOT = Path(__file__).resolve().parents[2]


def _branches(value):
    """Both results of an Fn::If, or the value itself."""
    if isinstance(value, dict) and set(value) == {"Fn::If"}:
        return value["Fn::If"][1:]
    return [value]


def test_the_bucket_refuses_plain_http_for_the_bucket_and_every_object(template):
    (deny,) = template["Resources"]["FoldlineBucketPolicy"]["Properties"]["PolicyDocument"][
        "Statement"]  # fmt: skip
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "s3:*")
    assert deny["Resource"] == [
        {"Fn::GetAtt": ["FoldlineBucket", "Arn"]},
        {"Fn::Sub": "${FoldlineBucket.Arn}/*"},
    ]


def test_bucket_and_topic_are_encrypted_with_or_without_a_customer_key(template):
    resources = template["Resources"]
    sse = resources["FoldlineBucket"]["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"][0]  # fmt: skip
    kms, s3 = _branches(sse["ServerSideEncryptionByDefault"])
    assert kms == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Ref": "KmsKeyArn"}}
    assert s3 == {"SSEAlgorithm": "AES256"}
    topic_key = resources["NotificationsTopic"]["Properties"]["KmsMasterKeyId"]
    assert _branches(topic_key) == [{"Ref": "KmsKeyArn"}, "alias/aws/sns"]
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
        actions, resources = (v if isinstance(v, list) else [v]
                              for v in (statement["Action"], statement["Resource"]))  # fmt: skip
        if not any(a.startswith(("s3:Put", "s3:Copy", "s3:Restore")) for a in actions):
            continue
        for resource in resources:
            text = resource["Fn::Sub"]
            assert text.startswith("${FoldlineBucket.Arn}/"), (role, text)
            prefix = text[len("${FoldlineBucket.Arn}/"):]
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
    from foldline.analysis_run import MAX_LINK_EXPIRY_S, AnalysisContext

    assert MAX_LINK_EXPIRY_S == 7 * 24 * 3600  # SigV4's limit
    common = dict(s3=None, sagemaker=None, sns=None, runs=None, bucket="b", topic_arn="t")
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
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
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
