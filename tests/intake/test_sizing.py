"""foldline.intake.sizing: the table's boundaries, its agreement with its sources, pinned types."""

from __future__ import annotations

import pytest

from foldline.intake import sizing
from foldline.spec.parameters import INFERENCE_INSTANCE_TYPES, MSA_INSTANCE_TYPES, validate_value


def seqs(total: int, chains: int = 1) -> list[str]:
    each = total // chains
    return ["A" * each] * (chains - 1) + ["A" * (total - each * (chains - 1))]


def test_calibrated_points_are_reproduced_exactly():
    for point in sizing.table()["calibration"]["points"]:
        assert sizing.peak_gpu_gib(point["residues"]) == pytest.approx(point["peak_gpu_gib"])
        if point["predict_s"] is not None:
            assert sizing.predict_seconds(point["residues"], "H100-SXM-80GB") == pytest.approx(
                point["predict_s"]
            )


@pytest.mark.parametrize("residues", [100, 500, 1000])
def test_time_model_agrees_with_the_published_a100_figures(residues):
    published = sizing.table()["published_a100"]["predict_s"][str(residues)]
    # H100 calibration x bandwidth ratio, against the AlphaFold paper's A100 times
    assert sizing.predict_seconds(residues, "A100-SXM-40GB") == pytest.approx(published, rel=0.15)


def test_memory_grows_with_length_and_at_least_quadratically_past_the_data():
    lengths = [50, 256, 700, 1024, 1500, 2048, 2600, 3072, 4000, 6000]
    needs = [sizing.gpu_memory_needed_gib(n) for n in lengths]
    assert needs == sorted(needs)
    assert sizing.peak_gpu_gib(6144) >= sizing.peak_gpu_gib(3072) * 4 * 0.999


@pytest.mark.parametrize("family,next_family", [("g5", "g6e"), ("g6e", "p4de")])
def test_each_familys_boundary(family, next_family):
    limit = sizing.max_residues(family)
    chosen, fits = sizing.choose_inference(limit)
    assert (chosen.name, fits) == (family, True)
    assert sizing.gpu_memory_needed_gib(limit) <= chosen.usable_gib
    above, fits = sizing.choose_inference(limit + 1)
    assert (above.name, fits) == (next_family, True)
    assert sizing.gpu_memory_needed_gib(limit + 1) > chosen.usable_gib


def test_boundaries_sit_where_the_calibration_says():
    # measured: 2,048 residues peak at 12.1 GiB (x1.3 + 1.5 = 17.2 GiB, fits an A10G's 22 GiB);
    # XLA planned 27.7 GiB at 3,072 (37.5 GiB needed: an L40S's 44.5, not an A10G)
    assert 2048 <= sizing.max_residues("g5") < 3072
    assert 3072 <= sizing.max_residues("g6e")
    assert sizing.max_residues("p4d") < sizing.max_residues("g6e")  # 40 GB < 48 GB


def test_p4d_is_never_the_cheapest_fit():
    for residues in range(100, 6000, 50):
        chosen, _ = sizing.choose_inference(residues)
        assert chosen.name != "p4d"


def test_beyond_every_gpu_the_largest_memory_is_chosen_and_flagged():
    chosen, fits = sizing.choose_inference(sizing.max_residues("p4de") + sizing.max_residues("p5"))
    assert not fits
    assert chosen.usable_gib == max(f.usable_gib for f in sizing.inference_families())


def test_every_type_the_table_picks_is_a_type_users_may_pin_and_has_a_price():
    prices = sizing.table()["prices"]["usd_per_hour"]
    for family in sizing.inference_families():
        assert family.instance_type in INFERENCE_INSTANCE_TYPES
        assert family.usd_per_hour == prices[family.instance_type]
    for rule in sizing.table()["msa"]["rules"]:
        assert rule["instance_type"] in MSA_INSTANCE_TYPES
        assert rule["instance_type"] in prices
    assert sizing.table()["prices"]["as_of"]  # dated


def test_msa_rules_at_their_boundary():
    assert sizing.choose_msa("full_dbs", 1500) == "ml.m5.4xlarge"
    assert sizing.choose_msa("full_dbs", 1501) == "ml.r5.4xlarge"
    assert sizing.choose_msa("reduced_dbs", 1500) == "ml.m5.2xlarge"
    assert sizing.choose_msa("reduced_dbs", 1501) == "ml.m5.4xlarge"
    with pytest.raises(ValueError):
        sizing.choose_msa("tiny_dbs", 10)


def test_a_pinned_type_wins_over_the_table():
    long_run = seqs(sizing.max_residues("g5") + 200)
    sized = sizing.size_run(long_run, model_preset="monomer", db_preset="full_dbs")
    assert (
        sized.inference_instance_type == "ml.g6e.xlarge" and sized.inference_chosen_by == "sizing"
    )
    pinned = {
        "InferenceInstanceType": validate_value("InferenceInstanceType", "ml.g5.12xlarge"),
        "MSAInstanceType": validate_value("MSAInstanceType", "ml.c5.4xlarge"),
    }
    sized = sizing.size_run(long_run, model_preset="monomer", db_preset="full_dbs", pinned=pinned)
    assert sized.parameters() == {
        "MSAInstanceType": "ml.c5.4xlarge",
        "InferenceInstanceType": "ml.g5.12xlarge",
    }
    assert (sized.msa_chosen_by, sized.inference_chosen_by) == ("pinned", "pinned")
    assert sized.cost["inference_usd_per_hour"] == 7.09  # the pinned type is what is costed


def test_cost_is_hours_times_the_price_table():
    sized = sizing.size_run(seqs(400), model_preset="monomer", db_preset="full_dbs")
    cost = sized.cost
    expected = (
        cost["msa_hours"] * cost["msa_usd_per_hour"]
        + cost["inference_hours"] * cost["inference_usd_per_hour"]
    )
    assert cost["usd"] == pytest.approx(expected, abs=0.02)
    # two inference steps of five models each, plus start-up: more than 5 predictions' time
    tm = sizing.table()["time_model"]
    one = sizing.predict_seconds(400, "A10G")
    assert cost["inference_hours"] * 3600 >= 2 * (tm["start_s"] + 5 * one)


def test_multimer_and_reuse_change_the_estimate_the_right_way():
    mono = sizing.size_run(seqs(600), model_preset="monomer", db_preset="full_dbs").cost
    multi = sizing.size_run(
        seqs(600, 2), model_preset="multimer", db_preset="full_dbs", predictions_per_model=5
    ).cost
    assert multi["inference_hours"] > 3 * mono["inference_hours"] / 2  # 25 predictions, not 5
    reused = sizing.size_run(
        seqs(600), model_preset="monomer", db_preset="full_dbs", msa_reused=True
    ).cost
    assert reused["msa_hours"] < mono["msa_hours"] and reused["usd"] < mono["usd"]


def test_cost_line_for_people():
    sized = sizing.size_run(seqs(300), model_preset="monomer", db_preset="reduced_dbs")
    line = sizing.cost_line({"sizing": sized.as_item()})
    assert line.startswith(f"Estimated cost: ${sized.cost['usd']:.2f} on-demand")
    assert "ml.g5.2xlarge" in line and sizing.table()["prices"]["as_of"] in line
    assert sizing.cost_line({}) is None
    # foldline local: the same number, said to be what AWS would charge, not a cost
    local = sizing.cost_line({"sizing": sized.as_item()}, local=True)
    assert local.startswith(
        f"Cloud cost estimate (this local run cost nothing; the same run in AWS): "
        f"${sized.cost['usd']:.2f} on-demand"
    )


def test_unlisted_sizes_of_linear_cpu_families_are_priced_by_vcpus():
    from foldline.intake.sizing import price_per_hour, table

    listed = table()["prices"]["usd_per_hour"]
    # the declared rule holds for the listed sizes themselves: one price per vCPU a family
    for family, per_4 in (("m5", 0.23), ("c5", 0.204), ("r5", 0.3025)):
        for name, usd in listed.items():
            if name.startswith(f"ml.{family}."):
                size = name.rsplit(".", 1)[1]
                vcpus = 2 if size == "large" else 4 * int(size.removesuffix("xlarge") or 1)
                assert usd == pytest.approx(per_4 * vcpus / 4, rel=0.01), name
    assert price_per_hour("ml.c5.18xlarge") == pytest.approx(0.204 * 18, rel=0.01)
    assert price_per_hour("ml.r5.24xlarge") == pytest.approx(0.3025 * 24, rel=0.01)
    assert price_per_hour("ml.g5.2xlarge") == listed["ml.g5.2xlarge"]
    # GPU families and CPU families without a listed size are not guessed
    assert price_per_hour("ml.g6e.16xlarge") is None
    assert price_per_hour("ml.m6i.xlarge") is None
