"""``foldline local serve``: the drop folder, and state that survives a restart."""

from __future__ import annotations

import shutil
import threading

from foldline.local.serve import SUBMITTED, serve


def test_dropped_file_is_uploaded_and_state_survives_a_restart(make_runtime, dna_fasta, tmp_path):
    work = tmp_path / "work"
    runtime = make_runtime(work)
    uploads = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=serve, args=(runtime, stop), kwargs={"interval": 0.2, "on_upload": uploads.append}
    )
    # the watcher makes drop/ when its thread runs; a user may have made it before
    (work / "drop").mkdir(parents=True, exist_ok=True)
    watcher.start()
    try:
        # written under a hidden name, then renamed: the watcher never sees it half-made
        # (nor moves it away between the copy's write and its chmod, on a loaded machine)
        shutil.copyfile(dna_fasta, work / "drop" / ".dna.fasta.part")
        (work / "drop" / ".dna.fasta.part").rename(work / "drop" / "dna.fasta")
        while not uploads and watcher.is_alive():
            stop.wait(0.2)
        (submission,) = uploads
        item = runtime.wait([submission.run_id], timeout=120)[submission.run_id]
    finally:
        stop.set()
        watcher.join()
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
