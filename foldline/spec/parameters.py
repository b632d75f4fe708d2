"""The pipeline's identity, steps and run parameters: defined once, read everywhere.

The pipeline definition (``pipeline/``), the start function, the local runtime and the
tests all import these names. ``template.yaml`` repeats a few of them (the pipeline
name, default instance types); ``tests/infra`` fails when the copies drift.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any

from foldline.spec import layout

PIPELINE_NAME = "ProteinFoldWorkflow"


@dataclass(frozen=True)
class Step:
    """One step of the pipeline: its SageMaker step name and where its output lands."""

    name: str
    output_dir: str  # runs/<run_id>/<output_dir>/ holds the step's model.tar.gz
    program: str  # module run as the training job's entry point
    engine: str  # what does the work: "msa", "alphafold", "openfold"
    image: str  # the step image's repository name (containers/; ECR and local Docker)


MSA_STEP = Step("RunMSA", "msa", "foldline.steps.msa", "msa", "foldline-msa")
ALPHAFOLD_STEP = Step(
    "RunAlphaFold", "alphafold", "foldline.steps.alphafold", "alphafold", "foldline-alphafold"
)
OPENFOLD_STEP = Step(
    "RunOpenFold", "openfold", "foldline.steps.openfold", "openfold", "foldline-openfold"
)
#: the tag ``foldline local run --containers`` and the image tests use for images built here
LOCAL_IMAGE_TAG = "local"
STEPS: tuple[Step, ...] = (MSA_STEP, ALPHAFOLD_STEP, OPENFOLD_STEP)
INFERENCE_STEPS: tuple[Step, ...] = (ALPHAFOLD_STEP, OPENFOLD_STEP)
#: step name -> names of the steps it waits for
STEP_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    MSA_STEP.name: (),
    ALPHAFOLD_STEP.name: (MSA_STEP.name,),
    OPENFOLD_STEP.name: (MSA_STEP.name,),
}


def step_by_name(name: str) -> Step:
    for step in STEPS:
        if step.name == name:
            return step
    raise KeyError(f"no pipeline step named {name!r}; steps are {[s.name for s in STEPS]}")


# Training-job channels (SM_CHANNEL_<NAME upper-cased>).
CHANNEL_FASTA = "fasta"  # the run's FASTA (runs/<run_id>/input/)
CHANNEL_MSA = "msa"  # the MSA step's model.tar.gz
CHANNEL_DATABASES = "databases"  # genetic databases: FSx for Lustre, read-only
CHANNEL_PARAMS = "param"  # model weights (OpenFold checkpoints), optional

DB_PRESETS = ("full_dbs", "reduced_dbs")
#: the MSA step's engines: the stack parameter MsaEngine's AllowedValues (template.yaml,
#: checked by tests/infra/test_drift.py), FOLDLINE_MSA_ENGINE in the step (resolved by
#: foldline.steps.msa_cache), `foldline local run --msa-engine`
MSA_ENGINES = ("alphafold", "pyhmmer", "mmseqs2", "auto")
#: the MSA step's engine when neither the upload nor the stack names one
DEFAULT_MSA_ENGINE = "auto"
MODEL_PRESETS = ("monomer", "monomer_casp14", "monomer_ptm", "multimer")

# Instance types a user may pin (tags on the upload). CPU families for the MSA step,
# GPU families for inference; the sizing table (issue: speed and cost) picks among them.
# Sizes differ by family (there is no ml.m5.8xlarge nor ml.c5.12xlarge): each type is
# checked against botocore's TrainingInstanceType list (tests/spec/test_parameters.py),
# and the stack narrows them further (foldline.intake.spend_limits).
_MSA_SIZES = {
    "m5": ("xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge"),
    "m6i": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "c5": ("xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge"),
    "c6i": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "r5": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "r6i": ("xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
}
MSA_INSTANCE_TYPES = tuple(
    f"ml.{family}.{size}" for family, sizes in _MSA_SIZES.items() for size in sizes
)
# GPU types whose GPUs the step images are built for (CUDA 12, sm_80 to sm_90: A10G,
# L4, L40S, A100, H100; containers/README.md). No ml.p3 (V100, sm_70): OpenFold's kernel
# is not built for it, and its EBS-only volume could not take the stack's key.
INFERENCE_INSTANCE_TYPES = (
    "ml.g5.xlarge",
    "ml.g5.2xlarge",
    "ml.g5.4xlarge",
    "ml.g5.8xlarge",
    "ml.g5.12xlarge",
    "ml.g5.16xlarge",
    "ml.g5.24xlarge",
    "ml.g5.48xlarge",
    "ml.g6.xlarge",
    "ml.g6.2xlarge",
    "ml.g6.4xlarge",
    "ml.g6.8xlarge",
    "ml.g6.16xlarge",
    "ml.g6e.xlarge",
    "ml.g6e.2xlarge",
    "ml.g6e.4xlarge",
    "ml.g6e.8xlarge",
    "ml.g6e.16xlarge",
    "ml.p4d.24xlarge",
    "ml.p4de.24xlarge",
    "ml.p5.48xlarge",
)


@dataclass(frozen=True)
class Parameter:
    """A SageMaker Pipeline parameter.

    ``default`` is what the pipeline definition carries. ``None`` means the start
    function always supplies it (no sensible static default exists).
    """

    name: str
    type: str  # "String" or "Integer", as SageMaker names them
    default: str | int | None
    description: str
    allowed: tuple[str, ...] | None = None
    user_settable: bool = True  # may an upload's tags override it?


FASTA_INPUT_S3_URI = Parameter(
    "FastaInputS3URI",
    "String",
    None,
    "S3 URI of the folder holding the run's FASTA (runs/<run_id>/input/).",
    user_settable=False,
)
FASTA_FILE_NAME = Parameter(
    "FastaFileName",
    "String",
    None,
    "File name of the FASTA in FastaInputS3URI.",
    user_settable=False,
)
DB_PRESET = Parameter(
    "DbPreset", "String", "full_dbs", "Genetic databases to search.", allowed=DB_PRESETS
)
MAX_TEMPLATE_DATE = Parameter(
    "MaxTemplateDate",
    "String",
    "",
    "Latest release date (YYYY-MM-DD) of a usable template. The start function sets the "
    "upload's date; an empty value (a start by hand) means the day the step runs.",
)
MODEL_PRESET = Parameter(
    "ModelPreset",
    "String",
    "monomer",
    "AlphaFold model preset (multimer is chosen for several chains unless pinned).",
    allowed=MODEL_PRESETS,
)
NUM_MULTIMER_PREDICTIONS = Parameter(
    "NumMultimerPredictionsPerModel",
    "Integer",
    5,
    "Predictions per multimer model (AlphaFold's --num_multimer_predictions_per_model).",
)
MSA_INSTANCE_TYPE = Parameter(
    "MSAInstanceType",
    "String",
    "ml.m5.4xlarge",
    "Instance type of the MSA step.",
    allowed=MSA_INSTANCE_TYPES,
)
INFERENCE_INSTANCE_TYPE = Parameter(
    "InferenceInstanceType",
    "String",
    "ml.g5.4xlarge",
    "Instance type of the AlphaFold and OpenFold steps.",
    allowed=INFERENCE_INSTANCE_TYPES,
)

MSA_ENGINE = Parameter(
    "MsaEngine",
    "String",
    None,
    "The MSA step's engine (FOLDLINE_MSA_ENGINE in its job). The start function sets the "
    "upload's MsaEngine tag or, without one, the stack's MsaEngine, which is also the "
    "definition's default (a start by hand).",
    allowed=MSA_ENGINES,
)

RUN_ID = Parameter(
    "RunId",
    "String",
    None,
    "The run's id, set by the start function: each step writes under runs/<RunId>/ "
    "(SageMaker has no pipeline variable for the execution's display name).",
    user_settable=False,
)

MSA_CACHE_S3_URI = Parameter(
    "MsaCacheS3URI",
    "String",
    None,
    "The run's MSA cache location (s3://<bucket>/msa-cache/<key>/), set by the start "
    "function from the sequences, DbPreset, MaxTemplateDate, model family and MSA tools "
    "(foldline.steps.msa_cache). The MSA step reads its FASTA from input/query.fasta there (a "
    "content-addressed input, so SageMaker's step cache recognises a repeated search), "
    "copies a finished entry or stores what it computed.",
    user_settable=False,
)

#: how long SageMaker's step cache may reuse a finished MSA step (ISO 8601 duration):
#: long, since MSAs only age through MaxTemplateDate, which is part of the key already
MSA_STEP_CACHE_EXPIRE_AFTER = "P90D"

#: the eight run parameters of the reference notebooks
NOTEBOOK_PARAMETERS: tuple[Parameter, ...] = (
    FASTA_INPUT_S3_URI,
    FASTA_FILE_NAME,
    DB_PRESET,
    MAX_TEMPLATE_DATE,
    MODEL_PRESET,
    NUM_MULTIMER_PREDICTIONS,
    MSA_INSTANCE_TYPE,
    INFERENCE_INSTANCE_TYPE,
)
#: every parameter of the pipeline: the eight, the MSA engine, the run id that places its
#: outputs, and the MSA cache location
PARAMETERS: tuple[Parameter, ...] = (
    *NOTEBOOK_PARAMETERS,
    MSA_ENGINE,
    RUN_ID,
    MSA_CACHE_S3_URI,
)
PARAMETERS_BY_NAME: dict[str, Parameter] = {p.name: p for p in PARAMETERS}
USER_SETTABLE: tuple[str, ...] = tuple(p.name for p in PARAMETERS if p.user_settable)

#: which run parameters each step receives as hyperparameters (SM_HP_<NAME>)
STEP_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    # Only what the MSAs depend on: with SageMaker's step cache on, a run-specific value
    # here (RunId, the upload's FastaFileName) would make every run a miss. The MSA
    # step's FASTA is always layout.MSA_QUERY_FILE (STEP_FIXED_HYPERPARAMETERS).
    MSA_STEP.name: ("DbPreset", "MaxTemplateDate", "ModelPreset", "MsaCacheS3URI"),
    ALPHAFOLD_STEP.name: (
        "FastaFileName",
        "DbPreset",
        "MaxTemplateDate",
        "ModelPreset",
        "NumMultimerPredictionsPerModel",
    ),
    OPENFOLD_STEP.name: (
        "FastaFileName",
        "DbPreset",
        "MaxTemplateDate",
        "ModelPreset",
        "NumMultimerPredictionsPerModel",
    ),
}


#: hyperparameters with a fixed value, by step (the staged FASTA's name for the MSA step)
STEP_FIXED_HYPERPARAMETERS: dict[str, dict[str, str]] = {
    MSA_STEP.name: {FASTA_FILE_NAME.name: layout.MSA_QUERY_FILE},
}


class InvalidParameter(ValueError):
    """A run parameter's value is not allowed; the message says which and why."""


def validate_value(name: str, value: Any) -> str | int:
    """Check one user-supplied parameter value; return it in its canonical form."""
    try:
        param = PARAMETERS_BY_NAME[name]
    except KeyError:
        known = ", ".join(USER_SETTABLE)
        raise InvalidParameter(f"unknown parameter {name!r} (known: {known})") from None
    text = str(value).strip()
    if param.type == "Integer":
        try:
            number = int(text)
        except ValueError:
            raise InvalidParameter(f"{name} must be a whole number, got {text!r}") from None
        if not 1 <= number <= 100:
            raise InvalidParameter(f"{name} must be between 1 and 100, got {number}")
        return number
    if param is MAX_TEMPLATE_DATE:
        try:
            return _dt.date.fromisoformat(text).isoformat()
        except ValueError:
            raise InvalidParameter(f"{name} must be a date as YYYY-MM-DD, got {text!r}") from None
    if param.allowed is not None and text not in param.allowed:
        shown = (
            ", ".join(param.allowed)
            if len(param.allowed) <= 8
            else (", ".join(param.allowed[:8]) + ", …")
        )
        raise InvalidParameter(f"{name} {text!r} is not allowed (allowed: {shown})")
    return text


def defaults() -> dict[str, str | int]:
    """Parameter name -> the pipeline definition's default, for those that have one."""
    return {p.name: p.default for p in PARAMETERS if p.default is not None}
