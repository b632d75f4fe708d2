"""The databases setup job in the MSA image, as `foldline setup databases` starts it.

The image's own `python3 -m foldline.databases.download` (the Processing job's
ContainerEntrypoint) fetches stand-in sources with the image's aria2c (http), rsync (a
mounted mirror) and unsigned boto3 (the public `openfold` bucket), and writes into S3:
a moto server on this machine, reached over the host network. The sources are small
files in the shapes AlphaFold 2.3.2's scripts fetch; the real ones are on the internet,
which these machines cannot reach.
"""

from __future__ import annotations

import gzip
import json
import subprocess

import boto3
import pytest
from moto.server import ThreadedMotoServer

from foldline.databases import presets as genetic_databases
from foldline.databases import setup_job
from foldline.spec import layout
from tests.conftest import tar_bytes

BUCKET = "foldline-setup-in-image"


@pytest.fixture
def s3_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_the_setup_job_runs_in_the_msa_image_and_writes_ready_last(
    images, web, s3_server, tmp_path
):
    root, url = web
    (root / "params.tar").write_bytes(tar_bytes({"params_model_1_ptm.npz": b"weights"}, mode="w"))
    (root / "mgy.fa.gz").write_bytes(gzip.compress(b">MGYP1\nMKV\n"))
    (root / "pdb_seqres.txt").write_bytes(
        b">1abc_A mol:protein length:3  X\nMKV\n>1abd_B mol:na length:2  Y\nAC\n"
    )
    mirror = tmp_path / "mirror"
    (mirror / "ab").mkdir(parents=True)
    (mirror / "ab" / "1abc.cif.gz").write_bytes(gzip.compress(b"data_1ABC\n"))
    (root / "obsolete.dat").write_bytes(b"OBSLTE\n")
    k = genetic_databases
    sources = [
        {"name": "params", "kind": k.TAR, "sources": [f"{url}/params.tar"]},
        {"name": "mgnify", "kind": k.GUNZIP, "sources": [f"{url}/mgy.fa.gz"]},
        {"name": "pdb_seqres", "kind": k.SEQRES, "sources": [f"{url}/pdb_seqres.txt"]},
        {"name": "pdb_mmcif", "kind": k.MMCIF, "sources": ["/mirror/", f"{url}/obsolete.dat"]},
        {
            "name": "openfold_params",
            "kind": k.S3_PUBLIC,
            "sources": ["s3://openfold/openfold_params/"],
        },
    ]
    (tmp_path / "sources.json").write_text(json.dumps(sources))
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    s3.create_bucket(Bucket=BUCKET)
    # public, as the Registry of Open Data's bucket is (moto judges an unsigned request by
    # the object's ACL, AWS by the bucket policy: both are set)
    s3.create_bucket(Bucket="openfold")
    s3.put_bucket_policy(
        Bucket="openfold",
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": ["s3:GetObject", "s3:ListBucket"],
                        "Resource": ["arn:aws:s3:::openfold", "arn:aws:s3:::openfold/*"],
                    }
                ],
            }
        ),
    )
    s3.put_object(
        Bucket="openfold", Key="openfold_params/finetuning_ptm_2.pt", Body=b"pt", ACL="public-read"
    )
    request = setup_job.job_request(
        preset="reduced_dbs",
        bucket=BUCKET,
        region="us-east-1",
        image_uri=images["msa"],
        role_arn="r",
        name="job-1",
    )
    command = request["AppSpecification"]["ContainerEntrypoint"]  # as SageMaker runs it

    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "host",
            "-v",
            f"{tmp_path}/sources.json:/in/sources.json:ro",
            "-v",
            f"{mirror}:/mirror:ro",
            "-e",
            f"AWS_ENDPOINT_URL={s3_server}",
            "-e",
            "AWS_ACCESS_KEY_ID=x",
            "-e",
            "AWS_SECRET_ACCESS_KEY=x",
            *[f"--env={k}={v}" for k, v in request["Environment"].items()],
            "--entrypoint",
            command[0],
            images["msa"],
            *command[1:],
            "--work",
            "/tmp/work",
            "--sources",
            "/in/sources.json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "aria2c http://" in done.stdout  # the image's aria2c fetched the archives

    def text(key: str) -> str:
        return s3.get_object(Bucket=BUCKET, Key=layout.DATABASES + key)["Body"].read().decode()

    assert text("params/params_model_1_ptm.npz") == "weights"
    assert text("mgnify/mgy.fa") == ">MGYP1\nMKV\n"
    assert text("pdb_seqres/pdb_seqres.txt") == ">1abc_A mol:protein length:3  X\nMKV\n"
    assert text("pdb_mmcif/mmcif_files/1abc.cif") == "data_1ABC\n"
    assert text("openfold_params/finetuning_ptm_2.pt") == "pt"
    assert genetic_databases.ready_presets(s3, BUCKET) == ["reduced_dbs"]
    ready = json.loads(
        s3.get_object(Bucket=BUCKET, Key=layout.databases_ready_key("reduced_dbs"))["Body"].read()
    )
    assert ready["source"] == "setup job job-1"
