"""The databases setup job: fetch a preset's genetic databases into the stack's bucket.

``foldline setup databases`` runs this as a SageMaker Processing job in the MSA step's
image, with the stack's setup role::

    python3 -m foldline.databases.download --preset reduced_dbs --bucket BUCKET [--openfold-params]

For each database of the preset (:mod:`foldline.databases.presets`), in order: skip it when
its record is in the bucket (an earlier job fetched it; ``--refresh`` fetches it again),
else fetch it into the job's volume as AlphaFold 2.3.2's ``download_<name>.sh`` does
(aria2c, rsync, tar, gunzip), upload the folder to ``s3://BUCKET/alphafold-databases/<name>/``,
write its record and delete the local copy, so the volume holds one database at a time.
OpenFold's checkpoints come from the public bucket with unsigned boto3 requests (no AWS
CLI needed). When every database is there, the preset's ready record is written, last:
the start function admits runs of that preset from then on.

A failure ends the job with a non-zero status and one line in ``/opt/ml/output/message``
(DescribeProcessingJob's ExitMessage); databases already uploaded keep their records,
so the next job carries on from there.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from foldline.databases import mmseqs_expandable
from foldline.databases import presets as gdb
from foldline.spec import layout
from foldline.spec.formats import utc_now

WORK = Path("/opt/ml/processing/databases")
EXIT_MESSAGE = Path("/opt/ml/output/message")
#: S3 allows 10,000 parts per upload; stay below with room to spare
MAX_PARTS = 9000
MIN_PART_BYTES = 64 * 1024**2

Log = Callable[[str], None]


class FetchFailed(RuntimeError):
    """A download or unpack step failed; the message says which and how."""


def _print(message: str) -> None:
    print(f"[foldline-setup] {message}", flush=True)


def _run(command: list[str], log: Log, env: dict[str, str] | None = None) -> None:
    log(" ".join(command))
    started = time.monotonic()
    status = subprocess.call(command, env=env)
    if status != 0:
        raise FetchFailed(f"{command[0]} exited {status}: {' '.join(command)[:300]}")
    log(f"{command[0]} done in {time.monotonic() - started:.0f} s")


def download(url: str, folder: Path, log: Log) -> Path:
    """``url`` into ``folder`` under its own name: aria2c where installed (as AlphaFold's
    scripts, with parallel connections), else the standard library (http, https, ftp)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / url.rstrip("/").rsplit("/", 1)[-1]
    if shutil.which("aria2c") and url.startswith(("http://", "https://", "ftp://")):
        _run(
            [
                "aria2c",
                url,
                f"--dir={folder}",
                "--max-connection-per-server=8",
                "--split=8",
                "--summary-interval=300",
                "--console-log-level=warn",
            ],
            log,
        )
    else:
        log(f"fetching {url} (no aria2c: one connection)")
        with urllib.request.urlopen(url, timeout=300) as response, open(target, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    if not target.is_file():
        raise FetchFailed(f"{url}: nothing arrived at {target}")
    return target


def gunzip(path: Path, log: Log) -> Path:
    """Unpack ``x.gz`` to ``x`` in place (gunzip's way: the .gz is gone afterwards)."""
    _run(["gunzip", "--force", str(path)], log)
    return path.with_suffix("")


def untar(archive: Path, folder: Path, log: Log) -> None:
    _run(["tar", "--extract", f"--file={archive}", f"--directory={folder}"], log)
    archive.unlink()


def keep_protein_chains(path: Path) -> None:
    """pdb_seqres.txt without its nucleic-acid records (download_pdb_seqres.sh's grep for
    ``>.* mol:protein`` and the line after)."""
    kept = path.with_name(path.name + ".filtered")
    with (
        open(path, encoding="utf-8", errors="replace") as src,
        open(kept, "w", encoding="utf-8") as out,
    ):
        keep = False
        for line in src:
            if line.startswith(">"):
                keep = " mol:protein" in line
            if keep:
                out.write(line)
    kept.replace(path)


def fetch_mmcif(db: gdb.Database, folder: Path, log: Log) -> None:
    """The PDB's mmCIF files, flat in mmcif_files/, and obsolete.dat (download_pdb_mmcif.sh)."""
    tree, obsolete = db.sources
    raw = folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    port = [f"--port={gdb.RCSB_RSYNC_PORT}"] if "::" in tree else []
    _run(
        [
            "rsync",
            "--recursive",
            "--links",
            "--perms",
            "--times",
            "--compress",
            "--delete",
            *port,
            tree,
            f"{raw}/",
        ],
        log,
    )
    files = folder / "mmcif_files"
    files.mkdir(exist_ok=True)
    moved = 0
    for archive in sorted(raw.rglob("*.gz")):
        with (
            gzip.open(archive, "rb") as src,
            open(files / archive.name[: -len(".gz")], "wb") as out,
        ):
            shutil.copyfileobj(src, out, 1 << 20)
        archive.unlink()
        moved += 1
    for cif in sorted(raw.rglob("*.cif")):  # a mirror that serves them unpacked
        cif.replace(files / cif.name)
        moved += 1
    shutil.rmtree(raw)
    if moved == 0:
        raise FetchFailed(f"{tree}: no mmCIF files arrived")
    log(f"{moved} mmCIF files")
    download(obsolete, folder, log)


def fetch_uniprot(db: gdb.Database, folder: Path, log: Log) -> None:
    """TrEMBL with Swiss-Prot appended, as uniprot.fasta (download_uniprot.sh)."""
    trembl, sprot = (gunzip(download(url, folder, log), log) for url in db.sources)
    with open(trembl, "ab") as out, open(sprot, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    sprot.unlink()
    trembl.replace(folder / "uniprot.fasta")


def fetch_public_s3(db: gdb.Database, folder: Path, log: Log, s3: Any = None) -> None:
    """A public S3 prefix with unsigned requests (OpenFold's ``aws s3 cp --no-sign-request``)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    bucket, prefix = layout.split_s3_uri(db.sources[0])
    s3 = s3 or boto3.client(
        "s3", region_name=gdb.OPENFOLD_PARAMS_REGION, config=Config(signature_version=UNSIGNED)
    )
    count = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            target = folder / relative
            if not target.resolve().is_relative_to(folder.resolve()):
                raise FetchFailed(f"{obj['Key']} would land outside {folder}")
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(target))
            count += 1
    if count == 0:
        raise FetchFailed(f"{db.sources[0]}: no objects listed")
    log(f"{count} files from {db.sources[0]}")


def fetch_colabfold(db: gdb.Database, folder: Path, log: Log, mmseqs: str = "mmseqs") -> None:
    """ColabFold's database as its setup_databases.sh makes it from the TSV archive:
    unpacked, ``tsv2exprofiledb`` into ``<archive name>_db`` (the representatives,
    ``_seq`` members, ``_aln`` alignments), ``createindex``; the TSV files removed. With an
    MMseqs2 GPU build in the image, padded for the GPU and indexed as ColabFold does."""
    name = gdb.COLABFOLD_DATABASES[db.name]
    untar(download(db.sources[0], folder, log), folder, log)
    tsv = folder / name.removesuffix("_db")
    if not Path(f"{tsv}.tsv").is_file():
        raise FetchFailed(f"{db.sources[0]}: no {tsv.name}.tsv in the archive")
    help_text = subprocess.run([mmseqs, "-h"], capture_output=True, text=True, check=False).stdout
    gpu = mmseqs_expandable.binary_has_gpu(help_text)
    env = {**os.environ, "MMSEQS_FORCE_MERGE": "1"}  # one data file per database
    _run(
        [mmseqs, "tsv2exprofiledb", str(tsv), str(folder / name), *(["--gpu", "1"] if gpu else [])],
        log,
        env,
    )
    _run(
        [mmseqs, "createindex", str(folder / name), str(folder / "tmp"), "--remove-tmp-files", "1"]
        + (["--split", "1", "--index-subset", "2"] if gpu else []),
        log,
        env,
    )
    for leftover in folder.glob(f"{tsv.name}*.tsv"):
        leftover.unlink()
    shutil.rmtree(folder / "tmp", ignore_errors=True)
    if not mmseqs_expandable.is_expandable(folder / name):
        raise FetchFailed(f"{name}: tsv2exprofiledb left no expandable database")


def fetch(db: gdb.Database, folder: Path, log: Log = _print, *, public_s3: Any = None) -> Path:
    """``db`` in AlphaFold's layout under ``folder`` (the database's own folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    if db.kind == gdb.TAR:
        untar(download(db.sources[0], folder, log), folder, log)
    elif db.kind == gdb.GUNZIP:
        gunzip(download(db.sources[0], folder, log), log)
    elif db.kind == gdb.SEQRES:
        keep_protein_chains(download(db.sources[0], folder, log))
    elif db.kind == gdb.UNIPROT:
        fetch_uniprot(db, folder, log)
    elif db.kind == gdb.MMCIF:
        fetch_mmcif(db, folder, log)
    elif db.kind == gdb.S3_PUBLIC:
        fetch_public_s3(db, folder, log, public_s3)
    elif db.kind == gdb.COLABFOLD_MMSEQS:
        fetch_colabfold(db, folder, log)
    else:
        raise ValueError(f"unknown kind of database {db.kind!r}")
    return folder


def upload_folder(s3: Any, folder: Path, bucket: str, prefix: str, log: Log) -> tuple[int, int]:
    """Every file under ``folder`` to ``s3://bucket/prefix``; (files, bytes).

    The part size grows with the file so that BFD's 1.4 TB index fits S3's part limit.
    """
    from boto3.s3.transfer import TransferConfig

    files = total = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        size = path.stat().st_size
        part = max(MIN_PART_BYTES, math.ceil(size / MAX_PARTS))
        config = TransferConfig(
            multipart_threshold=part, multipart_chunksize=part, max_concurrency=16
        )
        s3.upload_file(
            str(path), bucket, prefix + path.relative_to(folder).as_posix(), Config=config
        )
        files, total = files + 1, total + size
    log(f"uploaded {files} files, {total / 1e9:.1f} GB to s3://{bucket}/{prefix}")
    return files, total


def has_record(s3: Any, bucket: str, name: str) -> bool:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=layout.database_record_key(name))
    return any(o["Key"] == layout.database_record_key(name) for o in listed.get("Contents", []))


def setup(
    preset: str,
    bucket: str,
    *,
    work: Path = WORK,
    s3: Any = None,
    openfold_params: bool = False,
    colabfold: bool = False,
    refresh: bool = False,
    job: str = "",
    log: Log = _print,
    public_s3: Any = None,
    databases: Sequence[gdb.Database] | None = None,
) -> dict:
    """Fetch what ``preset`` lacks into ``bucket``, then write its ready record; return it.

    ``databases`` replaces the preset's list (its sources) for a rehearsal.
    """
    import boto3

    s3 = s3 or boto3.client("s3")
    chosen = gdb.databases_for(preset, openfold_params, colabfold)
    for db in databases if databases is not None else chosen:
        if not refresh and has_record(s3, bucket, db.name):
            log(
                f"{db.name}: already in s3://{bucket}/{layout.DATABASES}{db.name}/ (its record says so)"
            )
            continue
        started = time.monotonic()
        folder = work / db.name
        shutil.rmtree(folder, ignore_errors=True)  # a retried job starts this database clean
        log(
            f"{db.name}: fetching ({db.download_gb:g} GB to download, {db.unpacked_gb:g} GB unpacked)"
        )
        try:
            fetch(db, folder, log, public_s3=public_s3)
        except Exception as err:  # name the database and its source in the job's exit message
            raise FetchFailed(
                f"{db.name} from {' '.join(db.sources)}: {type(err).__name__}: {err}"
            ) from err
        files, size = upload_folder(s3, folder, bucket, f"{layout.DATABASES}{db.name}/", log)
        record = {
            "database": db.name,
            "sources": list(db.sources),
            "files": files,
            "bytes": size,
            "job": job,
            "fetched_at": utc_now(),
            "seconds": round(time.monotonic() - started),
        }
        s3.put_object(
            Bucket=bucket,
            Key=layout.database_record_key(db.name),
            Body=json.dumps(record, indent=1).encode(),
            ContentType="application/json",
        )
        shutil.rmtree(folder)
    record = gdb.write_ready(
        s3,
        bucket,
        preset,
        source=f"setup job {job}".strip(),
        openfold_params=openfold_params or has_record(s3, bucket, gdb.OPENFOLD_PARAMS),
    )
    log(f"{preset} ready: s3://{bucket}/{layout.databases_ready_key(preset)}")
    return record


def _tools_missing(preset: str, openfold_params: bool, colabfold: bool = False) -> list[str]:
    kinds = {db.kind for db in gdb.databases_for(preset, openfold_params, colabfold)}
    needed = ["tar", "gunzip"] + (["rsync"] if gdb.MMCIF in kinds else [])
    needed += ["mmseqs"] if gdb.COLABFOLD_MMSEQS in kinds else []
    return [tool for tool in needed if shutil.which(tool) is None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m foldline.databases.download", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--preset", choices=sorted(gdb.PRESET_DATABASES), required=True)
    parser.add_argument("--bucket", required=True, help="the stack's bucket")
    parser.add_argument(
        "--work", type=Path, default=WORK, help="scratch folder on the job's volume"
    )
    parser.add_argument(
        "--openfold-params",
        action="store_true",
        help="also fetch OpenFold's checkpoints into openfold_params/",
    )
    parser.add_argument(
        "--colabfold",
        action="store_true",
        help="also fetch ColabFold's UniRef30 and environmental databases for the mmseqs2 "
        "MSA engine (tsv2exprofiledb, createindex)",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="fetch every database again, even those already recorded",
    )
    parser.add_argument("--job", default="", help="the Processing job's name, for the records")
    parser.add_argument("--sources", type=Path, help=argparse.SUPPRESS)  # a rehearsal's stand-ins
    args = parser.parse_args(argv)
    databases = None
    if args.sources:  # [{"name", "kind", "sources"}]: the preset's databases from elsewhere
        databases = [
            gdb.Database(d["name"], d["kind"], tuple(d["sources"]), 0, 0)
            for d in json.loads(args.sources.read_text())
        ]
    missing = _tools_missing(args.preset, args.openfold_params, args.colabfold)
    try:
        if missing:  # before a day of downloads, not after
            raise FetchFailed(
                f"the image lacks {', '.join(missing)} (AlphaFold's download steps need them)"
            )
        setup(
            args.preset,
            args.bucket,
            work=args.work,
            openfold_params=args.openfold_params,
            colabfold=args.colabfold,
            refresh=args.refresh,
            job=args.job,
            databases=databases,
        )
    except Exception as err:  # noqa: BLE001 - one line for DescribeProcessingJob, then fail
        message = f"{type(err).__name__}: {err}"[:1000]
        _print(f"failed: {message}")
        try:
            EXIT_MESSAGE.parent.mkdir(parents=True, exist_ok=True)
            EXIT_MESSAGE.write_text(message, encoding="utf-8")
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
