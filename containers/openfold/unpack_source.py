"""Unpack OpenFold's source for the image build, checking that it is the pinned commit.

    unpack_source.py --commit SHA --url URL --local-dir DIR TARGET

The archive is the one tarball in ``DIR`` if there is one, else ``URL`` downloaded (GitHub's
``archive/<sha>.tar.gz``). ``git archive`` (GitHub's archives are made by it) writes the commit
id into the tar's global pax header; an archive without it, or of another commit, is refused,
so the image always holds the source whose parser foldline's argv was checked against.
Runs in the build stage's system Python (no venv needed).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def find_archive(local_dir: Path, url: str, scratch: Path) -> Path:
    local = sorted(p for p in local_dir.glob("*") if p.name.endswith(ARCHIVE_SUFFIXES))
    if len(local) > 1:
        sys.exit(f"more than one archive in {local_dir}: {', '.join(p.name for p in local)}")
    if local:
        print(f"OpenFold source: {local[0].name} (local)", flush=True)
        return local[0]
    target = scratch / "openfold.tar.gz"
    print(f"OpenFold source: {url}", flush=True)
    try:
        with urllib.request.urlopen(url, timeout=120) as response, target.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as err:
        sys.exit(
            f"cannot download {url}: {err}\nWhere GitHub is out of reach, put a git archive "
            f"of the commit in containers/openfold/source/ (see containers/README.md)"
        )
    return target


def unpack(archive: Path, commit: str, target: Path) -> None:
    with tarfile.open(archive) as tar:
        found = tar.pax_headers.get("comment", "").strip()
        if found != commit:
            said = f"commit {found}" if found else "no commit id (not made by git archive)"
            sys.exit(f"{archive.name} holds {said}, not OpenFold {commit}")
        members = tar.getmembers()
        tops = {PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts}
        # GitHub's archives hold one folder (openfold-<sha>/); `git archive` without --prefix none
        strip = (
            1
            if len(tops) == 1
            and any(m.isdir() and PurePosixPath(m.name).parts == tuple(tops) for m in members)
            else 0
        )
        target.mkdir(parents=True, exist_ok=True)
        for member in members:
            parts = PurePosixPath(member.name).parts[strip:]
            if not parts:
                continue
            if (
                member.name.startswith("/")
                or ".." in parts
                or not (member.isfile() or member.isdir() or member.issym())
            ):
                sys.exit(f"refusing archive member {member.name!r}")
            if member.issym() and (member.linkname.startswith("/") or ".." in member.linkname):
                sys.exit(f"refusing link {member.name!r} -> {member.linkname!r}")
            member.name = str(PurePosixPath(*parts))
            # the checks above, and Python's own where it has them (PEP 706)
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extract(member, target, set_attrs=False, **extra)
    print(f"OpenFold {commit} unpacked into {target}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commit", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--local-dir", type=Path, required=True)
    parser.add_argument("target", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        unpack(find_archive(args.local_dir, args.url, Path(scratch)), args.commit, args.target)


if __name__ == "__main__":
    main()
