from __future__ import annotations

import pytest

from foldline.spec.parameters import (
    NOTEBOOK_PARAMETERS,
    PARAMETERS,
    STEP_DEPENDENCIES,
    STEP_FIXED_HYPERPARAMETERS,
    STEP_HYPERPARAMETERS,
    STEPS,
    InvalidParameter,
    defaults,
    validate_value,
)


def test_the_eight_parameters_of_the_reference_notebooks_with_their_defaults():
    assert [p.name for p in NOTEBOOK_PARAMETERS] == [
        "FastaInputS3URI",
        "FastaFileName",
        "DbPreset",
        "MaxTemplateDate",
        "ModelPreset",
        "NumMultimerPredictionsPerModel",
        "MSAInstanceType",
        "InferenceInstanceType",
    ]
    assert [p.name for p in PARAMETERS] == [p.name for p in NOTEBOOK_PARAMETERS] + [
        "MsaEngine",
        "RunId",
        "MsaCacheS3URI",
    ]
    assert defaults() == {
        "DbPreset": "full_dbs",
        "MaxTemplateDate": "",
        "ModelPreset": "monomer",
        "NumMultimerPredictionsPerModel": 5,
        "MSAInstanceType": "ml.m5.4xlarge",
        "InferenceInstanceType": "ml.g5.4xlarge",
    }


def test_defaults_are_allowed_values():
    for p in PARAMETERS:
        if p.allowed is not None and p.default is not None:  # None: the start sets it
            assert p.default in p.allowed, p.name


def test_steps_depend_on_the_msa_only_and_get_known_hyperparameters():
    names = {p.name for p in PARAMETERS}
    assert STEP_DEPENDENCIES == {
        "RunMSA": (),
        "RunAlphaFold": ("RunMSA",),
        "RunOpenFold": ("RunMSA",),
    }
    for step in STEPS:
        assert set(STEP_HYPERPARAMETERS[step.name]) <= names


def test_the_msa_step_gets_nothing_run_specific():
    """SageMaker's step cache keys on the step's hyperparameters: a run id or the
    uploaded file's name there would make every run a miss."""
    assert not {"RunId", "FastaFileName", "FastaInputS3URI"} & set(STEP_HYPERPARAMETERS["RunMSA"])
    assert STEP_FIXED_HYPERPARAMETERS["RunMSA"] == {"FastaFileName": "query.fasta"}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("ModelPreset", "multimer", "multimer"),
        ("DbPreset", " reduced_dbs ", "reduced_dbs"),
        ("MaxTemplateDate", "2021-11-01", "2021-11-01"),
        ("NumMultimerPredictionsPerModel", "3", 3),
        ("InferenceInstanceType", "ml.g6e.xlarge", "ml.g6e.xlarge"),
    ],
)
def test_good_values_are_canonicalised(name, value, expected):
    assert validate_value(name, value) == expected


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("ModelPreset", "monomer_fast", ["ModelPreset", "monomer_fast", "allowed"]),
        ("MaxTemplateDate", "last tuesday", ["YYYY-MM-DD"]),
        ("MaxTemplateDate", "2021-02-30", ["YYYY-MM-DD"]),
        ("NumMultimerPredictionsPerModel", "five", ["whole number"]),
        ("NumMultimerPredictionsPerModel", "0", ["between 1 and 100"]),
        ("InferenceInstanceType", "ml.t2.micro", ["ml.t2.micro"]),
        ("Colour", "blue", ["unknown parameter"]),
    ],
)
def test_bad_values_are_refused_with_a_reason(name, value, words):
    with pytest.raises(InvalidParameter) as refused:
        validate_value(name, value)
    for word in words:
        assert word in str(refused.value)


def _training_instance_types() -> set[str]:
    """SageMaker's own list of training instance types (botocore's service model)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return set(model.shape_for("TrainingInstanceType").enum)


def test_every_allowed_instance_type_is_a_sagemaker_training_instance_type():
    # An allowed type SageMaker does not have passes intake and fails hours later at
    # CreateTrainingJob (ml.m5.8xlarge, ml.c5.12xlarge ... were once allowed).
    from foldline.spec.parameters import INFERENCE_INSTANCE_TYPE, MSA_INSTANCE_TYPE

    known = _training_instance_types()
    for parameter in (MSA_INSTANCE_TYPE, INFERENCE_INSTANCE_TYPE):
        unknown = [t for t in parameter.allowed if t not in known]
        assert not unknown, f"{parameter.name} allows types SageMaker cannot train on: {unknown}"


def test_the_sizing_table_picks_and_prices_only_allowed_types():
    from foldline.intake import sizing
    from foldline.spec.parameters import INFERENCE_INSTANCE_TYPES, MSA_INSTANCE_TYPES

    table = sizing.table()
    picks = {rule["instance_type"] for rule in table["msa"]["rules"]}
    assert picks <= set(MSA_INSTANCE_TYPES)
    gpu_picks = {f.instance_type for f in sizing.inference_families()}
    assert gpu_picks <= set(INFERENCE_INSTANCE_TYPES)
    priced = set(table["prices"]["usd_per_hour"])
    assert priced <= set(MSA_INSTANCE_TYPES) | set(INFERENCE_INSTANCE_TYPES), (
        priced - set(MSA_INSTANCE_TYPES) - set(INFERENCE_INSTANCE_TYPES)
    )
    assert priced <= _training_instance_types()
