"""The stack's bounds on what an upload may make it spend (foldline.intake.spend_limits)."""

from __future__ import annotations

import pytest

from foldline.intake import sizing
from foldline.intake.fasta import FastaRejected
from foldline.intake.spend_limits import DEFAULT_FAMILIES, SpendLimits


def test_limits_from_the_environment():
    assert SpendLimits.from_env({}) == SpendLimits(DEFAULT_FAMILIES, 100.0)
    limits = SpendLimits.from_env(
        {
            "FOLDLINE_PINNABLE_INSTANCE_FAMILIES": " ml.m5 , ml.g5,",
            "FOLDLINE_MAX_RUN_COST_USD": "12.5",
        }
    )
    assert limits == SpendLimits(("ml.m5", "ml.g5"), 12.5)
    assert SpendLimits.from_env({"FOLDLINE_PINNABLE_INSTANCE_FAMILIES": ""}).pinnable_families == ()


@pytest.mark.parametrize(
    "pins, refused",
    [
        ({}, None),
        ({"MSAInstanceType": "ml.m5.12xlarge", "InferenceInstanceType": "ml.g5.2xlarge"}, None),
        ({"InferenceInstanceType": "ml.p4d.24xlarge"}, "InferenceInstanceType ml.p4d.24xlarge"),
        ({"MSAInstanceType": "ml.m6i.2xlarge"}, "MSAInstanceType ml.m6i.2xlarge"),
        ({"DbPreset": "reduced_dbs"}, None),
    ],
)
def test_pins_outside_the_families_are_refused(pins, refused):
    if refused is None:
        SpendLimits().check_pins(pins)
        return
    with pytest.raises(FastaRejected) as caught:
        SpendLimits().check_pins(pins)
    assert caught.value.rejection.code == "instance_not_allowed"
    assert refused in caught.value.rejection.message


def _sized(residues: int, **kwargs) -> dict:
    return sizing.size_run(
        ["A" * residues],
        model_preset=kwargs.pop("model_preset", "monomer"),
        db_preset="full_dbs",
        **kwargs,
    ).as_item()


def test_the_ceiling_compares_the_sizing_estimate():
    sized = _sized(300)
    usd = sized["cost"]["usd"]
    SpendLimits(max_run_usd=usd + 0.01).check_cost(sized, {"ModelPreset": "monomer"})
    with pytest.raises(FastaRejected) as caught:
        SpendLimits(max_run_usd=usd - 0.01).check_cost(sized, {"ModelPreset": "monomer"})
    assert caught.value.rejection.code == "over_cost_ceiling"
    assert f"${usd:.2f}" in caught.value.rejection.message
    SpendLimits(max_run_usd=0).check_cost(sized, {})  # 0: no ceiling


def test_more_predictions_per_model_raise_the_estimate_past_the_ceiling():
    few = _sized(800, model_preset="multimer", predictions_per_model=5)
    many = _sized(800, model_preset="multimer", predictions_per_model=100)
    assert many["cost"]["usd"] > 5 * few["cost"]["usd"]
    limits = SpendLimits(max_run_usd=few["cost"]["usd"] * 2)
    limits.check_cost(few, {"ModelPreset": "multimer", "NumMultimerPredictionsPerModel": "5"})
    with pytest.raises(FastaRejected, match="100 predictions per model"):
        limits.check_cost(
            many, {"ModelPreset": "multimer", "NumMultimerPredictionsPerModel": "100"}
        )


def test_an_unpriced_type_is_refused_under_a_ceiling_and_allowed_without_one():
    sized = _sized(300, pinned={"InferenceInstanceType": "ml.g6.xlarge"})
    assert sized["cost"]["usd"] is None
    with pytest.raises(FastaRejected, match="no price for ml.g6.xlarge"):
        SpendLimits().check_cost(sized, {})
    SpendLimits(max_run_usd=0).check_cost(sized, {})
