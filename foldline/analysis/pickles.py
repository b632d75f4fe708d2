"""Read AlphaFold/OpenFold result pickles without trusting them.

``result_model_*.pkl`` (AlphaFold) and ``*_output_dict.pkl`` (OpenFold) are pickles of
dicts of numpy arrays. Unpickling runs whatever the file names, and these files arrive
from a bucket, so the unpickler here resolves only numpy's array/scalar/dtype builders
and plain containers: no jax, no torch, no code. Files may be xz-, gzip- or
bzip2-compressed (ColabFold ships ``*.pkl.xz``).
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickle
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["UnsafePickleError", "confidence_from_result", "load_numpy_pickle"]

_ALLOWED = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("collections", "OrderedDict"),
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "slice"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for something other than numpy arrays and plain containers."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        if module in ("numpy", "numpy.dtypes") and name.endswith("DType"):
            return super().find_class(module, name)  # numpy >= 1.25 dtype classes
        raise UnsafePickleError(
            f"refusing to load {module}.{name}: only numpy arrays and plain containers are "
            "read from result pickles"
        )


def _open_maybe_compressed(path: Path) -> io.BufferedIOBase:
    with open(path, "rb") as handle:
        magic = handle.read(6)
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(path, "rb")
    return open(path, "rb")


def load_numpy_pickle(path: Path | str) -> Any:
    """Unpickle a (possibly compressed) pickle that may hold only numpy data.

    Raises
    ------
    UnsafePickleError
        If the pickle references any other class or function.
    """
    with _open_maybe_compressed(Path(path)) as handle:
        return _NumpyOnlyUnpickler(handle).load()


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    arr = np.asarray(value)
    return float(arr) if arr.size == 1 else None


def confidence_from_result(result: dict) -> dict[str, Any]:
    """pLDDT, PAE, pTM and ipTM from an AlphaFold/OpenFold result dict, where present.

    Returns a dict with ``plddt`` (L,), ``pae`` (L, L), ``ptm``, ``iptm``,
    ``ranking_confidence`` and ``max_pae``; absent ones are ``None``. OpenFold's dicts
    name PAE ``predicted_aligned_error`` as AlphaFold does, and pLDDT ``plddt``.
    """
    plddt = result.get("plddt")
    pae = result.get("predicted_aligned_error")
    if pae is None and isinstance(result.get("pae"), np.ndarray):
        pae = result["pae"]
    return {
        "plddt": None if plddt is None else np.asarray(plddt, dtype=np.float64),
        "pae": None if pae is None else np.asarray(pae, dtype=np.float64),
        "ptm": _scalar(result.get("ptm", result.get("predicted_tm_score"))),
        "iptm": _scalar(result.get("iptm")),
        "ranking_confidence": _scalar(result.get("ranking_confidence")),
        "max_pae": _scalar(result.get("max_predicted_aligned_error")),
    }
