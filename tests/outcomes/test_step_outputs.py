"""Unpacking step archives: what SageMaker wrote comes out; nothing escapes the folder."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from foldline.outcomes.step_outputs import CorruptOutput, extract


def make_tar(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_an_archive_unpacks_as_sagemaker_tarred_it(tmp_path):
    archive = make_tar(
        tmp_path / "model.tar.gz",
        {
            "./ranked_0.pdb": b"ATOM\n",
            "predictions/x_relaxed.pdb": b"ATOM\n",
            "timings.json": b"{}",
        },
    )
    out = extract(archive, tmp_path / "out")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "predictions/x_relaxed.pdb",
        "ranked_0.pdb",
        "timings.json",
    ]


def test_only_the_wanted_members_are_unpacked(tmp_path):
    archive = make_tar(tmp_path / "m.tar.gz", {"./foldline-step.json": b"{}", "msas/big.sto": b"x"})
    out = extract(archive, tmp_path / "out", only=["foldline-step.json"])
    assert [p.name for p in out.rglob("*")] == ["foldline-step.json"]


@pytest.mark.parametrize(
    "members, links",
    [
        ({"../escape.txt": b"x"}, None),
        ({}, {"link": "/etc/passwd"}),
        ({}, {"up": "../../outside"}),
    ],
)
def test_paths_leaving_the_folder_are_refused(tmp_path, members, links):
    archive = make_tar(tmp_path / "evil.tar.gz", members, links=links)
    with pytest.raises(CorruptOutput):
        extract(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists()


def test_absolute_names_land_inside_the_folder(tmp_path):
    archive = make_tar(tmp_path / "abs.tar.gz", {"/tmp/escape.txt": b"x"})
    out = extract(archive, tmp_path / "out")
    assert (out / "tmp" / "escape.txt").read_bytes() == b"x"


@pytest.mark.parametrize("content", [b"", b"not a tarball at all", b"\x1f\x8b\x08\x00truncated"])
def test_unreadable_archives_are_corrupt_output(tmp_path, content):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(content)
    with pytest.raises(CorruptOutput):
        extract(archive, tmp_path / "out")


def test_a_finished_step_says_whether_it_skipped_from_its_small_archive(tmp_path):
    """OpenFold on a multimer exits 0 with a manifest saying "skipped"; a step whose
    archive is too big to be a skip is not downloaded to learn it ran."""
    import json

    import boto3
    from moto import mock_aws

    from foldline.outcomes import step_outputs
    from foldline.spec import layout
    from foldline.spec.parameters import ALPHAFOLD_STEP, OPENFOLD_STEP

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="fl-bucket")
        assert (
            step_outputs.finished_step_status(s3, "fl-bucket", "r-1", OPENFOLD_STEP) is None
        )  # not yet
        skipped = make_tar(
            tmp_path / "skip.tar.gz",
            {"foldline-step.json": json.dumps({"status": "skipped"}).encode()},
        )
        prefix = layout.step_output_prefix("r-1", OPENFOLD_STEP.output_dir)
        s3.put_object(
            Bucket="fl-bucket", Key=f"{prefix}job-1/output/model.tar.gz", Body=skipped.read_bytes()
        )
        assert step_outputs.finished_step_status(s3, "fl-bucket", "r-1", OPENFOLD_STEP) == "skipped"

        big = io.BytesIO(b"\0" * (step_outputs.SKIP_ARCHIVE_MAX_BYTES + 1))
        prefix = layout.step_output_prefix("r-1", ALPHAFOLD_STEP.output_dir)
        s3.put_object(
            Bucket="fl-bucket", Key=f"{prefix}job-2/output/model.tar.gz", Body=big.getvalue()
        )
        calls = []
        s3.meta.events.register("before-call.s3.GetObject", lambda **kw: calls.append(kw))
        assert (
            step_outputs.finished_step_status(s3, "fl-bucket", "r-1", ALPHAFOLD_STEP) == "succeeded"
        )
        assert calls == []
