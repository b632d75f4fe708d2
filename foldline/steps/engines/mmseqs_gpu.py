"""Whether the MMseqs2 search runs on a GPU: only where all three hold, else on the CPUs.

1. The binary is a GPU build: MMseqs2 release 16 or later compiled with CUDA lists the
   ``gpuserver`` module in its help (the test ColabFold's ``setup_databases.sh`` makes).
2. A GPU is visible: ``nvidia-smi -L`` lists one and ``CUDA_VISIBLE_DEVICES`` does not
   hide them all.
3. The database is padded for the GPU (``makepaddedseqdb``, or ColabFold's prebuilt GPU
   databases): its ``.dbtype`` carries MMseqs2's extended GPU flag. Searching an unpadded
   database with ``--gpu`` is an error in MMseqs2, so an unpadded one stays on the CPUs.

``FOLDLINE_MMSEQS_GPU=0`` turns the GPU off whatever the rest says. On the GPU the search
takes ColabFold's GPU settings (:data:`GPU_ARGS`: ``--gpu 1 --prefilter-mode 1``,
the ungapped prefilter, the only one MMseqs2-GPU has; no ``-s``, it runs at full
sensitivity); the other commands are the same.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from foldline.databases import mmseqs_expandable

GPU_ENV = "FOLDLINE_MMSEQS_GPU"
#: MMseqs2's DBReader: the extended type is the .dbtype's upper 16 bits (less the
#: compression bits); Parameters::DBTYPE_EXTENDED_GPU marks a padded database
EXTENDED_GPU = 8
#: what ColabFold's search adds on a GPU (colabfold/mmseqs/search.py), in place of ``-s``
GPU_ARGS = ("--gpu", "1", "--prefilter-mode", "1")


@dataclass(frozen=True)
class Decision:
    gpu: bool
    reason: str


def extended_dbtype(raw: bytes) -> int:
    """The extended type of a ``.dbtype`` file's four bytes (little-endian int)."""
    (dbtype,) = struct.unpack("<i", raw[:4])
    return ((dbtype & 0xFFFFFFFF) >> 16) & 0x7FFE


def is_padded(db: Path) -> bool:
    path = Path(f"{db}.dbtype")
    return path.is_file() and bool(extended_dbtype(path.read_bytes()) & EXTENDED_GPU)


def _help(executable: str) -> str:
    proc = subprocess.run([executable, "-h"], capture_output=True, text=True, check=False)
    return proc.stdout + proc.stderr


def visible_gpus(environ: Mapping[str, str], nvidia_smi_list: Callable[[], str]) -> int:
    hidden = environ.get("CUDA_VISIBLE_DEVICES")
    if hidden is not None and hidden.strip() in ("", "-1", "none", "NoDevFiles"):
        return 0
    return sum(1 for line in nvidia_smi_list().splitlines() if line.startswith("GPU "))


def _nvidia_smi_list() -> str:
    if shutil.which("nvidia-smi") is None:
        return ""
    proc = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=False)
    return proc.stdout if proc.returncode == 0 else ""


def decide(
    executable: str,
    databases: list[Path],
    *,
    environ: Mapping[str, str] | None = None,
    help_text: Callable[[str], str] = _help,
    nvidia_smi_list: Callable[[], str] = _nvidia_smi_list,
) -> Decision:
    """GPU or CPU for a search over ``databases`` (all of them padded, or the CPUs)."""
    env = os.environ if environ is None else environ
    if env.get(GPU_ENV, "").strip().lower() in ("0", "false", "no", "off"):
        return Decision(False, f"{GPU_ENV}={env[GPU_ENV]}")
    if not mmseqs_expandable.binary_has_gpu(help_text(executable)):
        return Decision(False, "mmseqs is not a GPU build (MMseqs2 >= 16 with CUDA)")
    if visible_gpus(env, nvidia_smi_list) == 0:
        return Decision(False, "no GPU visible")
    unpadded = [db.name for db in databases if not is_padded(db)]
    if unpadded:
        return Decision(False, f"not padded for the GPU (makepaddedseqdb): {', '.join(unpadded)}")
    return Decision(True, "MMseqs2 GPU build, a GPU visible, padded databases")
