"""The setup job stages ColabFold's databases as ColabFold's setup_databases.sh does
(the TSV archive, ``tsv2exprofiledb``, ``createindex``), into the bucket under moto, from
a local web server that serves a small archive in ColabFold's shape (made from the
bundled UniRef90 by foldline's own builder, then written out as ColabFold's TSVs)."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from foldline.databases import download as download_databases
from foldline.databases import mmseqs_expandable, setup_job
from foldline.databases import presets as gdb
from foldline.spec import layout
from foldline.steps.engines import mmseqs_search
from tests.conftest import tar_bytes

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BUCKET = "foldline-test-bucket"


def _tsv(db: Path) -> bytes:
    """An MMseqs2 database as tsv2db reads it: one ``key<TAB>line`` per line of each entry."""
    lines = []
    for key, text in sorted(mmseqs_search.read_db_entries(db).items()):
        lines.extend(f"{key}\t{line}" for line in text.splitlines())
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def colabfold_archive(tmp_path_factory) -> bytes:
    """uniref30_2302.tar.gz as ColabFold publishes it: uniref30_2302{,_h,_seq,_aln}.tsv"""
    built = tmp_path_factory.mktemp("built") / "db"
    mmseqs_expandable.build(EXAMPLES / "databases/uniref90/uniref90.fasta", built, threads=2)
    return tar_bytes(
        {
            "uniref30_2302.tsv": _tsv(built),
            "uniref30_2302_h.tsv": _tsv(Path(f"{built}_seq_h")),
            "uniref30_2302_seq.tsv": _tsv(Path(f"{built}_seq")),
            "uniref30_2302_aln.tsv": _tsv(Path(f"{built}_aln")),
        }
    )


@mock_aws
def test_colabfolds_database_is_staged_expandable_and_searchable(web, tmp_path, colabfold_archive):
    root, url = web
    (root / "uniref30_2302.tar.gz").write_bytes(colabfold_archive)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    source = gdb.Database(
        "colabfold_uniref30", gdb.COLABFOLD_MMSEQS, (f"{url}/uniref30_2302.tar.gz",), 0, 0
    )
    download_databases.setup(
        "reduced_dbs",
        BUCKET,
        databases=[source],
        work=tmp_path / "work",
        s3=s3,
        log=lambda _m: None,
    )
    prefix = f"{layout.DATABASES}colabfold_uniref30/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]]
    names = {k[len(prefix) :] for k in keys}
    for part in ("", "_h", "_seq", "_seq_h", "_aln"):
        assert f"uniref30_2302_db{part}.dbtype" in names
    assert any(n.startswith("uniref30_2302_db.idx") for n in names)  # createindex ran
    assert not any(n.endswith((".tsv", ".tar.gz")) for n in names)  # archive and TSVs gone

    # what the file system serves: the engine finds it in UniRef90's slot and expands it
    served = tmp_path / "fsx"
    for key in keys:
        target = served / key[len(layout.DATABASES) :]
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(BUCKET, key, str(target))
    staged = mmseqs_search._staged(served, "uniref90")
    assert staged == served / gdb.colabfold_database("uniref90")
    assert mmseqs_expandable.is_expandable(staged) and mmseqs_search.has_index(staged)
    sequence = next(
        line
        for line in (EXAMPLES / "xylanase.fasta").read_text().splitlines()
        if line and not line.startswith(">")
    )
    found = mmseqs_search.search_database({"q": sequence}, staged, tmp_path / "search", 2)
    assert len(found["q"]) > 10


def test_the_job_asks_for_colabfold_and_a_volume_that_holds_its_largest(monkeypatch):
    request = setup_job.job_request(
        preset="reduced_dbs",
        bucket=BUCKET,
        image_uri="i",
        role_arn="r",
        region="us-east-1",
        colabfold=True,
    )
    assert request["AppSpecification"]["ContainerEntrypoint"][-1] == "--colabfold"
    envdb = gdb.DATABASES["colabfold_envdb"]
    volume = request["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"]
    assert volume >= envdb.download_gb + 2 * envdb.unpacked_gb
    assert volume > gdb.volume_gb("reduced_dbs")  # without ColabFold's, the volume is smaller
    names = [db.name for db in gdb.databases_for("reduced_dbs", colabfold=True)]
    assert names[-2:] == list(gdb.COLABFOLD_DATABASES)
    assert "colabfold_envdb" not in [db.name for db in gdb.databases_for("reduced_dbs")]
    # the program refuses to start without mmseqs when asked for ColabFold's databases
    monkeypatch.setattr(
        download_databases.shutil, "which", lambda tool: None if tool == "mmseqs" else tool
    )
    assert download_databases._tools_missing("reduced_dbs", False, True) == ["mmseqs"]
    assert download_databases._tools_missing("reduced_dbs", False, False) == []
