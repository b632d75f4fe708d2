"""``foldline local serve``: the drop folder, and state that survives a restart."""

from __future__ import annotations

import contextlib
import shutil
import threading

from foldline.local.serve import SCREEN, SUBMITTED, serve


@contextlib.contextmanager
def watching(runtime, uploads: list):
    """The drop folder watched in a thread (as `foldline local serve` does) while inside."""
    stop = threading.Event()
    watcher = threading.Thread(
        target=serve, args=(runtime, stop), kwargs={"interval": 0.2, "on_upload": uploads.append}
    )
    watcher.start()
    try:
        yield stop, watcher
    finally:
        stop.set()
        watcher.join()


def test_dropped_file_is_uploaded_and_state_survives_a_restart(make_runtime, dna_fasta, tmp_path):
    work = tmp_path / "work"
    runtime = make_runtime(work)
    uploads = []
    # the watcher makes drop/ when its thread runs; a user may have made it before
    (work / "drop").mkdir(parents=True, exist_ok=True)
    with watching(runtime, uploads) as (stop, watcher):
        # written under a hidden name, then renamed: the watcher never sees it half-made
        # (nor moves it away between the copy's write and its chmod, on a loaded machine)
        shutil.copyfile(dna_fasta, work / "drop" / ".dna.fasta.part")
        (work / "drop" / ".dna.fasta.part").rename(work / "drop" / "dna.fasta")
        while not uploads and watcher.is_alive():
            stop.wait(0.2)
        (submission,) = uploads
        item = runtime.wait([submission.run_id], timeout=120)[submission.run_id]
    assert item["status"] == "Rejected"
    assert not (work / "drop" / "dna.fasta").exists()
    assert len(list((work / "drop" / SUBMITTED).iterdir())) == 1
    runtime.stop()

    restarted = make_runtime(work)
    assert restarted.restored > 0
    assert restarted.run(submission.run_id)["status"] == "Rejected"
    s3 = restarted.cloud.client("s3")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=restarted.bucket)["Contents"]}
    assert "rejected/dna.fasta" in keys and "rejected/dna.fasta.reason.json" in keys
    assert restarted.idle()  # restoring started nothing
    assert restarted.dispatcher.invocations == []


def test_a_file_dropped_in_screen_is_a_screening_drop(make_runtime, tmp_path):
    work = tmp_path / "work"
    runtime = make_runtime(work)
    uploads = []
    with watching(runtime, uploads) as (stop, watcher):
        # two nucleotide records: refused one by one, so the campaign ends without a fold
        part = tmp_path / "screen.fasta.part"
        part.write_text(">dna1\nATGGCGTACGATCGATCGATCGTAGC\n>dna2\nATGCATGCATGCATGCATGCATGCAT\n")
        while not (work / "drop" / SCREEN).is_dir():
            stop.wait(0.1)
        shutil.move(part, work / "drop" / SCREEN / "screen.fasta")
        while not uploads and watcher.is_alive():
            stop.wait(0.2)
        (submission,) = uploads
        members = runtime.screen_members(submission, timeout=120)
        items = runtime.wait([m.run_id for m in members], timeout=120)
    assert [m.record for m in members] == ["dna1", "dna2"]  # one run per record
    assert {i["status"] for i in items.values()} == {"Rejected"}
    assert runtime.campaign(submission.run_id)["expected"] == 2
    assert list((work / "drop" / SCREEN).iterdir()) == []
