"""Build the ``ProteinFoldWorkflow`` pipeline with the sagemaker SDK 3.x.

RunMSA (CPU) -> RunAlphaFold and RunOpenFold (GPU), each a training-job step. Step names,
dependencies, parameters and hyperparameters come from :mod:`foldline.spec.parameters`; the
stack's values (images, role, bucket, FSx, VPC) are ``${...}`` placeholders that
CloudFormation's ``Fn::Sub`` fills in (:mod:`pipeline.placeholders`).

Building the pipeline makes no AWS call as long as :func:`offline_sdk` ran first: the
SDK otherwise sends telemetry and (3.x) checks the role through IAM.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from foldline.spec import layout
from foldline.spec import parameters as fp
from pipeline import placeholders as ph

#: the SDK session needs a region to exist; nothing region-specific reaches the definition
RENDER_REGION = "us-east-1"
#: hyperparameter the SageMaker training toolkit reads to find the program it runs
PROGRAM_HYPERPARAMETER = "sagemaker_program"

# Sizes and limits of the training jobs. Not run parameters: a user picks an instance
# type, not a disk. The MSA step reads the databases from FSx, so its local disk only
# holds the MSAs; the inference steps unpack model weights and write relaxed models.
VOLUME_GB = {fp.MSA_STEP.name: 100, fp.ALPHAFOLD_STEP.name: 200, fp.OPENFOLD_STEP.name: 200}
MAX_RUNTIME_S = {
    fp.MSA_STEP.name: 24 * 3600,
    fp.ALPHAFOLD_STEP.name: 24 * 3600,
    fp.OPENFOLD_STEP.name: 24 * 3600,
}
FSX_FILE_SYSTEM_TYPE = "FSxLustre"
FSX_ACCESS_MODE = "ro"  # the databases are shared by every run: never writable
#: steps whose volume is an EBS volume encrypted with the stack's KMS key. The inference
#: steps run on instance types with local NVMe storage (g5, g6, g6e, p4d, p5), which
#: SageMaker encrypts in hardware and for which it refuses a VolumeKmsKeyId.
KMS_VOLUME_STEPS = frozenset({fp.MSA_STEP.name})


def launcher_script(step: fp.Step) -> str:
    """The file the training toolkit runs for ``step`` (``foldline_msa.py`` for the MSA step).

    The SageMaker training toolkit runs ``python <sagemaker_program>`` from /opt/ml/code
    with the SM_* variables set; released toolkits cannot run ``python -m``. Each image
    ships /opt/ml/code/<launcher> (``containers/entry/``), which calls the step program.
    """
    return "foldline_" + step.program.rsplit(".", 1)[-1] + ".py"


def offline_sdk() -> None:
    """Switch off the SDK's network habits: IAM role validation and telemetry.

    Must run before the SDK's modules are imported (role validation reads the
    environment when a ModelTrainer is made; telemetry is patched on its module).
    """
    os.environ["SAGEMAKER_VALIDATE_ROLE"] = "false"
    # Some SDK modules make boto3 clients at import time. That needs a region, and it
    # looks for credentials: keep it from asking the EC2 metadata service or running a
    # profile's credential_process / SSO login. No call is made with them anyway.
    os.environ["AWS_DEFAULT_REGION"] = RENDER_REGION
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ["AWS_CONFIG_FILE"] = os.devnull
    os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        os.environ.pop(name, None)
    from sagemaker.core.telemetry import telemetry_logging

    def _no_telemetry(*_args: Any, **_kwargs: Any) -> None:
        return None

    # The decorator calls this module global; replacing it stops the request (and the
    # STS call it makes to find the account) without touching anything else.
    telemetry_logging._send_telemetry_request = _no_telemetry


def _sdk_parameter(param: fp.Parameter) -> Any:
    from sagemaker.core.workflow.parameters import ParameterInteger, ParameterString

    if param.type == "Integer":
        return ParameterInteger(name=param.name, default_value=param.default)
    if param.type == "String":
        enum = list(param.allowed) if param.allowed else None
        return ParameterString(name=param.name, default_value=param.default, enum_values=enum)
    raise ValueError(f"unsupported parameter type {param.type!r} for {param.name}")


def build_pipeline() -> Any:
    """The ``Pipeline`` object (sagemaker.mlops.workflow.Pipeline), ready for ``definition()``."""
    import boto3
    from sagemaker.core.shapes import FileSystemDataSource
    from sagemaker.core.training.configs import (
        Compute,
        InputData,
        Networking,
        OutputDataConfig,
        StoppingCondition,
    )
    from sagemaker.core.workflow.functions import Join
    from sagemaker.core.workflow.pipeline_context import PipelineSession
    from sagemaker.mlops.workflow import Pipeline
    from sagemaker.mlops.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )
    from sagemaker.mlops.workflow.steps import CacheConfig, TrainingStep
    from sagemaker.train.model_trainer import ModelTrainer

    session = PipelineSession(
        boto_session=boto3.Session(region_name=RENDER_REGION),
        default_bucket=ph.ref(ph.BUCKET),
    )
    params = {p.name: _sdk_parameter(p) for p in fp.PARAMETERS}
    # A start by hand (no MsaEngine given) runs the stack's engine: the definition's default
    # is the stack parameter of the same name, filled in by Fn::Sub.
    params[fp.MSA_ENGINE.name] = _sdk_parameter(
        dataclasses.replace(fp.MSA_ENGINE, default=ph.ref(ph.MSA_ENGINE))
    )
    instance_type = {
        fp.MSA_STEP.name: params[fp.MSA_INSTANCE_TYPE.name],
        fp.ALPHAFOLD_STEP.name: params[fp.INFERENCE_INSTANCE_TYPE.name],
        fp.OPENFOLD_STEP.name: params[fp.INFERENCE_INSTANCE_TYPE.name],
    }
    databases = InputData(
        channel_name=fp.CHANNEL_DATABASES,
        data_source=FileSystemDataSource(
            file_system_id=ph.ref(ph.FSX_FILE_SYSTEM_ID),
            file_system_type=FSX_FILE_SYSTEM_TYPE,
            file_system_access_mode=FSX_ACCESS_MODE,
            directory_path=ph.ref(ph.FSX_DIRECTORY_PATH),
        ),
    )
    fasta = InputData(channel_name=fp.CHANNEL_FASTA, data_source=params[fp.FASTA_INPUT_S3_URI.name])
    # Capacity and throttling are worth waiting for (GPUs run out); a failing program is not.
    retry_policies = [
        StepRetryPolicy(
            exception_types=[StepExceptionTypeEnum.SERVICE_FAULT, StepExceptionTypeEnum.THROTTLING],
            interval_seconds=30,
            backoff_rate=2.0,
            max_attempts=5,
        ),
        SageMakerJobStepRetryPolicy(
            exception_types=[
                SageMakerJobExceptionTypeEnum.CAPACITY_ERROR,
                SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT,
            ],
            interval_seconds=300,
            backoff_rate=2.0,
            expire_after_mins=24 * 60,
        ),
        SageMakerJobStepRetryPolicy(
            exception_types=[SageMakerJobExceptionTypeEnum.INTERNAL_ERROR],
            interval_seconds=60,
            backoff_rate=2.0,
            max_attempts=2,
        ),
    ]

    def trainer(step: fp.Step) -> Any:
        hyperparameters: dict[str, Any] = {
            name: params[name].to_string() for name in fp.STEP_HYPERPARAMETERS[step.name]
        }
        hyperparameters.update(fp.STEP_FIXED_HYPERPARAMETERS.get(step.name, {}))
        hyperparameters[PROGRAM_HYPERPARAMETER] = launcher_script(step)
        # The MSA engine is part of the MSA cache key: the job runs the engine the start
        # function assumed when it computed the key (foldline.steps.msa_cache.resolve_engine),
        # the run's MsaEngine parameter (an upload's tag, else the stack's).
        # The OpenFold step runs OpenFold's own checkpoints unless the stack allows
        # AlphaFold's params (foldline.steps.openfold.WEIGHTS_ENV).
        environment = {
            fp.MSA_STEP.name: {"FOLDLINE_MSA_ENGINE": params[fp.MSA_ENGINE.name]},
            fp.OPENFOLD_STEP.name: {"FOLDLINE_OPENFOLD_WEIGHTS": ph.ref(ph.OPENFOLD_WEIGHTS)},
        }.get(step.name)
        return ModelTrainer(
            environment=environment,
            sagemaker_session=session,
            role=ph.role_arn(ph.STEP_ROLES[step.name]),  # the step's own role
            training_image=ph.ref(ph.STEP_IMAGES[step.name]),
            base_job_name=f"foldline-{step.output_dir}",
            compute=Compute(
                instance_type=instance_type[step.name],
                instance_count=1,
                volume_size_in_gb=VOLUME_GB[step.name],
                volume_kms_key_id=(
                    ph.ref(ph.VOLUME_KMS_KEY) if step.name in KMS_VOLUME_STEPS else None
                ),
            ),
            networking=Networking(
                subnets=[ph.ref(ph.SUBNETS_JSON)],
                security_group_ids=[ph.ref(ph.SECURITY_GROUPS_JSON)],
            ),
            stopping_condition=StoppingCondition(max_runtime_in_seconds=MAX_RUNTIME_S[step.name]),
            # runs/<RunId>/<step dir>/: the run id is a parameter because no pipeline
            # variable carries the execution's display name (see pipeline/README.md).
            output_data_config=OutputDataConfig(
                kms_key_id=ph.ref(ph.OUTPUT_KMS_KEY),
                s3_output_path=Join(
                    on="",
                    values=[
                        f"s3://{ph.ref(ph.BUCKET)}/{layout.RUNS}",
                        params[fp.RUN_ID.name],
                        f"/{step.output_dir}/",
                    ],
                ),
            ),
            hyperparameters=hyperparameters,
            training_input_mode="File",
        )

    # SageMaker's step cache on the MSA step: its key is the step's arguments (image,
    # environment, hyperparameters, input channels; not the instance type or the output
    # path), and every one of them is content-addressed here: the FASTA is the query the
    # start function staged under msa-cache/<key>/input/, the hyperparameters are the
    # presets, the date and that location. A repeat of a finished search (same
    # sequences, presets, date and MSA tools, under any file name) then starts no
    # training job: the step hands on the earlier run's archive. foldline.steps.msa_cache
    # covers what this cannot see (an expired entry, another preset of the same family).
    # The inference steps are not cached: their outputs belong to their run.
    query = InputData(
        channel_name=fp.CHANNEL_FASTA,
        data_source=Join(on="", values=[params[fp.MSA_CACHE_S3_URI.name], f"{layout.INPUT_DIR}/"]),
    )
    msa_step = TrainingStep(
        name=fp.MSA_STEP.name,
        step_args=trainer(fp.MSA_STEP).train(input_data_config=[query, databases]),
        retry_policies=retry_policies,
        cache_config=CacheConfig(enable_caching=True, expire_after=fp.MSA_STEP_CACHE_EXPIRE_AFTER),
    )
    steps: dict[str, Any] = {fp.MSA_STEP.name: msa_step}
    for step in fp.INFERENCE_STEPS:
        msa = InputData(
            channel_name=fp.CHANNEL_MSA,
            data_source=msa_step.properties.ModelArtifacts.S3ModelArtifacts,
        )
        steps[step.name] = TrainingStep(
            name=step.name,
            step_args=trainer(step).train(input_data_config=[fasta, msa, databases]),
            depends_on=[steps[name] for name in fp.STEP_DEPENDENCIES[step.name]],
            retry_policies=retry_policies,
        )
    return Pipeline(
        name=fp.PIPELINE_NAME,
        parameters=list(params.values()),
        steps=[steps[s.name] for s in fp.STEPS],
        sagemaker_session=session,
        # No automatic experiment per pipeline: the analysis function records one
        # experiment per target itself (issue 4).
        pipeline_experiment_config=None,
    )


def render_definition() -> str:
    """The pipeline definition JSON (with ``${...}`` placeholders), made offline."""
    offline_sdk()
    return build_pipeline().definition()
