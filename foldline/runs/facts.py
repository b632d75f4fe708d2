"""What the end-of-run paths need to know about a run, from the runs table and SageMaker.

The runs table is the first source (the start path wrote target and parameters there);
a run started by hand has no item, so the execution itself answers: its display name is
the run id and ListPipelineParametersForExecution gives the parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from foldline.events.pipeline import ExecutionStatusChange, run_id_of
from foldline.runs.table import RunsTable
from foldline.spec import layout
from foldline.spec.parameters import FASTA_FILE_NAME


@dataclass(frozen=True)
class RunFacts:
    run_id: str
    target: str
    parameters: dict[str, str]
    item: dict[str, Any] | None  # the runs-table item, None for a run started by hand


def execution_parameters(sagemaker: Any, execution_arn: str) -> dict[str, str]:
    """The parameters the execution really ran with (all pages)."""
    out: dict[str, str] = {}
    kwargs: dict[str, Any] = {"PipelineExecutionArn": execution_arn}
    while True:
        page = sagemaker.list_pipeline_parameters_for_execution(**kwargs)
        out.update({p["Name"]: p["Value"] for p in page.get("PipelineParameters", [])})
        if not page.get("NextToken"):
            return out
        kwargs["NextToken"] = page["NextToken"]


def run_facts(runs: RunsTable, sagemaker: Any, change: ExecutionStatusChange) -> RunFacts:
    run_id = run_id_of(sagemaker, change.execution_arn, change.display_name)
    item = runs.get(run_id)
    try:
        parameters = execution_parameters(sagemaker, change.execution_arn)
    except (ClientError, BotoCoreError):
        parameters = {}
    if not parameters and item:
        parameters = dict(item.get("parameters") or {})
    target = (item or {}).get("target") or (
        layout.target_name(parameters[FASTA_FILE_NAME.name])
        if parameters.get(FASTA_FILE_NAME.name)
        else run_id.rsplit("-", 1)[0]
    )
    return RunFacts(run_id=run_id, target=target, parameters=parameters, item=item)
