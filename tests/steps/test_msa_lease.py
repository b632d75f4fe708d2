"""One search per MSA cache key at a time: the lease (moto S3), and the MSA step waiting
on a search of the same chains in flight in another job."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from foldline.steps import msa, msa_cache, msa_lease
from tests.steps.test_msa_step_cache import BUCKET, as_job_of_run, cached_ws, s3  # noqa: F401

KEY = "a" * 64


def test_one_holder_at_a_time_until_it_releases(s3):  # noqa: F811
    first = msa_lease.claim(s3, BUCKET, KEY, "run-1", 60)
    assert first is not None
    assert msa_lease.claim(s3, BUCKET, KEY, "run-2", 60) is None
    assert msa_lease.read_lease(s3, BUCKET, KEY).holder == "run-1"
    assert msa_lease.renew(s3, BUCKET, KEY, first, 60)
    assert msa_lease.release(s3, BUCKET, KEY, first)
    second = msa_lease.claim(s3, BUCKET, KEY, "run-2", 60)
    assert second is not None and second.holder == "run-2"
    assert not msa_lease.release(s3, BUCKET, KEY, first)  # no longer run-1's to release


def test_a_lapsed_lease_is_taken_over_and_its_old_holder_cannot_renew_it(s3):  # noqa: F811
    dead = msa_lease.claim(s3, BUCKET, KEY, "run-1", 0.01)  # its holder stops renewing
    time.sleep(0.05)
    taker = msa_lease.claim(s3, BUCKET, KEY, "run-2", 60)
    assert taker is not None
    assert not msa_lease.renew(s3, BUCKET, KEY, dead, 60)
    assert msa_lease.read_lease(s3, BUCKET, KEY).holder == "run-2"


def test_a_damaged_lease_is_nobodys(s3):  # noqa: F811
    s3.put_object(Bucket=BUCKET, Key=msa_lease.lease_key(KEY), Body=b"{not json")
    assert msa_lease.claim(s3, BUCKET, KEY, "run-2", 60) is not None


def _run_in_thread(ws) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def job() -> None:
        try:
            result["manifest"] = msa.run(ws.training_env())
        except BaseException as err:  # noqa: BLE001 - reported by the test
            result["error"] = err

    thread = threading.Thread(target=job)
    thread.start()
    return thread, result


@pytest.fixture
def in_flight(s3, workspace, monkeypatch):  # noqa: F811
    """Run-1's search of the chains holds the lease; run-2's MSA job is about to start.
    ``ws.waiting`` is set once that job has found the lease held (and is waiting)."""
    ws, key = cached_ws(workspace, run_id="run-2")
    ws.extra[msa_lease.POLL_S_ENV] = "0.05"
    holder = msa_lease.claim(s3, BUCKET, key, "run-1", 60)
    assert holder is not None
    ws.waiting = threading.Event()
    read = msa_lease.read_lease

    def noticed(*args, **kwargs):
        found = read(*args, **kwargs)
        ws.waiting.set()
        return found

    monkeypatch.setattr(msa_lease, "read_lease", noticed)
    return ws, key, holder


def test_a_job_waits_for_the_search_in_flight_and_copies_its_msas(s3, workspace, in_flight):  # noqa: F811
    ws, key, holder = in_flight
    thread, result = _run_in_thread(ws)
    assert ws.waiting.wait(timeout=30)
    time.sleep(0.2)
    assert thread.is_alive() and ws.records() == []  # waiting, not searching
    # run-1's search ends: its MSAs stored, then its lease released
    made = ws.model_dir.parent / "run-1-model"
    (made / "msas").mkdir(parents=True)
    (made / "msas" / "uniref90_hits.sto").write_text("# STOCKHOLM 1.0\n//\n")
    msa_cache.store(
        s3, BUCKET, msa_cache.CacheKey(key, {}), made, origin_run="run-1", engine="alphafold"
    )
    msa_lease.release(s3, BUCKET, key, holder)
    thread.join(timeout=30)
    manifest = result["manifest"]
    assert ws.records() == []  # searched once in all: by run-1
    assert manifest.engine == "cache"
    assert manifest.outputs["msa_cache"] == {"key": key, "hit": True, "reused_from": "run-1"}
    assert any("in flight in run-1" in note for note in manifest.notes)


def test_a_job_whose_holder_dies_searches_itself_and_releases_after(s3, workspace, in_flight):  # noqa: F811
    ws, key, holder = in_flight
    ws.extra[msa_lease.LEASE_S_ENV] = "60"
    thread, result = _run_in_thread(ws)
    assert ws.waiting.wait(timeout=30)
    assert ws.records() == []
    msa_lease.release(s3, BUCKET, key, holder)  # run-1 failed: released, nothing stored
    thread.join(timeout=60)
    manifest = result["manifest"]
    assert len(ws.records()) == 1 and manifest.outputs["msa_cache"]["stored"]
    assert any("left no MSAs: searching" in note for note in manifest.notes), manifest.notes
    assert msa_lease.read_lease(s3, BUCKET, key).released  # the next waiter looks again
    shutil.rmtree(ws.model_dir)
