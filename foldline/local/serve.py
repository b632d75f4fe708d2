"""``foldline local serve``: a drop folder, the local twin of "put a FASTA in the bucket".

Files appearing in ``<workdir>/drop/`` are uploaded to ``inputs/`` once their size has
stopped changing (a copy in progress is not sent half-written), then moved to
``drop/submitted/`` so a restart does not send them again. The upload is on disk (the
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

SUBMITTED = "submitted"


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
    for gone in set(sizes) - seen:
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
    done.mkdir(parents=True, exist_ok=True)
    sizes: dict[Path, int] = {}
    while not stop.is_set():
        for path in pending_files(drop, sizes):
            submission = runtime.upload(path)
            sizes.pop(path, None)
            shutil.move(str(path), done / f"{time.strftime('%Y%m%dT%H%M%S')}-{path.name}")
            if on_upload is not None:
                on_upload(submission)
        stop.wait(interval)
