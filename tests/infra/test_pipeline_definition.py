"""The pipeline definition as deployed: the copy in template.yaml (no SDK needed here).

A fresh render with the SDK is compared with that copy in test_render.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

# what SageMaker's step cache compares for a training step (one list, with its source)
from foldline.local.step_cache import TRAINING_KEY_ATTRIBUTES
from foldline.spec import parameters as fp
from pipeline import embedded, placeholders
from tests.infra.conftest import ROOT

PIPELINE_VALUES = {
    "FoldlineBucket": "foldline-bucket",
    "AWS::Partition": "aws",
    "AWS::AccountId": "123456789012",
    "MsaJobRole": "foldline-msa-job",
    "AlphaFoldJobRole": "foldline-alphafold-job",
    "OpenFoldJobRole": "foldline-openfold-job",
    "MsaImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/foldline/msa:1",
    "AlphaFoldImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/foldline/alphafold:1",
    "OpenFoldImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/foldline/openfold:1",
    "DatabasesFileSystemId": "fs-0123456789abcdef0",
    "DatabasesDirectoryPath": "/abcdefgh/alphafold-databases",
    "VolumeKmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "OutputKmsKeyId": "alias/aws/s3",
    "SubnetsJson": ["subnet-a", "subnet-b"],
    "SecurityGroupsJson": ["sg-a"],
    "MsaEngine": "alphafold",
    "OpenFoldWeights": "openfold",
}


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    return json.loads(embedded.definition_text(template))


@pytest.fixture(scope="module")
def steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["Name"]: step for step in definition["Steps"]}


def channels(step: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["ChannelName"]: c["DataSource"] for c in step["Arguments"]["InputDataConfig"]}


def test_exactly_the_three_steps_with_their_dependencies(steps):
    assert list(steps) == [s.name for s in fp.STEPS]
    for name, step in steps.items():
        assert step["Type"] == "Training"
        assert tuple(step.get("DependsOn", ())) == fp.STEP_DEPENDENCIES[name]


def test_all_eight_parameters_with_the_package_defaults(definition):
    declared = {p["Name"]: p for p in definition["Parameters"]}
    assert list(declared) == [p.name for p in fp.PARAMETERS]
    # the reference notebooks' eight, the MSA engine, the run id that places the outputs,
    # the MSA cache
    assert [p.name for p in fp.NOTEBOOK_PARAMETERS] == list(declared)[:8]
    assert list(declared)[8:] == ["MsaEngine", "RunId", "MsaCacheS3URI"]
    for param in fp.PARAMETERS:
        entry = declared[param.name]
        assert entry["Type"] == param.type
        if param is fp.MSA_ENGINE:  # a start by hand runs the stack's engine
            assert entry["DefaultValue"] == "${MsaEngine}"
        elif param.default is None:
            assert "DefaultValue" not in entry, param.name
        else:
            assert entry["DefaultValue"] == param.default, param.name
        assert entry.get("EnumValues") == (list(param.allowed) if param.allowed else None)
    assert declared["MSAInstanceType"]["DefaultValue"] == "ml.m5.4xlarge"
    assert declared["InferenceInstanceType"]["DefaultValue"] == "ml.g5.4xlarge"


def test_databases_are_fsx_read_only_on_every_step(steps):
    for name, step in steps.items():
        fsx = channels(step)[fp.CHANNEL_DATABASES]["FileSystemDataSource"]
        assert fsx == {
            "FileSystemId": "${DatabasesFileSystemId}",
            "FileSystemAccessMode": "ro",
            "FileSystemType": "FSxLustre",
            "DirectoryPath": "${DatabasesDirectoryPath}",
        }, name
        # FSx channels need the job inside the file system's VPC
        assert step["Arguments"]["VpcConfig"] == {
            "SecurityGroupIds": ["${SecurityGroupsJson}"],
            "Subnets": ["${SubnetsJson}"],
        }


def test_msa_artefact_feeds_both_inference_steps_and_fasta_every_step(steps):
    msa_artefact = {"Get": f"Steps.{fp.MSA_STEP.name}.ModelArtifacts.S3ModelArtifacts"}
    for step in fp.INFERENCE_STEPS:
        assert channels(steps[step.name])[fp.CHANNEL_MSA]["S3DataSource"]["S3Uri"] == msa_artefact
    assert fp.CHANNEL_MSA not in channels(steps[fp.MSA_STEP.name])
    for name, step in steps.items():
        fasta = channels(step)[fp.CHANNEL_FASTA]["S3DataSource"]
        assert fasta["S3DataType"] == "S3Prefix"
        if name == fp.MSA_STEP.name:  # the query staged under msa-cache/<key>/input/
            assert fasta["S3Uri"] == {
                "Std:Join": {
                    "On": "",
                    "Values": [{"Get": f"Parameters.{fp.MSA_CACHE_S3_URI.name}"}, "input/"],
                }
            }
        else:
            assert fasta["S3Uri"] == {"Get": f"Parameters.{fp.FASTA_INPUT_S3_URI.name}"}, name


def test_only_the_msa_step_is_cached_and_its_cache_key_holds_nothing_run_specific(steps):
    assert steps[fp.MSA_STEP.name]["CacheConfig"] == {
        "Enabled": True,
        "ExpireAfter": fp.MSA_STEP_CACHE_EXPIRE_AFTER,
    }
    for step in fp.INFERENCE_STEPS:
        assert not steps[step.name].get("CacheConfig", {}).get("Enabled"), step.name
    key_parts = json.dumps(
        {k: steps[fp.MSA_STEP.name]["Arguments"].get(k) for k in TRAINING_KEY_ATTRIBUTES}
    )
    for run_specific in (fp.RUN_ID, fp.FASTA_INPUT_S3_URI, fp.FASTA_FILE_NAME):
        assert f"Parameters.{run_specific.name}" not in key_parts, run_specific.name


def test_hyperparameters_are_the_steps_parameters_as_strings(steps):
    for name, step in steps.items():
        hps = step["Arguments"]["HyperParameters"]
        fixed = fp.STEP_FIXED_HYPERPARAMETERS.get(name, {})
        expected = set(fp.STEP_HYPERPARAMETERS[name]) | set(fixed) | {"sagemaker_program"}
        assert set(hps) == expected, name
        assert {k: hps[k] for k in fixed} == fixed
        launcher = "foldline_" + fp.step_by_name(name).program.rsplit(".", 1)[1] + ".py"
        assert hps["sagemaker_program"] == launcher
        assert (ROOT / "containers" / "entry" / launcher).is_file()  # the images ship it
        for key in fp.STEP_HYPERPARAMETERS[name]:
            value = hps[key]
            if fp.PARAMETERS_BY_NAME[key].type == "Integer":
                # SageMaker wants strings: an Integer parameter must arrive converted
                assert value == {"Std:Join": {"On": "", "Values": [{"Get": f"Parameters.{key}"}]}}
            else:
                assert value == {"Get": f"Parameters.{key}"}


def test_instance_types_images_and_outputs(steps):
    instance = {fp.MSA_STEP.name: fp.MSA_INSTANCE_TYPE.name}
    instance |= {s.name: fp.INFERENCE_INSTANCE_TYPE.name for s in fp.INFERENCE_STEPS}
    for name, step in steps.items():
        args = step["Arguments"]
        assert args["ResourceConfig"]["InstanceType"] == {"Get": f"Parameters.{instance[name]}"}
        assert args["AlgorithmSpecification"]["TrainingImage"] == placeholders.ref(
            placeholders.STEP_IMAGES[name]
        )
        # each step's job runs with its own role, never the pipeline's
        assert args["RoleArn"] == placeholders.role_arn(placeholders.STEP_ROLES[name])
        assert placeholders.STEP_ROLES[name] != placeholders.ROLE
        output_dir = fp.step_by_name(name).output_dir
        assert args["OutputDataConfig"]["S3OutputPath"] == {
            "Std:Join": {
                "On": "",
                "Values": [
                    "s3://${FoldlineBucket}/runs/",
                    {"Get": "Parameters.RunId"},
                    f"/{output_dir}/",
                ],
            }
        }


def test_every_placeholder_is_resolved_by_the_stack(template):
    """Each ${...} in the definition is a Sub variable, a parameter, a resource or a pseudo parameter."""
    sub = template["Resources"]["FoldPipeline"]["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]["Fn::Sub"]
    known = set(sub[1]) | set(template["Parameters"]) | set(template["Resources"])
    found = embedded.placeholders(sub[0])
    assert found == set(placeholders.ALL) | {"AWS::Partition", "AWS::AccountId"}
    for name in found:
        assert name.startswith("AWS::") or name.split(".")[0] in known, name


def test_local_values_fill_the_definition(template):
    filled = embedded.load_definition(PIPELINE_VALUES)
    step = filled["Steps"][0]["Arguments"]
    assert step["VpcConfig"] == {"SecurityGroupIds": ["sg-a"], "Subnets": ["subnet-a", "subnet-b"]}
    assert step["RoleArn"] == "arn:aws:iam::123456789012:role/foldline-msa-job"
    assert "${" not in json.dumps(filled)
    with pytest.raises(KeyError, match="DatabasesDirectoryPath"):
        embedded.load_definition(
            {k: v for k, v in PIPELINE_VALUES.items() if k != "DatabasesDirectoryPath"}
        )
