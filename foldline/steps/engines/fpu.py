"""Flush-to-zero / denormals-are-zero for the threads that run HMMER's scoring.

HMMER's own programs switch the SSE unit to FTZ/DAZ before scoring (``impl_Init``);
pyhmmer does not, and its scoring of real homologues then spends most of its time on
denormal floats (measured on the bundled example: 1.7 s -> 0.5 s for one database, same
hits). The MXCSR register is per thread and a new thread inherits its creator's, so the
mode is set with glibc's ``fegetenv``/``fesetenv`` (whose x86-64 ``fenv_t`` carries
MXCSR) in the worker threads that run searches only. Threads that run numpy must keep
IEEE denormals, so never call :func:`enable` in the main thread.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import struct
from collections.abc import Iterator
from contextlib import contextmanager

_FTZ = 1 << 15  # MXCSR bit 15: flush results that would be denormal to zero
_DAZ = 1 << 6  # MXCSR bit 6: treat denormal inputs as zero
_FENV_SIZE = 32  # sizeof(fenv_t) on x86-64 glibc
_MXCSR_OFFSET = 28  # offsetof(fenv_t, __mxcsr) on x86-64 glibc


def _libm() -> ctypes.CDLL | None:
    if platform.machine() not in ("x86_64", "AMD64"):
        return None  # MXCSR is an x86 register; other CPUs keep their default
    name = ctypes.util.find_library("m")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


_LIBM = _libm()


def supported() -> bool:
    """Whether this platform lets foldline set FTZ/DAZ (x86-64 with glibc's libm)."""
    return _LIBM is not None


def mxcsr() -> int | None:
    """The calling thread's MXCSR value, or ``None`` where unsupported."""
    if _LIBM is None:
        return None
    env = ctypes.create_string_buffer(_FENV_SIZE)
    if _LIBM.fegetenv(env) != 0:
        return None
    return struct.unpack_from("<I", env.raw, _MXCSR_OFFSET)[0]


def is_enabled() -> bool:
    value = mxcsr()
    return value is not None and value & (_FTZ | _DAZ) == (_FTZ | _DAZ)


def enable() -> bool:
    """Set FTZ and DAZ for the calling thread (and threads it starts later).

    Returns whether the mode is now on. Use as a ``ThreadPoolExecutor`` initializer.
    """
    if _LIBM is None:
        return False
    env = ctypes.create_string_buffer(_FENV_SIZE)
    if _LIBM.fegetenv(env) != 0:
        return False
    value = struct.unpack_from("<I", env.raw, _MXCSR_OFFSET)[0]
    struct.pack_into("<I", env, _MXCSR_OFFSET, value | _FTZ | _DAZ)
    return _LIBM.fesetenv(env) == 0 and is_enabled()


@contextmanager
def flush_denormals(on: bool = True) -> Iterator[bool]:
    """Run a block with FTZ/DAZ set, restoring the thread's environment afterwards."""
    if _LIBM is None or not on:
        yield False
        return
    saved = ctypes.create_string_buffer(_FENV_SIZE)
    _LIBM.fegetenv(saved)
    try:
        yield enable()
    finally:
        _LIBM.fesetenv(saved)
