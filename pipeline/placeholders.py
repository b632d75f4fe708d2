"""Stack values the rendered definition leaves for CloudFormation's ``Fn::Sub`` to fill in.

The definition is rendered once, offline, with these ``${Name}`` placeholders where the
deployed stack's values go. ``template.yaml`` embeds it in ``Fn::Sub``; the local mode
substitutes its own values (``pipeline.embedded.load_definition``). No SDK import here.
"""

from __future__ import annotations

from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP

# Resolved by Fn::Sub from the template itself (resource refs / attributes, parameters).
BUCKET = "FoldlineBucket"  # Ref of the bucket: its name
ROLE = "SageMakerExecutionRole"  # the pipeline's role; Ref of a role: its name (no path)
# Each step's training job runs with a role of its own, which reaches only what that step
# reads and writes (the pipeline's role creates the jobs and passes them these)
MSA_JOB_ROLE = "MsaJobRole"
ALPHAFOLD_JOB_ROLE = "AlphaFoldJobRole"
OPENFOLD_JOB_ROLE = "OpenFoldJobRole"
MSA_IMAGE = "MsaImageUri"
ALPHAFOLD_IMAGE = "AlphaFoldImageUri"
OPENFOLD_IMAGE = "OpenFoldImageUri"
# The databases' file system: the stack's own (FsxFileSystemId empty) or the one given;
# the template resolves both (and the mount name) in the Fn::Sub map.
FSX_FILE_SYSTEM_ID = "DatabasesFileSystemId"
FSX_DIRECTORY_PATH = "DatabasesDirectoryPath"  # /<mount name><FsxDatabasesPath>
# KMS keys of the steps: KmsKeyArn when given, else the stack's key (volume) and the AWS
# managed alias/aws/s3 (outputs). Never empty, so the definition needs no second form.
VOLUME_KMS_KEY = "VolumeKmsKeyId"
OUTPUT_KMS_KEY = "OutputKmsKeyId"
# Fn::Sub cannot put a CommaDelimitedList in a string: the template passes
# Join('","', list) under these names, and the definition holds ["${SubnetsJson}"], so
# ["subnet-a","subnet-b"] comes out.
SUBNETS_JSON = "SubnetsJson"
SECURITY_GROUPS_JSON = "SecurityGroupsJson"
# The stack's MSA engine (alphafold | pyhmmer | mmseqs2 | auto): the default of the pipeline
# parameter MsaEngine (which an upload's tag overrides; FOLDLINE_MSA_ENGINE in the MSA job)
# and the start function's FOLDLINE_MSA_ENGINE, so both compute the same MSA cache key.
MSA_ENGINE = "MsaEngine"
# Which weights the OpenFold step may run (openfold | alphafold-params),
# FOLDLINE_OPENFOLD_WEIGHTS in its job (foldline.steps.openfold).
OPENFOLD_WEIGHTS = "OpenFoldWeights"

ALL: tuple[str, ...] = (
    BUCKET,
    MSA_JOB_ROLE,
    ALPHAFOLD_JOB_ROLE,
    OPENFOLD_JOB_ROLE,
    MSA_IMAGE,
    ALPHAFOLD_IMAGE,
    OPENFOLD_IMAGE,
    FSX_FILE_SYSTEM_ID,
    FSX_DIRECTORY_PATH,
    VOLUME_KMS_KEY,
    OUTPUT_KMS_KEY,
    SUBNETS_JSON,
    SECURITY_GROUPS_JSON,
    MSA_ENGINE,
    OPENFOLD_WEIGHTS,
)

#: the role each step's training job runs with (by step name)
STEP_ROLES: dict[str, str] = {
    MSA_STEP.name: MSA_JOB_ROLE,
    ALPHAFOLD_STEP.name: ALPHAFOLD_JOB_ROLE,
    OPENFOLD_STEP.name: OPENFOLD_JOB_ROLE,
}

#: the image each step runs (by step name)
STEP_IMAGES: dict[str, str] = {
    MSA_STEP.name: MSA_IMAGE,
    ALPHAFOLD_STEP.name: ALPHAFOLD_IMAGE,
    OPENFOLD_STEP.name: OPENFOLD_IMAGE,
}


def ref(name: str) -> str:
    """The placeholder text for ``name`` as it appears in the rendered JSON."""
    return "${" + name + "}"


def role_arn(role: str = ROLE) -> str:
    """A role's ARN as the definition spells it (a step's: ``role_arn(STEP_ROLES[name])``).

    Spelled out as an ARN because the SDK (3.x) looks a bare role name up in IAM; the
    same ARN is what ``!GetAtt <Role>.Arn`` returns for a path-less role.
    """
    return "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/" + ref(role)
