"""The analysis function under moto: a Succeeded event -> report, Experiments, one notice."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from botocore.stub import Stubber

from foldline.outcomes.step_outputs import CorruptOutput
from foldline.spec import layout
from tests.conftest import load_handler
from tests.moto_stack import BUCKET
from tests.pipeline_runs import BFD_6KWC, IDEMPOTENCY_TABLE, alphafold_archive, tar_gz

REPORT_FILES = {"metrics.json", "report.html", "plddt.png"}


@pytest.fixture
def analysis(ended_run, lambda_context):
    app = load_handler("analysis")
    app.analysis_context.cache_clear()

    def invoke(event: dict) -> dict:
        return app.lambda_handler(event, lambda_context)

    invoke.app = app
    return invoke


def report_keys(run) -> set[str]:
    return set(run.stack.keys(layout.report_prefix(run.run_id)))


def versions(stack, key: str) -> int:
    listed = stack.s3.list_object_versions(Bucket=BUCKET, Prefix=key)
    return len([v for v in listed.get("Versions", []) if v["Key"] == key])


def test_a_succeeded_run_gets_a_report_an_experiment_and_one_notice(ended_run, analysis):
    run = ended_run
    keys = run.place_outputs()

    result = analysis(run.event("pipeline-succeeded.json"))

    assert result["action"] == "reported"
    prefix = layout.report_prefix(run.run_id)
    written = {k[len(prefix) :] for k in report_keys(run)}
    assert REPORT_FILES <= written
    assert any(name.startswith("alphafold_") and name.endswith(".pdb") for name in written)
    assert any(
        name.startswith("openfold_") and name.endswith("_superposed.pdb") for name in written
    )
    page = run.stack.s3.get_object(Bucket=BUCKET, Key=prefix + "report.html")
    assert page["ContentType"].startswith("text/html")
    metrics = json.loads(
        run.stack.s3.get_object(Bucket=BUCKET, Key=prefix + "metrics.json")["Body"].read()
    )
    tm = metrics["comparison"]["complex"]["tm_score"]
    length = metrics["comparison"]["complex"]["normalising_length"]
    assert length == 191  # residues in 6KWC_1's model
    assert 0.95 < tm <= 1.0  # OpenFold's relaxed vs unrelaxed 6KWC
    assert metrics["context"]["run_id"] == run.run_id
    # the MSA step's alignment came with its manifest: depth per residue of the 191
    (chain,) = metrics["msa"]["chains"]
    assert chain["length"] == 191 and chain["files"] == {
        "bfd_uniref_hits.a3m": BFD_6KWC.count(b">")
    }
    assert {"msa_coverage.png", "per_residue.png"} <= written

    # SageMaker Experiments: experiment per target, trial per execution, metrics and artefacts
    sm = run.stack.sagemaker
    assert sm.describe_experiment(ExperimentName="foldline-6kwc")["ExperimentName"]
    trial = sm.describe_trial(TrialName=run.run_id)
    assert trial["ExperimentName"] == "foldline-6kwc"
    (summary,) = sm.list_trial_components(TrialName=run.run_id)["TrialComponentSummaries"]
    component = sm.describe_trial_component(TrialComponentName=summary["TrialComponentName"])
    tracked = {m["MetricName"]: m["Last"] for m in component["Metrics"]}
    assert tracked["tm_score"] == pytest.approx(tm)
    assert tracked["rmsd"] == pytest.approx(metrics["comparison"]["complex"]["rmsd"])
    assert tracked["plddt_mean_openfold"] == pytest.approx(
        metrics["engines"]["openfold"]["plddt"]["mean"]
    )
    assert "plddt_mean_alphafold" in tracked and "runtime_RunOpenFold_s" in tracked
    params = component["Parameters"]
    for name in (
        "FastaInputS3URI",
        "FastaFileName",
        "DbPreset",
        "MaxTemplateDate",
        "ModelPreset",
        "NumMultimerPredictionsPerModel",
        "MSAInstanceType",
        "InferenceInstanceType",
    ):
        assert name in params
    assert params["ModelPreset"]["StringValue"] == "monomer_ptm"
    assert params["alphafold_engine"]["StringValue"] == "openfold"  # the fixture says who made it
    artefacts = component["OutputArtifacts"]
    assert artefacts["report"]["Value"] == f"s3://{BUCKET}/{prefix}report.html"
    assert artefacts["model_RunOpenFold"]["Value"] == f"s3://{BUCKET}/{keys['openfold']}"

    # runs table
    item = run.item()
    assert item["status"] == "Succeeded"
    assert item["report_uri"] == f"s3://{BUCKET}/{prefix}"
    assert item["tm_score"] == pytest.approx(tm)

    # exactly one notice, naming the TM-score, with a presigned link that expires
    (notice,) = run.notices()
    assert (
        f"TM-score: {tm:.4f} (normalised by the reference's {length} residues)" in notice["Message"]
    )
    assert f"TM-score {tm:.4f}" in notice["Subject"] and len(notice["Subject"]) < 100
    assert notice["MessageAttributes"]["status"]["Value"] == "succeeded"
    assert notice["MessageAttributes"]["target"]["Value"] == "6kwc"
    url = next(line for line in notice["Message"].splitlines() if line.startswith("https://"))
    query = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    assert urllib.parse.urlparse(url).path.endswith(f"{prefix}report.html")
    assert int(query["X-Amz-Expires"][0]) == 7 * 24 * 3600


def test_the_same_event_twice_makes_one_report_and_one_notice(ended_run, analysis):
    run = ended_run
    run.place_outputs()
    event = run.event("pipeline-succeeded.json")

    first = analysis(event)
    second = analysis(event)

    assert second == first  # Powertools idempotency returned the stored result
    page = layout.report_prefix(run.run_id) + "report.html"
    assert versions(run.stack, page) == 1
    assert len(run.notices()) == 1
    (summary,) = run.stack.sagemaker.list_trial_components(TrialName=run.run_id)[
        "TrialComponentSummaries"
    ]
    component = run.stack.sagemaker.describe_trial_component(
        TrialComponentName=summary["TrialComponentName"]
    )
    assert {m["MetricName"]: m["Count"] for m in component["Metrics"]}["tm_score"] == 1


def test_a_replay_after_the_idempotency_record_expired_is_still_one_notice(ended_run, analysis):
    run = ended_run
    run.place_outputs()
    event = run.event("pipeline-succeeded.json")
    analysis(event)
    table = run.stack.dynamodb.Table(IDEMPOTENCY_TABLE)
    for record in table.scan()["Items"]:  # as if a day had passed
        table.delete_item(Key={"id": record["id"]})

    again = analysis(event)

    assert again["action"] == "duplicate"
    assert versions(run.stack, layout.report_prefix(run.run_id) + "report.html") == 1
    assert len(run.notices()) == 1


def test_an_sns_failure_keeps_the_report_and_raises_for_a_retry(ended_run, analysis):
    run = ended_run
    run.place_outputs()
    event = run.event("pipeline-succeeded.json")
    context = analysis.app.analysis_context()

    with Stubber(context.sns) as sns_down:
        sns_down.add_client_error("publish", "InternalError", http_status_code=500)
        with pytest.raises(Exception, match="InternalError"):
            analysis(event)

    assert {layout.report_prefix(run.run_id) + f for f in REPORT_FILES} <= report_keys(run)
    assert run.notices() == []
    assert run.item()["status"] == "Succeeded" and not run.item().get("notice_message_id")

    analysis(event)  # the retry: idempotency let it through, since the first one raised

    (notice,) = run.notices()
    assert "TM-score:" in notice["Message"]


@pytest.mark.parametrize(
    ("bad_archive", "error", "message"),
    [
        pytest.param(
            b"<html>not a tarball</html>", CorruptOutput, "not a gzip file", id="not-gzip"
        ),
        pytest.param(alphafold_archive()[:300], CorruptOutput, "alphafold", id="truncated"),
        pytest.param(
            tar_gz({"ranked_0.pdb": b"HEADER nothing here\nEND\n"}),
            ValueError,
            "no protein chain",
            id="pdb-without-atoms",
        ),
        pytest.param(
            tar_gz({"../../escape/ranked_0.pdb": b"ATOM"}),
            CorruptOutput,
            "outside the destination",
            id="path-traversal",
        ),
    ],
)
def test_corrupt_model_output_raises_and_writes_no_report(
    ended_run, analysis, bad_archive, error, message
):
    run = ended_run
    run.place_outputs(alphafold=bad_archive)

    with pytest.raises(error, match=message):
        analysis(run.event("pipeline-succeeded.json"))

    assert report_keys(run) == set()
    assert run.notices() == []
    item = run.item()
    assert item["status"] == "Executing" and item["analysis_status"] == "Retrying"
    assert item["analysis_error"]


def test_events_that_are_not_a_succeeded_execution_are_ignored(ended_run, analysis):
    run = ended_run
    assert analysis(run.event("pipeline-failed.json"))["action"] == "ignored"
    assert run.notices() == [] and report_keys(run) == set()


def test_when_retries_are_spent_the_notice_says_the_models_are_still_there(
    ended_run, analysis, lambda_context
):
    """Corrupt output: every attempt raises; Lambda's on-failure record goes to notify."""
    run = ended_run
    keys = run.place_outputs(openfold=b"\x1f\x8b\x08\x00 truncated in transit")
    event = run.event("pipeline-succeeded.json")
    errors = []
    for _attempt in range(3):  # the first invocation and Lambda's two retries
        with pytest.raises(CorruptOutput) as raised:
            analysis(event)
        errors.append(raised.value)
    assert run.notices() == [] and report_keys(run) == set()

    notify = load_handler("notify")
    notify.notify_context.cache_clear()
    record = {  # what Lambda sends the on-failure destination
        "version": "1.0",
        "timestamp": "2026-11-26T15:31:02.117Z",
        "requestContext": {
            "requestId": "r-1",
            "condition": "RetriesExhausted",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:a",
            "approximateInvokeCount": 3,
        },
        "requestPayload": event,
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {
            "errorType": type(errors[-1]).__name__,
            "errorMessage": str(errors[-1]),
        },
    }
    notify.lambda_handler(record, lambda_context)

    (notice,) = run.notices()
    assert notice["MessageAttributes"]["status"]["Value"] == "analysis-failed"
    assert "CorruptOutput: openfold.model.tar.gz" in notice["Message"]
    assert "failed after 3 attempts" in notice["Message"]
    for step in ("alphafold", "openfold"):
        assert f"s3://{BUCKET}/{keys[step]}" in notice["Message"]
    assert run.item()["analysis_status"] == "Failed"


def skipped_openfold_archive() -> bytes:
    """What the OpenFold step leaves for a multimer: its manifest, status skipped, no model."""
    from foldline.spec.parameters import OPENFOLD_STEP
    from foldline.steps.openfold import MULTIMER_UNSUPPORTED
    from tests.pipeline_runs import manifest

    record = json.loads(manifest(OPENFOLD_STEP, "openfold", "1.0.1", {}))
    record.update(
        status="skipped",
        notes=[MULTIMER_UNSUPPORTED],
        parameters={"ModelPreset": "multimer", "config_preset": None},
    )
    return tar_gz({"foldline-step.json": json.dumps(record).encode()})


def test_a_run_whose_openfold_step_skipped_gets_a_one_engine_report(ended_run, analysis):
    from foldline.steps.openfold import MULTIMER_UNSUPPORTED

    run = ended_run
    run.place_outputs(openfold=skipped_openfold_archive())

    result = analysis(run.event("pipeline-succeeded.json"))

    assert result["action"] == "reported" and "tm_score" not in result
    prefix = layout.report_prefix(run.run_id)
    written = {k[len(prefix) :] for k in report_keys(run)}
    assert REPORT_FILES <= written
    assert any(name.startswith("alphafold_") for name in written)
    assert not any(name.startswith("openfold_") for name in written)
    metrics = json.loads(
        run.stack.s3.get_object(Bucket=BUCKET, Key=prefix + "metrics.json")["Body"].read()
    )
    assert metrics["comparison"] is None and metrics["engines"]["openfold"] is None
    assert metrics["comparison_skipped"] == f"OpenFold skipped: {MULTIMER_UNSUPPORTED}"
    assert metrics["runtimes"]["steps"]["RunOpenFold"]["status"] == "skipped"
    page = (
        run.stack.s3.get_object(Bucket=BUCKET, Key=prefix + "report.html")["Body"].read().decode()
    )
    assert "OpenFold 1.0.1 was skipped" in page

    # Experiments: the one engine's confidence, no agreement numbers
    sm = run.stack.sagemaker
    (summary,) = sm.list_trial_components(TrialName=run.run_id)["TrialComponentSummaries"]
    component = sm.describe_trial_component(TrialComponentName=summary["TrialComponentName"])
    tracked = {m["MetricName"] for m in component["Metrics"]}
    assert "plddt_mean_alphafold" in tracked and "runtime_RunOpenFold_s" in tracked
    assert not tracked & {"tm_score", "rmsd", "plddt_mean_openfold"}
    assert component["Parameters"]["openfold_model"]["StringValue"] == "none (skipped)"

    item = run.item()
    assert item["status"] == "Succeeded" and item["analysis_status"] == "Succeeded"
    assert item["report_uri"] == f"s3://{BUCKET}/{prefix}"
    assert "tm_score" not in item and item["comparison_skipped"] == metrics["comparison_skipped"]

    (notice,) = run.notices()
    assert notice["MessageAttributes"]["status"]["Value"] == "succeeded"
    assert "OpenFold skipped" in notice["Subject"] and "TM-score" not in notice["Subject"]
    assert len(notice["Subject"]) < 100
    assert f"OpenFold skipped: {MULTIMER_UNSUPPORTED}" in notice["Message"]
    assert "TM-score:" not in notice["Message"]
    assert "Mean pLDDT: openfold (AlphaFold slot)" in notice["Message"]  # the fixture's engine


def test_both_slots_without_a_model_is_still_an_analysis_failure(ended_run, analysis):
    run = ended_run
    run.place_outputs(
        openfold=skipped_openfold_archive(), alphafold=tar_gz({"timings.json": b"{}"})
    )

    with pytest.raises(FileNotFoundError, match="neither engine left a model"):
        analysis(run.event("pipeline-succeeded.json"))

    assert report_keys(run) == set() and run.notices() == []
    assert run.item()["analysis_status"] == "Retrying"
