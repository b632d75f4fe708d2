"""``foldline local serve``: a drop folder, the local twin of "put a FASTA in the bucket".

Files appearing in ``<workdir>/drop/`` are uploaded to ``inputs/`` once their size has
stopped changing (a copy in progress is not sent half-written), then moved to
``drop/submitted/`` so a restart does not send them again. Files in ``drop/screen/`` go
up as screening drops (the tag ``Mode=screen``: one run per record), as
``foldline local run --screen`` sends them. The upload is on disk (the
work folder's ``state/``) before the file moves: the runtime writes every upload through,
and the rest of its state every few seconds and on stop.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from foldline.local.runtime import LocalRuntime, Submission
from foldline.spec.screening import MODE_TAG, SCREEN_MODE

SUBMITTED = "submitted"
#: the drop folder's subfolder whose files are screening drops
SCREEN = SCREEN_MODE


def pending_files(drop: Path, sizes: dict[Path, int]) -> list[Path]:
    """Files whose size is the same as at the previous look (and not empty)."""
    ready = []
    seen = set()
    for path in sorted(drop.iterdir()):
        if not path.is_file() or path.name.startswith("."):
            continue
        seen.add(path)
        size = path.stat().st_size
        if sizes.get(path) == size and size > 0:
            ready.append(path)
        sizes[path] = size
    for gone in {p for p in sizes if p.parent == drop} - seen:  # of this folder only
        sizes.pop(gone)
    return ready


def serve(
    runtime: LocalRuntime,
    stop: threading.Event,
    *,
    interval: float = 1.0,
    on_upload: Callable[[Submission], None] | None = None,
) -> None:
    """Watch the drop folder until ``stop`` is set (the runtime must be started)."""
    drop = runtime.workdir / "drop"
    done = drop / SUBMITTED
    folders = {drop: None, drop / SCREEN: {MODE_TAG: SCREEN_MODE}}  # folder: its files' tags
    for folder in (done, *folders):
        folder.mkdir(parents=True, exist_ok=True)
    sizes: dict[Path, int] = {}
    while not stop.is_set():
        for folder, tags in folders.items():
            for path in pending_files(folder, sizes):
                submission = runtime.upload(path, tags=tags)
                sizes.pop(path, None)
                shutil.move(str(path), done / f"{time.strftime('%Y%m%dT%H%M%S')}-{path.name}")
                if on_upload is not None:
                    on_upload(submission)
        stop.wait(interval)
