"""The MSA step's archive is extracted safely, also on Pythons without tarfile's filters
(the step images run Debian bookworm's Python 3.11.2; ``filter="data"`` came in 3.11.4)."""

from __future__ import annotations

import io
import tarfile

import pytest

from foldline.steps.common import extract_safely
from foldline.steps.contract import StepFailed


def archive(tmp_path, members) -> tarfile.TarFile:
    path = tmp_path / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, target in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(b"x")
                tar.addfile(info, io.BytesIO(b"x"))
            else:
                info.type, info.linkname = tarfile.SYMTYPE, target
                tar.addfile(info)
    return tarfile.open(path)


@pytest.fixture(params=["with filters", "without filters"])
def python(request, monkeypatch):
    if request.param == "without filters":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


def test_a_plain_archive_is_extracted(tmp_path, python):
    with archive(
        tmp_path,
        [("msas/uniref90_hits.sto", "file", None), ("msas/link.sto", "link", "uniref90_hits.sto")],
    ) as tar:
        extract_safely(tar, tmp_path / "out")
    assert (tmp_path / "out" / "msas" / "uniref90_hits.sto").read_bytes() == b"x"


@pytest.mark.parametrize(
    "member", [("../escaped.sto", "file", None), ("msas/out.sto", "link", "../../outside")]
)
def test_members_that_leave_the_folder_are_refused(tmp_path, python, member):
    with archive(tmp_path, [member]) as tar, pytest.raises((StepFailed, tarfile.TarError)):
        extract_safely(tar, tmp_path / "out")
    assert not (tmp_path / "escaped.sto").exists()


def test_an_absolute_member_never_lands_outside(tmp_path, python):
    target = tmp_path / "escaped-absolute.sto"
    with archive(tmp_path, [(str(target), "file", None)]) as tar:
        try:
            extract_safely(tar, tmp_path / "out")  # 3.11.4+: "data" strips the leading /
        except StepFailed:
            pass  # without filters: refused
    assert not target.exists()
