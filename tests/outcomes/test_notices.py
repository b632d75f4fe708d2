"""What foldline tells people: subjects under 100 characters, plain-text bodies, attributes."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from foldline.outcomes.notices import (
    SUBJECT_LIMIT,
    ResultSummary,
    StepReport,
    analysis_failed_notice,
    clip_subject,
    ended_notice,
    publish,
    rejected_notice,
    succeeded_notice,
)

RUN_ID = "6kwc-75408978aa678e54c65712db9deb8884"
ARN = "arn:aws:sagemaker:us-east-1:123456789012:pipeline/proteinfoldworkflow/execution/k3v9q2x8m1za"
SUMMARY = ResultSummary(
    tm_score=0.98765,
    tm_normalised_by=195,
    rmsd=0.4321,
    gdt_ts=0.9615,
    ca_lddt=0.912,
    plddt_mean={"AlphaFold": 86.04, "OpenFold": 86.04},
    compared={
        "AlphaFold": "ranked_0.pdb",
        "OpenFold": "predictions/6KWC_1_model_1_ptm_relaxed.pdb",
    },
    engines={"AlphaFold": "alphafold 2.3.2", "OpenFold": "openfold 2.2.0"},
    runtimes_s={"RunMSA": 3725.0, "RunAlphaFold": 1800.4},
)


def attrs(notice) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in notice.attributes().items()}


def succeeded(target: str = "6kwc"):
    return succeeded_notice(
        target=target,
        run_id=RUN_ID,
        summary=SUMMARY,
        report_url="https://bucket.s3.amazonaws.com/runs/x/report/report.html?X-Amz-Signature=abc",
        report_uri="s3://bucket/runs/x/report/",
        link_expires_at="2026-12-03 15:12 UTC",
        model_uris={"RunAlphaFold": "s3://bucket/runs/x/alphafold/job/output/model.tar.gz"},
    )


def test_success_leads_with_the_tm_score_and_links_the_report():
    notice = succeeded()
    assert len(notice.subject) < SUBJECT_LIMIT
    assert "TM-score 0.9877" in notice.subject and "6kwc" in notice.subject
    body = notice.body
    assert "TM-score: 0.9877 (normalised by the reference's 195 residues)" in body
    assert "RMSD (CA, after optimal superposition): 0.43 Å" in body
    assert (
        "GDT_TS (the TMscore program's): 0.962" in body and "CA-lDDT (CA atoms only): 0.912" in body
    )
    assert "Mean pLDDT: AlphaFold 86.0, OpenFold 86.0" in body
    assert "OpenFold: predictions/6KWC_1_model_1_ptm_relaxed.pdb" in body
    assert "RunMSA: 1 h 02 min" in body and "RunAlphaFold: 30 min 00 s" in body
    assert "X-Amz-Signature=abc" in body and "2026-12-03 15:12 UTC" in body
    assert "<" not in body  # plain text, not HTML
    assert attrs(notice) == {"status": "succeeded", "target": "6kwc", "run_id": RUN_ID}


def test_a_local_success_names_the_report_file_and_no_link():
    notice = succeeded_notice(
        target="6kwc",
        run_id=RUN_ID,
        summary=SUMMARY,
        report_url="/work/foldline-local/reports/r/report.html",
        report_uri="s3://bucket/runs/x/report/",
        link_expires_at=None,
        model_uris={},
    )
    lines = notice.body.splitlines()
    at = lines.index("/work/foldline-local/reports/r/report.html")
    assert (
        "foldline local run" in lines[at - 1]
        and f"foldline results {RUN_ID} --local --open" in lines[at - 1]
    )
    assert "this link works" not in notice.body


def test_missing_numbers_read_as_not_available():
    notice = succeeded_notice(
        target="t",
        run_id=RUN_ID,
        summary=ResultSummary(tm_score=None, tm_normalised_by=None, rmsd=None),
        report_url="u",
        report_uri="s3://b/r/",
        link_expires_at="x",
        model_uris={},
    )
    assert "TM-score: n/a" in notice.body and "Mean pLDDT: n/a" in notice.body


def test_long_targets_keep_subjects_under_the_limit():
    notice = succeeded("T" * 300)
    assert len(notice.subject) < SUBJECT_LIMIT
    assert "\n" not in clip_subject("two\nlines")


def test_a_failed_run_names_the_step_its_reason_and_its_logs():
    steps = [
        StepReport("RunMSA", "Succeeded", output_uri="s3://b/runs/x/msa/j/output/model.tar.gz"),
        StepReport("RunAlphaFold", "Stopped"),
        StepReport(
            "RunOpenFold",
            "Failed",
            failure_reason="AlgorithmError: CUDA out of memory",
            training_job="pipelines-k3v9q2x8m1za-RunOpenFold-Vb7RkW2xNs",
            log_links=("https://console/logs", "aws logs tail /aws/sagemaker/TrainingJobs ..."),
        ),
    ]
    notice = ended_notice(
        status="failed",
        target="6kwc",
        run_id=RUN_ID,
        execution_arn=ARN,
        steps=steps,
        execution_failure_reason="Step failure: One or multiple steps failed.",
        msa_engine="mmseqs2",
    )
    assert notice.subject.startswith("foldline: 6kwc failed at RunOpenFold: AlgorithmError")
    assert len(notice.subject) < SUBJECT_LIMIT
    body = notice.body
    assert body.index("Step RunOpenFold: Failed") < body.index("Step RunMSA: Succeeded")
    assert "Reason: AlgorithmError: CUDA out of memory" in body
    assert "Training job: pipelines-k3v9q2x8m1za-RunOpenFold-Vb7RkW2xNs" in body
    assert "https://console/logs" in body
    assert "Outputs: s3://b/runs/x/msa/j/output/model.tar.gz" in body
    assert "Pipeline failure reason: Step failure" in body and ARN in body
    assert "MSA engine (MsaEngine): mmseqs2" in body
    assert attrs(notice) == {
        "status": "failed",
        "target": "6kwc",
        "run_id": RUN_ID,
        "failed_step": "RunOpenFold",
    }


def test_a_stopped_run_and_a_failure_without_step_details():
    stopped = ended_notice(
        status="stopped",
        target="6kwc",
        run_id=RUN_ID,
        execution_arn=ARN,
        steps=[StepReport("RunMSA", "Stopped")],
    )
    assert stopped.subject == f"foldline: 6kwc stopped (run {RUN_ID})"
    assert attrs(stopped)["status"] == "stopped" and "failed_step" not in attrs(stopped)
    unknown = ended_notice(
        status="failed",
        target="6kwc",
        run_id=RUN_ID,
        execution_arn=ARN,
        steps=[],
        steps_unavailable="not implemented",
    )
    assert "could not be listed: not implemented" in unknown.body
    assert unknown.subject == f"foldline: 6kwc failed (run {RUN_ID})"


def test_analysis_failure_says_the_models_are_still_available():
    uris = {
        "RunAlphaFold": "s3://b/runs/x/alphafold/j/output/model.tar.gz",
        "RunOpenFold": "s3://b/runs/x/openfold/k/output/model.tar.gz",
    }
    notice = analysis_failed_notice(
        target="6kwc", run_id=RUN_ID, error="CorruptOutput: bad gzip", model_uris=uris, attempts=3
    )
    assert "analysis failed" in notice.subject and len(notice.subject) < SUBJECT_LIMIT
    assert "failed after 3 attempts" in notice.body
    assert "Error: CorruptOutput: bad gzip" in notice.body
    for uri in uris.values():
        assert uri in notice.body
    assert attrs(notice)["status"] == "analysis-failed"


def test_publish_sends_subject_body_and_filterable_attributes():
    with mock_aws():
        sns = boto3.client("sns", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="t")["TopicArn"]
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"FilterPolicy": '{"status": ["succeeded"]}'},
        )
        publish(
            sns,
            topic,
            rejected_notice(
                bucket="b",
                key="inputs/x.fasta",
                reason="empty file",
                code="empty",
                kept_at="rejected/x.fasta",
                run_id=None,
            ),
        )
        message_id = publish(sns, topic, succeeded())
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        assert len(got) == 1  # the filter let only the success through
        envelope = json.loads(got[0]["Body"])
        assert envelope["MessageId"] == message_id
        assert envelope["Subject"] == succeeded().subject
        assert envelope["MessageAttributes"]["run_id"]["Value"] == RUN_ID
