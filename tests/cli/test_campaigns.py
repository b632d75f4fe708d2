"""``foldline status CAMPAIGN`` and ``foldline compare --campaign``: a screening drop's runs."""

from __future__ import annotations

import json

import pytest

from foldline.runs.campaigns import Campaigns

from .conftest import invoke

CAMPAIGN = "proteome-0123456789abcdef0123456789abcdef"


@pytest.fixture
def campaign(moto_stack, seeded) -> list[dict]:
    """A campaign of four records: two reported runs, a refused record, one executing."""
    reported_first, _other, reported_last, running = seeded
    refused = "dna-fedcba9876543210fedcba9876543210"
    moto_stack.runs.put(refused, status="Rejected", target="dna", reason="record 3 looks like DNA")
    members = [reported_first, reported_last, {"run_id": refused, "target": "dna"}, running]
    for number, member in enumerate(members, 1):
        moto_stack.runs.update(member["run_id"], campaign=CAMPAIGN, campaign_record=number)
    campaigns = Campaigns(moto_stack.runs)
    campaigns.create(
        CAMPAIGN,
        bucket=moto_stack.bucket,
        key="inputs/proteome.fasta",
        target="proteome",
        members=[
            {"number": n, "record_id": m["target"], "run_id": m["run_id"]}
            for n, m in enumerate(members, 1)
        ],
        expected=4,
        unique_sequences=3,
    )
    for member in members[:3]:
        campaigns.member_ended(CAMPAIGN, member["run_id"])
    return members


def test_status_of_a_campaign_shows_each_record_and_what_is_left(moto_stack, campaign):
    result = invoke("status", CAMPAIGN[:14])  # a unique beginning will do
    assert result.exit_code == 0, result.stderr
    out = result.output
    assert CAMPAIGN in out and "inputs/proteome.fasta" in out
    assert "1 Executing, 1 Rejected, 2 Succeeded" in out
    assert "3 of 4 ended" in out
    assert "record 3 looks like DNA" in out
    for member in campaign:
        assert member["run_id"] in out


def test_status_of_a_campaign_as_json(moto_stack, campaign):
    result = invoke("status", CAMPAIGN, "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.output)
    assert [r["run_id"] for r in doc["runs"]] == [m["run_id"] for m in campaign]
    assert doc["ended"] == sorted(m["run_id"] for m in campaign[:3])
    assert doc["expected"] == 4


def test_the_recent_list_shows_campaigns_below_the_runs(moto_stack, campaign):
    result = invoke("status")
    assert result.exit_code == 0, result.stderr
    assert "Campaigns (screening drops)" in result.output or CAMPAIGN in result.output
    assert CAMPAIGN in result.output
    assert "#campaign#" not in result.output  # the item is not listed as a run


def test_compare_a_campaign_takes_its_reported_runs_in_file_order(moto_stack, campaign, tmp_path):
    result = invoke(
        "compare", "--campaign", CAMPAIGN, "--plot", str(tmp_path / "c.png"), "--json", "--no-track"
    )
    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.output)["runs"]
    assert [r["run_id"] for r in runs] == [campaign[0]["run_id"], campaign[1]["run_id"]]


def test_compare_an_unknown_campaign_says_so(moto_stack, campaign):
    result = invoke("compare", "--campaign", "nothing-like-it")
    assert result.exit_code != 0
    assert "no campaign 'nothing-like-it'" in result.stderr
