"""The MMseqs2 search's GPU decision: all three conditions, else the CPUs (there is no
GPU and no MMseqs2 GPU build here; the decision's inputs are given)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from foldline.steps.engines import mmseqs_gpu, mmseqs_search

GPU_HELP = "MMseqs2 Version: 17.b804f\n  gpuserver         Start a GPU server\n"
CPU_HELP = "MMseqs2 Version: 14-7e284\n  search            Sensitive homology search\n"
ONE_GPU = "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0000)\n"


def _db(tmp_path: Path, name: str, *, padded: bool) -> Path:
    db = tmp_path / name
    dbtype = 0  # amino acids
    if padded:
        dbtype |= mmseqs_gpu.EXTENDED_GPU << 16
    Path(f"{db}.dbtype").write_bytes(struct.pack("<i", dbtype))
    return db


def _decide(dbs, *, help_text=GPU_HELP, gpus=ONE_GPU, environ=None):
    return mmseqs_gpu.decide(
        "mmseqs",
        dbs,
        environ=environ or {},
        help_text=lambda _: help_text,
        nvidia_smi_list=lambda: gpus,
    )


def test_gpu_when_build_gpu_and_padded_databases_all_hold(tmp_path):
    padded = [_db(tmp_path, "a", padded=True), _db(tmp_path, "b", padded=True)]
    assert _decide(padded).gpu


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"help_text": CPU_HELP}, "not a GPU build"),
        ({"gpus": ""}, "no GPU visible"),
        ({"environ": {"CUDA_VISIBLE_DEVICES": ""}}, "no GPU visible"),
        ({"environ": {"FOLDLINE_MMSEQS_GPU": "0"}}, "FOLDLINE_MMSEQS_GPU=0"),
    ],
)
def test_cpu_when_any_condition_fails(tmp_path, kwargs, reason):
    decision = _decide([_db(tmp_path, "a", padded=True)], **kwargs)
    assert not decision.gpu and reason in decision.reason


def test_one_unpadded_database_keeps_the_search_on_the_cpus(tmp_path):
    dbs = [_db(tmp_path, "padded", padded=True), _db(tmp_path, "plain", padded=False)]
    decision = _decide(dbs)
    assert not decision.gpu and decision.reason.startswith("not padded")
    assert decision.reason.endswith(": plain")  # the padded one is not named


def test_extended_type_ignores_the_compression_bit():
    compressed_plain = struct.pack("<i", 0 | (1 << 16))  # DBTYPE_EXTENDED_COMPRESSED
    assert mmseqs_gpu.extended_dbtype(compressed_plain) & mmseqs_gpu.EXTENDED_GPU == 0
    padded = struct.pack("<i", 0 | ((mmseqs_gpu.EXTENDED_GPU | 1) << 16))
    assert mmseqs_gpu.extended_dbtype(padded) & mmseqs_gpu.EXTENDED_GPU


def test_debians_mmseqs_and_a_real_database_stay_on_the_cpus(tmp_path):
    """The installed binary (release 14, no GPU) decides CPU on its own help text."""
    db = mmseqs_search.target_database(
        Path(__file__).resolve().parents[3] / "examples/databases/uniref90/uniref90.fasta",
        cache=tmp_path,
    )
    decision = mmseqs_gpu.decide(mmseqs_search.binary(), [db])
    assert not decision.gpu
    assert not mmseqs_gpu.is_padded(db)


def test_gpu_search_takes_colabfolds_gpu_settings_in_place_of_sensitivity():
    assert "-s" not in mmseqs_search.GPU_SEARCH_ARGS
    assert mmseqs_search.GPU_SEARCH_ARGS[-4:] == ("--gpu", "1", "--prefilter-mode", "1")
    assert mmseqs_search.SEARCH_ARGS[-2:] == ("-s", "8")
    common = mmseqs_search.SEARCH_COMMON_ARGS
    assert mmseqs_search.SEARCH_ARGS[: len(common)] == mmseqs_search.GPU_SEARCH_ARGS[: len(common)]
