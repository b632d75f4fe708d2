"""One local cloud per work folder: ``foldline local run`` and ``serve`` hold a lock on it.

Two runtimes on one folder would each restore, save and clear the same state (the second
would delete the first one's ``local-cloud.json`` and overwrite its saved objects). The
lock is an ``flock`` on ``<workdir>/.lock``: the operating system lets it go when the
process ends, however it ends (``kill -9`` included), so a stale lock never blocks.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_FILE = ".lock"


class WorkdirBusy(RuntimeError):
    """Another process runs a local cloud on this work folder."""


class WorkdirLock:
    def __init__(self, workdir: Path):
        self.path = Path(workdir) / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise WorkdirBusy(
                f"work folder {self.path.parent} is in use by another `foldline local run` or "
                f"`foldline local serve` (pid {holder}); stop it first, or give this one "
                "another --workdir"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
