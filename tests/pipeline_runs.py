"""A run that reached the end of the pipeline, under moto: execution, runs item, outputs.

Builds on the ``stack`` fixture (tests/moto_stack.py) and adds what the
end-of-run functions need: the idempotency table, a pipeline execution whose display
name is the run id, and the steps' ``model.tar.gz`` placed where SageMaker writes them
(``runs/<run_id>/<step dir>/<training job>/output/model.tar.gz``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from foldline.events.pipeline import execution_id
from foldline.intake.run_identity import run_id_for
from foldline.intake.start import pipeline_parameters
from foldline.runs.table import EXECUTING, RunsTable
from foldline.spec import layout
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP, PIPELINE_NAME, Step
from tests.conftest import DATA, tar_bytes
from tests.moto_stack import BUCKET, RUNS_TABLE, STACK

EVENTS = Path(__file__).resolve().parents[1] / "events"
OUTPUTS = DATA / "pipeline-outputs"
IDEMPOTENCY_TABLE = STACK.physical_name("IdempotencyTable")
UNRELAXED = (OUTPUTS / "6KWC_1_model_1_ptm_unrelaxed.pdb").read_bytes()
RELAXED = (OUTPUTS / "6KWC_1_model_1_ptm_relaxed.pdb").read_bytes()
BFD_6KWC = (
    DATA / "steps" / "openfold-6kwc" / "alignments" / "6KWC_1" / "bfd_uniref_hits.a3m"
).read_bytes()
FIXTURE_NOTE = "test fixture: OpenFold's 6KWC model_1_ptm prediction packed in this step's layout"


def manifest(step: Step, engine: str, version: str, outputs: dict) -> bytes:
    return json.dumps(
        {
            "step": step.name,
            "engine": engine,
            "engine_version": version,
            "parameters": {},
            "command": None,
            "call": None,
            "started_at": "2026-11-26T14:25:02+00:00",
            "ended_at": "2026-11-26T15:05:47+00:00",
            "exit_status": 0,
            "status": "succeeded",
            "outputs": outputs,
            "notes": [FIXTURE_NOTE],
            "failure": None,
        }
    ).encode()


def tar_gz(members: dict[str, bytes]) -> bytes:
    """A model.tar.gz as SageMaker makes it (members relative to SM_MODEL_DIR)."""
    return tar_bytes(members)


def alphafold_archive() -> bytes:
    """AlphaFold's layout with relaxation off (--models_to_relax=none): ranked_0 is unrelaxed."""
    return tar_gz(
        {
            "ranked_0.pdb": UNRELAXED,
            "unrelaxed_model_1_ptm_pred_0.pdb": UNRELAXED,
            "ranking_debug.json": json.dumps(
                {"plddts": {"model_1_ptm_pred_0": 86.0}, "order": ["model_1_ptm_pred_0"]}
            ).encode(),
            "timings.json": json.dumps({"predict_and_compile_model_1_ptm_pred_0": 41.2}).encode(),
            "foldline-step.json": manifest(
                ALPHAFOLD_STEP, "openfold", "2.2.0", {"models": ["ranked_0.pdb"]}
            ),
        }
    )


def openfold_archive() -> bytes:
    return tar_gz(
        {
            "predictions/6KWC_1_model_1_ptm_relaxed.pdb": RELAXED,
            "timings.json": json.dumps({"inference": 38.7}).encode(),
            "foldline-step.json": manifest(
                OPENFOLD_STEP,
                "openfold",
                "2.2.0",
                {"models": ["predictions/6KWC_1_model_1_ptm_relaxed.pdb"]},
            ),
        }
    )


def msa_archive() -> bytes:
    return tar_gz(
        {
            "msas/bfd_uniref_hits.a3m": BFD_6KWC,  # a real MSA: the report draws its depth
            "msas/pdb_hits.sto": b"# STOCKHOLM 1.0\n//\n",  # template hits: not an MSA of the chain
            "timings.json": json.dumps({"jackhmmer_uniref90": 612.0}).encode(),
            "foldline-step.json": manifest(MSA_STEP, "pyhmmer", "0.12.3", {"msas": ["msas/"]}),
        }
    )


def job_name(execution_arn: str, step: Step) -> str:
    return f"pipelines-{execution_id(execution_arn)}-{step.name}-Qm3LZ8hTfA"


def archive_key(run_id: str, execution_arn: str, step: Step) -> str:
    return (
        f"{layout.step_output_prefix(run_id, step.output_dir)}{job_name(execution_arn, step)}"
        f"/output/{layout.MODEL_ARCHIVE}"
    )


@dataclass
class EndedRun:
    """A run whose pipeline execution exists in moto, with its runs-table item."""

    stack: object
    run_id: str
    execution_arn: str

    def place_outputs(self, **overrides: bytes) -> dict[str, str]:
        """Upload the three steps' archives (``overrides``: step dir -> bytes); keys back."""
        archives = {
            "msa": msa_archive(),
            "alphafold": alphafold_archive(),
            "openfold": openfold_archive(),
            **overrides,
        }
        keys = {}
        for step in (MSA_STEP, ALPHAFOLD_STEP, OPENFOLD_STEP):
            key = archive_key(self.run_id, self.execution_arn, step)
            self.stack.s3.put_object(Bucket=BUCKET, Key=key, Body=archives[step.output_dir])
            keys[step.output_dir] = key
        return keys

    def event(self, name: str) -> dict:
        """A sample event from events/, pointed at this run's execution."""
        event = json.loads((EVENTS / name).read_text())
        detail = event["detail"]
        detail["pipelineExecutionArn"] = self.execution_arn
        detail["pipelineArn"] = self.execution_arn.rsplit("/execution/", 1)[0]
        event["resources"] = [detail["pipelineArn"], self.execution_arn]
        if "pipelineExecutionDisplayName" in detail:
            detail["pipelineExecutionDisplayName"] = self.run_id
        if "metadata" in detail:
            step = {
                "RunAlphaFold": ALPHAFOLD_STEP,
                "RunOpenFold": OPENFOLD_STEP,
                "RunMSA": MSA_STEP,
            }[detail["stepName"]]
            detail["metadata"]["trainingJob"]["arn"] = (
                "arn:aws:sagemaker:us-east-1:123456789012:training-job/"
                + job_name(self.execution_arn, step).lower()
            )
        return event

    def item(self) -> dict:
        return RunsTable(RUNS_TABLE, self.stack.dynamodb).get(self.run_id)

    def notices(self) -> list[dict]:
        return self.stack.notices()


@pytest.fixture
def ended_run(stack, monkeypatch) -> EndedRun:
    """An execution started the way the start path starts one, and its runs item."""
    monkeypatch.setenv(
        "IDEMPOTENCY_TABLE", IDEMPOTENCY_TABLE
    )  # the template's, made with the stack
    key = "inputs/6kwc.fasta"
    run_id = run_id_for(BUCKET, key, "Xv8yf5GD4nWsWx1eKG.2Qb9M5lTt7c0a")
    parameters = pipeline_parameters(
        bucket=BUCKET,
        run_id=run_id,
        fasta_file_name="6kwc.fasta",
        model_preset="monomer_ptm",
        upload_date="2026-11-26",
        overrides={},
    )
    arn = stack.sagemaker.start_pipeline_execution(
        PipelineName=PIPELINE_NAME,
        PipelineExecutionDisplayName=run_id,
        PipelineParameters=[{"Name": k, "Value": v} for k, v in parameters.items()],
        ClientRequestToken=run_id,
    )["PipelineExecutionArn"]
    RunsTable(RUNS_TABLE, stack.dynamodb).put(
        run_id,
        status=EXECUTING,
        bucket=BUCKET,
        key=key,
        target="6kwc",
        parameters=parameters,
        execution_arn=arn,
    )
    return EndedRun(stack, run_id, arn)


def set_execution_status(run: EndedRun, status: str) -> None:
    """What SageMaker would report; moto's executions are Succeeded at once otherwise
    (and its FailureReason is always "")."""
    from moto.sagemaker.models import sagemaker_backends

    backend = sagemaker_backends["123456789012"]["us-east-1"]
    execution = backend.pipelines[PIPELINE_NAME].pipeline_executions[run.execution_arn]
    execution.pipeline_execution_status = status
