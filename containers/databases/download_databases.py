#!/usr/bin/env python3
"""Download AlphaFold's genetic databases (and optionally OpenFold's weights) into a folder.

Runs inside the foldline MSA image (which holds AlphaFold 2.3.2's download scripts at
``/app/alphafold/scripts``, aria2c and rsync) as a SageMaker Processing job; SageMaker
uploads the folder (a ProcessingOutput) to S3 when the job ends. ``start_download_job.py``
starts the job. Standard library only.

    download_databases.py --preset full_dbs --target /opt/ml/processing/databases

The layout is AlphaFold's (uniref90/, mgnify/, bfd/ or small_bfd/, uniref30/, pdb70/,
pdb_mmcif/, pdb_seqres/, uniprot/, params/), the one foldline's steps read. Both
presets fetch pdb70, pdb_seqres and uniprot, so monomer and multimer runs both work.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

SCRIPTS = Path("/app/alphafold/scripts")
#: AlphaFold 2.3.2's per-database download scripts, by preset
DOWNLOADS = {
    "full_dbs": ("alphafold_params", "bfd", "mgnify", "pdb70", "pdb_mmcif", "pdb_seqres",
                 "uniref30", "uniref90", "uniprot"),
    "reduced_dbs": ("alphafold_params", "small_bfd", "mgnify", "pdb70", "pdb_mmcif",
                    "pdb_seqres", "uniref90", "uniprot"),
}  # fmt: skip
#: OpenFold's weights on the Registry of Open Data on AWS (public, no credentials needed)
OPENFOLD_PARAMS = ("aws", "s3", "cp", "--no-sign-request", "--region", "us-east-1",
                   "s3://openfold/openfold_params/")  # fmt: skip


def commands(preset: str, target: Path, scripts: Path = SCRIPTS,
             openfold_params: bool = False) -> list[list[str]]:  # fmt: skip
    """The download commands in order (each AlphaFold script takes the root folder)."""
    found = [["bash", str(scripts / f"download_{name}.sh"), str(target)] for name in DOWNLOADS[preset]]
    if openfold_params:
        found.append([*OPENFOLD_PARAMS, str(target / "openfold_params"), "--recursive"])
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(DOWNLOADS), required=True)
    parser.add_argument("--target", type=Path, default=Path("/opt/ml/processing/databases"))
    parser.add_argument("--scripts", type=Path, default=SCRIPTS)
    parser.add_argument("--openfold-params", action="store_true",
                        help="also fetch OpenFold's checkpoints into openfold_params/")
    args = parser.parse_args(argv)
    args.target.mkdir(parents=True, exist_ok=True)
    for tool in ("aria2c", "rsync"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: AlphaFold's download scripts need it", file=sys.stderr)
            return 2
    for command in commands(args.preset, args.target, args.scripts, args.openfold_params):
        started = time.monotonic()
        print(f"[foldline] {' '.join(command)}", flush=True)
        status = subprocess.call(command)
        print(f"[foldline] exit {status} after {time.monotonic() - started:.0f} s", flush=True)
        if status != 0:
            Path("/opt/ml/output").mkdir(parents=True, exist_ok=True)
            Path("/opt/ml/output/failure").write_text(f"{' '.join(command)} exited {status}")
            return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
