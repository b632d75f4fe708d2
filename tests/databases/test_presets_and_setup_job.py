"""The genetic databases: presets that cover what the steps read, and the setup job (its
request, and its program run for real against moto's S3 and local sources, as AlphaFold
2.3.2's download scripts lay the databases out). The path they live at, the same in the
template and the docs: tests/infra/test_databases_path.py."""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from foldline.databases import download as download_databases
from foldline.databases import presets as genetic_databases
from foldline.databases import setup_job
from foldline.spec import layout
from foldline.spec.parameters import DB_PRESETS, MODEL_PRESETS
from foldline.steps.databases import database_flags
from tests.conftest import tar_bytes

BUCKET = "foldline-databases-test"


def test_each_preset_holds_every_database_the_steps_read():
    for preset in DB_PRESETS:
        folders = set(genetic_databases.PRESET_DATABASES[preset])
        assert "params" in folders  # AlphaFold's weights come from the databases
        for model in MODEL_PRESETS:  # monomer and multimer both run from either preset
            needed = {rel.split("/", 1)[0] for _, rel in database_flags(preset, model)}
            assert needed <= folders, (preset, model, needed - folders)


def test_the_job_volume_holds_the_largest_database_while_it_unpacks():
    assert genetic_databases.volume_gb("full_dbs") == 2500  # BFD: 272 GB archive + 1.8 TB
    assert genetic_databases.volume_gb("reduced_dbs") == 400  # PDB mmCIF: 43 GB + 238 GB
    for preset in DB_PRESETS:
        largest = max(d.working_gb for d in genetic_databases.databases_for(preset, True))
        assert largest < genetic_databases.volume_gb(preset) <= 16384  # SageMaker's limit


# -- the job's request


@mock_aws
def test_the_setup_job_request_is_accepted_by_create_processing_job():
    request = setup_job.job_request(
        preset="reduced_dbs",
        bucket=BUCKET,
        region="eu-west-1",
        openfold_params=True,
        image_uri="123456789012.dkr.ecr.eu-west-1.amazonaws.com/foldline-msa:v1",
        role_arn="arn:aws:iam::123456789012:role/foldline-DatabasesSetupRole-X",
        name="foldline-databases-t",
    )
    client = boto3.client("sagemaker", region_name="eu-west-1")
    client.create_processing_job(**request)
    job = client.describe_processing_job(ProcessingJobName="foldline-databases-t")
    command = job["AppSpecification"]["ContainerEntrypoint"]
    assert command[:3] == ["python3", "-m", "foldline.databases.download"]
    assert command[3:] == [
        "--preset",
        "reduced_dbs",
        "--bucket",
        BUCKET,
        "--job",
        "foldline-databases-t",
        "--openfold-params",
    ]
    assert request["ProcessingResources"]["ClusterConfig"]["VolumeSizeInGB"] == 400
    assert "NetworkConfig" not in request  # the sources are on the internet
    with pytest.raises(ValueError, match="not one of"):
        setup_job.job_request(
            preset="tiny_dbs", bucket=BUCKET, image_uri="i", role_arn="r", region="r"
        )


# -- the job's program, for real, with local sources


def _sources(root: Path, url: str, tmp_path: Path) -> list[genetic_databases.Database]:
    """Small stand-ins of each kind of source, in the shapes AlphaFold's scripts fetch."""
    (root / "params.tar").write_bytes(tar_bytes({"params_model_1.npz": b"w1", "LICENSE": b"cc"}))
    (root / "mgy.fa.gz").write_bytes(gzip.compress(b">MGYP1\nMKV\n"))
    (root / "pdb_seqres.txt").write_bytes(
        b">101m_A mol:protein length:3  MYOGLOBIN\nMVL\n>101d_A mol:na length:2  DNA\nCG\n"
    )
    (root / "uniprot_trembl.fasta.gz").write_bytes(gzip.compress(b">tr|A\nMKA\n"))
    (root / "uniprot_sprot.fasta.gz").write_bytes(gzip.compress(b">sp|B\nMKB\n"))
    (root / "obsolete.dat").write_bytes(b"OBSLTE    31-JUL-94 116L     216L\n")
    mirror = tmp_path / "mmcif-mirror"
    (mirror / "xy").mkdir(parents=True)
    (mirror / "xy" / "1xyz.cif.gz").write_bytes(gzip.compress(b"data_1XYZ\n"))
    D = genetic_databases.Database
    k = genetic_databases
    return [
        D("params", k.TAR, (f"{url}/params.tar",), 0, 0),
        D("mgnify", k.GUNZIP, (f"{url}/mgy.fa.gz",), 0, 0),
        D("pdb_seqres", k.SEQRES, (f"{url}/pdb_seqres.txt",), 0, 0),
        D(
            "uniprot",
            k.UNIPROT,
            (f"{url}/uniprot_trembl.fasta.gz", f"{url}/uniprot_sprot.fasta.gz"),
            0,
            0,
        ),
        D("pdb_mmcif", k.MMCIF, (f"{mirror}/", f"{url}/obsolete.dat"), 0, 0),
        D("openfold_params", k.S3_PUBLIC, ("s3://openfold/openfold_params/",), 0, 0),
    ]


def _needs_rsync() -> None:
    if shutil.which("rsync") is None:
        if os.environ.get("CI"):
            pytest.fail(
                "rsync is missing: CI installs it (apt-get install rsync), as the MSA image has it"
            )
        pytest.skip("rsync is not installed here (apt-get install rsync); CI installs it")


@mock_aws
def test_the_job_lays_out_each_database_as_alphafolds_scripts_and_writes_ready_last(web, tmp_path):
    _needs_rsync()
    root, url = web
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket="openfold")  # the public bucket, as OpenFold's script reads it
    s3.put_object(Bucket="openfold", Key="openfold_params/finetuning_ptm_2.pt", Body=b"pt")
    sources = _sources(root, url, tmp_path)
    puts: list[str] = []
    s3.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **_: puts.append(params["Key"])
    )

    record = download_databases.setup(
        "reduced_dbs",
        BUCKET,
        databases=sources,
        work=tmp_path / "work",
        s3=s3,
        public_s3=s3,
        log=lambda _m: None,
    )

    def text(key: str) -> str:
        return s3.get_object(Bucket=BUCKET, Key=layout.DATABASES + key)["Body"].read().decode()

    assert text("params/params_model_1.npz") == "w1"
    assert text("mgnify/mgy.fa") == ">MGYP1\nMKV\n"
    assert text("pdb_seqres/pdb_seqres.txt") == ">101m_A mol:protein length:3  MYOGLOBIN\nMVL\n"
    assert text("uniprot/uniprot.fasta") == ">tr|A\nMKA\n>sp|B\nMKB\n"  # TrEMBL, then Swiss-Prot
    assert text("pdb_mmcif/mmcif_files/1xyz.cif") == "data_1XYZ\n"
    assert text("pdb_mmcif/obsolete.dat").startswith("OBSLTE")
    assert text("openfold_params/finetuning_ptm_2.pt") == "pt"
    listed = {
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=layout.DATABASES)["Contents"]
    }
    assert not any(
        k.endswith((".gz", ".tar")) or "/raw/" in k for k in listed
    )  # unpacked, flattened
    # every database recorded after its files, the preset's ready record last of all
    assert puts[-1] == layout.databases_ready_key("reduced_dbs")
    for db in sources:
        assert puts.index(layout.database_record_key(db.name)) > max(
            i for i, k in enumerate(puts) if k.startswith(f"{layout.DATABASES}{db.name}/")
        )
    assert record["preset"] == "reduced_dbs" and record["openfold_params"] is True
    assert genetic_databases.ready_presets(s3, BUCKET) == ["reduced_dbs"]
    assert not (tmp_path / "work").exists() or not any(
        (tmp_path / "work").iterdir()
    )  # volume freed

    # a second job finds every record and fetches nothing (it carries on where one stopped)
    for path in root.iterdir():
        path.unlink()
    puts.clear()
    download_databases.setup(
        "reduced_dbs",
        BUCKET,
        databases=sources,
        work=tmp_path / "work",
        s3=s3,
        public_s3=s3,
        log=lambda _m: None,
    )
    assert puts == [layout.databases_ready_key("reduced_dbs")]


@mock_aws
def test_a_failed_download_leaves_no_ready_record_and_says_why(web, tmp_path, monkeypatch):
    root, url = web
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    (root / "params.tar").write_bytes(tar_bytes({"params_model_1.npz": b"w1"}))
    fetched = genetic_databases.Database(
        "params", genetic_databases.TAR, (f"{url}/params.tar",), 0, 0
    )
    gone = genetic_databases.Database(
        "mgnify", genetic_databases.GUNZIP, (f"{url}/nothing.fa.gz",), 0, 0
    )
    monkeypatch.setattr(genetic_databases, "databases_for", lambda *_a, **_k: (fetched, gone))
    message = tmp_path / "output" / "message"
    monkeypatch.setattr(download_databases, "EXIT_MESSAGE", message)

    status = download_databases.main(
        [
            "--preset",
            "reduced_dbs",
            "--bucket",
            BUCKET,
            "--work",
            str(tmp_path / "work"),
            "--job",
            "j1",
        ]
    )

    assert status == 1
    said = message.read_text()  # DescribeProcessingJob's ExitMessage
    assert said.startswith("FetchFailed: mgnify") and "nothing.fa.gz" in said and "404" in said
    assert genetic_databases.ready_presets(s3, BUCKET) == []
    # what did arrive is recorded: the next job starts after it
    assert download_databases.has_record(s3, BUCKET, "params")
    assert not download_databases.has_record(s3, BUCKET, "mgnify")


def test_the_job_refuses_to_start_without_the_tools_it_needs(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no rsync, no tar, no gunzip
    message = tmp_path / "message"
    monkeypatch.setattr(download_databases, "EXIT_MESSAGE", message)
    assert download_databases.main(["--preset", "full_dbs", "--bucket", BUCKET]) == 1
    assert "lacks" in message.read_text() and "rsync" in message.read_text()
