"""MSA reuse through the local mode: five uploads in one work folder, one local cloud.

1. ``xylanase-a.fasta``: the search runs and its MSAs are stored under msa-cache/<key>/.
2. The same sequence under another file name and header: the start function finds the
   entry ("MSA reused from run 1" in the runs table and the notice) and SageMaker's step
   cache (played by the local executor) reuses run 1's MSA step: no job starts, and both
   inference steps receive the very bytes run 1 computed.
3. The same sequence with another MaxTemplateDate (a tag): another key, the search runs.
4. The same sequence with ModelPreset monomer_ptm: the MSA step's hyperparameters differ,
   so the step cache misses, but the MSA key (same model family) hits: the job copies
   run 1's MSAs from msa-cache/ without searching.
5. Run 2's file again after run 1's msa-cache/ manifest was deleted: the start function
   sees a miss, SageMaker's step cache still reuses run 1's MSA step, and the analysis
   records "MSA reused from run 1" from the step's CacheHitResult.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from foldline.local.outbox import read_notice
from foldline.spec import layout
from foldline.spec.parameters import ALPHAFOLD_STEP, MSA_STEP, OPENFOLD_STEP
from foldline.steps import msa_cache

from .conftest import EXAMPLE

pytestmark = pytest.mark.slow


def _job(work: Path, execution_arn: str, step: str) -> Path:
    execution_id = execution_arn.rsplit("/", 1)[-1]
    (job,) = (work / "jobs").glob(f"pipelines-{execution_id}-{step}-*")
    return job


def _msa_files_of_archive(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {
            m.name: tar.extractfile(m).read()
            for m in tar.getmembers()
            if m.isfile() and m.name.startswith("msas/")
        }


def _msa_files_of_folder(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in (folder / "msas").rglob("*")
        if p.is_file()
    }


@pytest.fixture(scope="module")
def cache_runs(tmp_path_factory):
    from foldline.local.runtime import DEFAULT_DATABASES, LocalRuntime

    root = tmp_path_factory.mktemp("msa-cache")
    sequence = "".join(EXAMPLE.read_text().splitlines()[1:])
    first = root / "xylanase-a.fasta"
    first.write_text(EXAMPLE.read_text())
    renamed = root / "renamed-b.fasta"
    renamed.write_text(f">another header for the same chain\n{sequence.lower()}\n")
    runtime = LocalRuntime(root / "work", databases=DEFAULT_DATABASES, retry_delay=1)
    runtime.start()
    try:
        a = runtime.upload(first)
        items = runtime.wait([a.run_id], timeout=900)
        b = runtime.upload(renamed)
        items.update(runtime.wait([b.run_id], timeout=900))
        c_id = runtime.upload(
            first, "older-templates.fasta", tags={"MaxTemplateDate": "2025-06-01"}
        ).run_id
        items.update(runtime.wait([c_id], timeout=900))
        d_id = runtime.upload(first, "ptm.fasta", tags={"ModelPreset": "monomer_ptm"}).run_id
        items.update(runtime.wait([d_id], timeout=900))
        s3 = runtime.cloud.client("s3")
        objects = [
            o["Key"]
            for o in s3.list_objects_v2(Bucket=runtime.bucket, Prefix=layout.MSA_CACHE).get(
                "Contents", []
            )
        ]
        # 5. foldline's entry gone (say, a lifecycle rule): SageMaker's step cache still
        #    reuses run 1's MSA step, and the analysis tells where the MSAs came from
        s3.delete_object(
            Bucket=runtime.bucket,
            Key=layout.msa_cache_prefix(items[a.run_id]["msa_cache_key"]) + msa_cache.MANIFEST_NAME,
        )
        e_id = runtime.upload(renamed, "no-manifest.fasta").run_id
        items.update(runtime.wait([e_id], timeout=900))
        steps = {
            r: {s["StepName"]: s for s in runtime.steps(items[r]["execution_arn"])}
            for r in (a.run_id, b.run_id, c_id, d_id, e_id)
        }
        reports = {r: runtime.download_report(r) for r in (a.run_id, b.run_id, e_id)}
    finally:
        runtime.stop()
    return {
        "work": root / "work",
        "ids": (a.run_id, b.run_id, c_id, d_id, e_id),
        "items": items,
        "cache_objects": objects,
        "reports": reports,
        "steps": steps,
    }


def test_all_five_runs_succeed(cache_runs):
    assert [cache_runs["items"][i]["status"] for i in cache_runs["ids"]] == ["Succeeded"] * 5


def test_second_run_reuses_the_first_runs_msa_step_without_a_job(cache_runs):
    work, (a, b, *_), items = cache_runs["work"], cache_runs["ids"], cache_runs["items"]
    first = json.loads(
        (
            _job(work, items[a]["execution_arn"], MSA_STEP.name) / "model" / "foldline-step.json"
        ).read_text()
    )
    assert first["engine"] == "pyhmmer"  # the search ran
    assert first["outputs"]["msa_cache"] == {
        "key": items[a]["msa_cache_key"],
        "hit": False,
        "stored": True,
    }
    # the second run's MSA step: SageMaker's step cache, no training job at all
    msa_step = cache_runs["steps"][b][MSA_STEP.name]
    assert msa_step["StepStatus"] == "Succeeded"
    assert msa_step["CacheHitResult"] == {"SourcePipelineExecutionArn": items[a]["execution_arn"]}
    execution_id = items[b]["execution_arn"].rsplit("/", 1)[-1]
    assert not list((work / "jobs").glob(f"pipelines-{execution_id}-{MSA_STEP.name}-*"))
    assert "CacheHitResult" not in cache_runs["steps"][a][MSA_STEP.name]
    assert items[b]["msa_cache_key"] == items[a]["msa_cache_key"]
    assert items[b]["msa_reused_from"] == a
    assert "msa_reused_from" not in items[a]
    # the cost estimate knew: the MSA step of a reused run costs minutes, not hours
    assert items[b]["sizing"]["cost"]["msa_reused"] is True
    assert items[b]["sizing"]["cost"]["msa_hours"] < items[a]["sizing"]["cost"]["msa_hours"]


def test_a_run_the_step_cache_cannot_serve_copies_the_msas_without_searching(cache_runs):
    work, (a, _, _, d, _), items = cache_runs["work"], cache_runs["ids"], cache_runs["items"]
    assert items[d]["parameters"]["ModelPreset"] == "monomer_ptm"
    assert "CacheHitResult" not in cache_runs["steps"][d][MSA_STEP.name]
    copied = json.loads(
        (
            _job(work, items[d]["execution_arn"], MSA_STEP.name) / "model" / "foldline-step.json"
        ).read_text()
    )
    assert copied["engine"] == "cache"  # no search: copied from msa-cache/<key>/
    assert copied["call"] == "foldline.steps.msa_cache.fetch"
    assert copied["outputs"]["msa_cache"]["reused_from"] == a
    assert items[d]["msa_reused_from"] == a


def test_both_engines_of_every_reusing_run_receive_byte_identical_msas(cache_runs):
    work, (a, b, _, d, _), items = cache_runs["work"], cache_runs["ids"], cache_runs["items"]
    computed = _msa_files_of_folder(_job(work, items[a]["execution_arn"], MSA_STEP.name) / "model")
    assert any(name.endswith(".sto") for name in computed) and len(computed) >= 3
    for run in (a, b, d):
        for step in (ALPHAFOLD_STEP, OPENFOLD_STEP):
            channel = _job(work, items[run]["execution_arn"], step.name) / "input" / "data" / "msa"
            (archive,) = channel.glob("*.tar.gz")
            assert _msa_files_of_archive(archive) == computed, (run, step.name)


def test_the_notice_and_report_say_msa_reused_from_the_first_run(cache_runs):
    work, (a, b, *_), _items = cache_runs["work"], cache_runs["ids"], cache_runs["items"]
    notices = [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]
    (second,) = [n for n in notices if f"run {b} " in n.body]
    assert f"MSA reused from run {a}" in second.body
    # what the run would cost in AWS, labelled so: this one cost nothing
    assert (
        "Cloud cost estimate (this local run cost nothing; the same run in AWS): $" in second.body
    )
    assert "Estimated cost" not in second.body
    (first,) = [n for n in notices if f"run {a} " in n.body]
    assert "MSA reused" not in first.body
    metrics = json.loads((cache_runs["reports"][b] / "metrics.json").read_text())
    assert metrics["context"]["msa"] == f"MSA reused from run {a}"


def test_another_max_template_date_misses_the_cache(cache_runs):
    work, (a, _, c, *_), items = cache_runs["work"], cache_runs["ids"], cache_runs["items"]
    assert items[c]["parameters"]["MaxTemplateDate"] == "2025-06-01"
    assert items[c]["msa_cache_key"] != items[a]["msa_cache_key"]
    assert "msa_reused_from" not in items[c]
    third = json.loads(
        (
            _job(work, items[c]["execution_arn"], MSA_STEP.name) / "model" / "foldline-step.json"
        ).read_text()
    )
    assert third["engine"] == "pyhmmer"
    manifests = {k for k in cache_runs["cache_objects"] if k.endswith(msa_cache.MANIFEST_NAME)}
    assert manifests == {
        layout.msa_cache_prefix(items[r]["msa_cache_key"]) + "manifest.json" for r in (a, c)
    }


def test_a_step_cache_hit_without_the_msa_cache_entry_still_names_the_run_it_reused(cache_runs):
    work, (a, *_, e), items = cache_runs["work"], cache_runs["ids"], cache_runs["items"]
    msa_step = cache_runs["steps"][e][MSA_STEP.name]
    assert msa_step["CacheHitResult"] == {"SourcePipelineExecutionArn": items[a]["execution_arn"]}
    assert items[e]["msa_reused_from"] == a  # recorded by the analysis, not the start
    assert items[e]["sizing"]["cost"]["msa_reused"] is False  # the start function saw a miss
    notices = [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]
    (notice,) = [n for n in notices if f"run {e} " in n.body]
    assert f"MSA reused from run {a}" in notice.body
    metrics = json.loads((cache_runs["reports"][e] / "metrics.json").read_text())
    assert metrics["context"]["msa"] == f"MSA reused from run {a}"
