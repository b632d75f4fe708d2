"""Screening mode end to end: ``foldline local run screen.fasta --screen``.

Twelve records in one drop: eight distinct real sequences (homologues from the bundled
databases), three repeats of them (one in lower case under another header) placed so
that they are in flight beside their originals, and one DNA record. The command runs
in-process (typer's CliRunner); the runs table, the bucket and the jobs are read from
what the runtime leaves in the work folder.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from Bio import SeqIO
from typer.testing import CliRunner

from foldline.cli.app import app
from foldline.local.outbox import read_notice
from foldline.local.paths import DEFAULT_DATABASES
from foldline.spec import layout
from foldline.spec.screening import CAMPAIGN_MEMBER_ATTRIBUTE

pytestmark = pytest.mark.slow

DISTINCT = 8


def _sequences() -> list[tuple[str, str]]:
    """The first eight UniRef90 entries of the bundled database of 150-220 residues."""
    records = SeqIO.parse(DEFAULT_DATABASES / "uniref90" / "uniref90.fasta", "fasta")
    chosen = [(r.id, str(r.seq)) for r in records if 150 <= len(r.seq) <= 220]
    return chosen[:DISTINCT]


def _screen(path: Path) -> list[tuple[str, str]]:
    seqs = _sequences()
    records = [
        ("s1", seqs[0][1]),
        ("s2", seqs[1][1]),
        ("s1_repeat", seqs[0][1].lower()),
        ("s3", seqs[2][1]),
        ("s4", seqs[3][1]),
        ("s2_repeat", seqs[1][1]),
        ("s5", seqs[4][1]),
        ("dna", "ATGGCGTACGTTAGCATCGATCGATCGGCTAGCTAGCATCG"),
        ("s6", seqs[5][1]),
        ("s7", seqs[6][1]),
        ("s1_again", seqs[0][1]),
        ("s8", seqs[7][1]),
    ]
    path.write_text("".join(f">{name} {name} of the screen\n{seq}\n" for name, seq in records))
    return records


def _items(work: Path) -> list[dict]:
    """The runs table as the runtime saved it (DynamoDB JSON)."""
    from foldline.runs.table import from_wire

    raw = json.loads((work / "state" / "dynamodb" / "RunsTable.json").read_text())
    return [from_wire(item) for item in raw]


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    root = tmp_path_factory.mktemp("screen")
    work = root / "work"
    fasta = root / "screen.fasta"
    records = _screen(fasta)
    result = CliRunner().invoke(
        app, ["local", "run", str(fasta), "--screen", "--workdir", str(work), "--timeout", "1500"]
    )
    return work, records, result


def test_every_good_record_ran_once_and_the_bad_one_is_reported(screened):
    work, records, result = screened
    assert result.exit_code == 0, result.output  # a refused record sinks nothing
    items = _items(work)
    (campaign,) = [i for i in items if i["run_id"].startswith("#campaign#")]
    members = [i for i in items if i.get("campaign") == campaign["campaign_id"]]
    assert len(members) == len(records) == campaign["expected"]  # 0 lost
    assert len({m["run_id"] for m in members}) == len(records)  # 0 duplicated
    by_record = {m["target"]: m for m in members}
    assert {r: m["status"] for r, m in by_record.items()} == {
        name: "Rejected" if name == "dna" else "Succeeded" for name, _ in records
    }
    assert "nucleotide" in by_record["dna"]["reason"]
    assert campaign["ended"] == {m["run_id"] for m in members}
    assert campaign["unique_sequences"] == DISTINCT
    # one execution per good record, never two (SageMaker's own record of them)
    executed = Counter(
        json.loads(p.read_text())["execution"]["PipelineExecutionDisplayName"]
        for p in (work / "executions").glob("*.json")
    )
    assert sorted(executed) == sorted(m["run_id"] for m in members if m["status"] != "Rejected")
    assert set(executed.values()) == {1}
    assert f"campaign {campaign['campaign_id']}: 12 records" in result.output


def test_repeated_chains_were_searched_once(screened):
    work, _records, _result = screened
    # every search stores its MSAs under msa-cache/<key>/files/<the run that searched>/
    index = json.loads(next((work / "state" / "s3").glob("*/index.json")).read_text())
    keys = index if isinstance(index, list) else list(index)
    searches = {
        (k.split("/")[1], k.split("/")[3])
        for k in keys
        if k.startswith(layout.MSA_CACHE) and "/files/" in k
    }
    per_key = Counter(cache_key for cache_key, _origin in searches)
    assert len(per_key) == DISTINCT and set(per_key.values()) == {1}
    # and the MSA jobs agree: eight searched (pyhmmer), the repeats copied or were reused
    engines = Counter(
        json.loads(p.read_text())["engine"]
        for p in (work / "jobs").glob(f"*RunMSA*/model/{layout.STEP_MANIFEST}")
    )
    assert engines["pyhmmer"] == DISTINCT and sum(engines.values()) <= 11


def test_one_summary_notice_names_every_record(screened):
    work, records, _result = screened
    notices = [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]
    summaries = [n for n in notices if n.attributes.get("status") == "campaign-ended"]
    assert len(summaries) == 1
    body = summaries[0].body
    assert "11 succeeded" in summaries[0].subject and "1 rejected" in summaries[0].subject
    for name, _seq in records:
        assert name in body
    # each run's own notice names its campaign, which the e-mail subscription filters out
    campaign_id = summaries[0].attributes["campaign"]
    members = [n for n in notices if n is not summaries[0]]
    assert len(members) == 11  # one per run that ran; the refused record sends none
    assert {n.attributes.get(CAMPAIGN_MEMBER_ATTRIBUTE) for n in members} == {campaign_id}
