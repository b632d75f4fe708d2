"""Make OpenFold 1.x's setup.py build its CUDA kernel for the GPUs we name, with PyTorch 2.

    patch_setup.py setup.py 8.0 8.6 8.9 9.0

What its setup.py (v1.0.1) does, and why it needs this:

- it passes its own ``-gencode`` flags to nvcc, for a fixed set of compute capabilities
  (3.7, 5.2, 6.1, 7.0, and 8.0 with CUDA 11+); because they are there, PyTorch's
  ``cpp_extension`` adds none of its own, so ``TORCH_CUDA_ARCH_LIST`` is ignored. CUDA 12's
  nvcc no longer accepts compute_37, and none of them is sm_86/89/90 code;
- where the build machine has a GPU (``get_nvidia_cc()``), it builds for that GPU alone;
- it compiles with ``-std=c++14``; PyTorch 2's headers need C++17.

So the flags setup.py hands nvcc (``extra_cuda_flags += cc_flag``) become exactly the
capabilities given (SASS for each, plus PTX of the highest for newer GPUs), whatever GPU
the build machine has, and C++17 replaces C++14. Each change anchors on one line of the
file and the script fails if that line is not there exactly once, so a different setup.py
stops the build instead of building something else.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ARCH_FLAGS = "extra_cuda_flags += cc_flag"
CXX14 = "'-std=c++14',"


def gencode_flags(capabilities: list[str]) -> list[str]:
    """nvcc flags: SASS for each capability, PTX of the highest."""
    numbers = sorted({c.replace(".", "") for c in capabilities}, key=int)
    flags = []
    for number in numbers:
        flags += ["-gencode", f"arch=compute_{number},code=sm_{number}"]
    flags += ["-gencode", f"arch=compute_{numbers[-1]},code=compute_{numbers[-1]}"]
    return flags


def patch(text: str, capabilities: list[str]) -> str:
    for anchor in (ARCH_FLAGS, CXX14):
        count = text.count(anchor)
        if count != 1:
            raise SystemExit(
                f"setup.py: expected {anchor!r} once, found it {count} times: "
                "not the setup.py this patch was written for"
            )
    for capability in capabilities:
        if not re.fullmatch(r"\d+\.\d", capability):
            raise SystemExit(f"not a compute capability: {capability!r} (e.g. 8.6)")
    text = text.replace(CXX14, "'-std=c++17',")
    ours = gencode_flags(capabilities)
    return text.replace(ARCH_FLAGS, f"extra_cuda_flags += {ours!r}  # foldline: not cc_flag")


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    path = Path(sys.argv[1])
    path.write_text(patch(path.read_text(), sys.argv[2:]))
    print(f"{path}: nvcc {' '.join(gencode_flags(sys.argv[2:]))}", flush=True)


if __name__ == "__main__":
    main()
