"""The OpenFold image's build steps that run before OpenFold exists in it (no Docker needed).

``patch_setup.py`` makes OpenFold's setup.py hand nvcc our GPU list and C++17, and refuses a
setup.py it was not written for; ``unpack_source.py`` takes only an archive of the pinned
commit. The setup.py used here is a small stand-in with the two lines the patch anchors on,
written for the test (OpenFold's own file is not copied into this repository).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OPENFOLD = REPO / "containers" / "openfold"
COMMIT = "42e71db7fa327e0810eb0e371abc9f82aa9b7a6a"

SETUP = """extra_cuda_flags = [
    '-std=c++14',
    '-maxrregcount=50',
]
cc_flag = ['-gencode', 'arch=compute_37,code=sm_37']
extra_cuda_flags += cc_flag
"""


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(OPENFOLD / script), *args], capture_output=True, text=True, check=False
    )


def test_patch_setup_sets_our_gpus_and_cxx17(tmp_path):
    setup = tmp_path / "setup.py"
    setup.write_text(SETUP)
    done = run("patch_setup.py", str(setup), "8.0", "8.6", "8.9", "9.0")
    assert done.returncode == 0, done.stderr
    namespace: dict = {}
    exec(setup.read_text(), namespace)  # noqa: S102 - the patched file still runs
    assert namespace["extra_cuda_flags"] == [
        "-std=c++17",
        "-maxrregcount=50",
        "-gencode",
        "arch=compute_80,code=sm_80",
        "-gencode",
        "arch=compute_86,code=sm_86",
        "-gencode",
        "arch=compute_89,code=sm_89",
        "-gencode",
        "arch=compute_90,code=sm_90",
        "-gencode",
        "arch=compute_90,code=compute_90",
    ]


@pytest.mark.parametrize(
    "broken", [SETUP.replace("c++14", "c++17"), SETUP.replace("extra_cuda_flags += cc_flag", "")]
)
def test_patch_setup_refuses_a_setup_py_it_does_not_know(tmp_path, broken):
    setup = tmp_path / "setup.py"
    setup.write_text(broken)
    done = run("patch_setup.py", str(setup), "8.0")
    assert done.returncode != 0
    assert "not the setup.py this patch was written for" in done.stderr
    assert setup.read_text() == broken


def archive(path: Path, commit: str | None, files: dict[str, str], prefix: str = "") -> Path:
    """A tarball as `git archive` writes it: the commit id in the global pax header."""
    headers = {"comment": commit} if commit else {}
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT, pax_headers=headers) as tar:
        if prefix:
            info = tarfile.TarInfo(prefix.rstrip("/"))
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, text in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    return path


@pytest.mark.parametrize("prefix", ["", f"openfold-{COMMIT}/"])
def test_unpack_takes_the_pinned_commit_with_or_without_githubs_folder(tmp_path, prefix):
    local = tmp_path / "source"
    local.mkdir()
    archive(
        local / "openfold.tar.gz",
        COMMIT,
        {"run_pretrained_openfold.py": "x", "scripts/utils.py": "y"},
        prefix,
    )
    done = run(
        "unpack_source.py",
        "--commit",
        COMMIT,
        "--url",
        "http://unused.invalid/",
        "--local-dir",
        str(local),
        str(tmp_path / "out"),
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out" / "run_pretrained_openfold.py").read_text() == "x"
    assert (tmp_path / "out" / "scripts" / "utils.py").read_text() == "y"


@pytest.mark.parametrize("commit", [None, "1" * 40])
def test_unpack_refuses_another_or_an_unnamed_commit(tmp_path, commit):
    local = tmp_path / "source"
    local.mkdir()
    archive(local / "openfold.tar.gz", commit, {"run_pretrained_openfold.py": "x"})
    done = run(
        "unpack_source.py",
        "--commit",
        COMMIT,
        "--url",
        "http://unused.invalid/",
        "--local-dir",
        str(local),
        str(tmp_path / "out"),
    )
    assert done.returncode != 0
    assert f"not OpenFold {COMMIT}" in done.stderr
    assert not (tmp_path / "out" / "run_pretrained_openfold.py").exists()


def test_unpack_refuses_paths_out_of_the_tree(tmp_path):
    local = tmp_path / "source"
    local.mkdir()
    archive(local / "openfold.tar.gz", COMMIT, {"a.py": "x", "../escape.py": "y"})
    done = run(
        "unpack_source.py",
        "--commit",
        COMMIT,
        "--url",
        "http://unused.invalid/",
        "--local-dir",
        str(local),
        str(tmp_path / "out"),
    )
    assert done.returncode != 0 and "refusing" in done.stderr
    assert not (tmp_path / "escape.py").exists()
