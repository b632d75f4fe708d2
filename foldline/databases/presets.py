"""The genetic databases a stack serves: what each preset needs, where each one comes from,
and the records that say a preset is ready.

Sources and layout are AlphaFold 2.3.2's ``scripts/download_*.sh`` (the folders
:mod:`foldline.steps.databases` reads), and OpenFold's checkpoints are the ones its
``scripts/download_openfold_params.sh`` copies from the public bucket
``s3://openfold/openfold_params/``. The setup job (:mod:`foldline.databases.download`,
started by ``foldline setup databases``) fetches them into the stack's bucket under
:data:`foldline.spec.layout.DATABASES`, which the stack's FSx for Lustre file system serves to
the training jobs. After each database it writes a record under
:data:`foldline.spec.layout.DATABASES_SETUP`, and once every database of a preset is there, the
preset's ready record, last. The start function refuses a run whose preset has no ready
record (:class:`Readiness`), with a reason that names the command to run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from foldline.spec import layout
from foldline.spec.formats import utc_now
from foldline.spec.parameters import DB_PRESET, DB_PRESETS

#: how each database is fetched (foldline.databases.download implements each kind)
TAR = "tar"  # one archive, unpacked into the folder, then deleted
GUNZIP = "gunzip"  # one .gz file, unpacked in place
SEQRES = "seqres"  # pdb_seqres.txt, kept to its protein chains (download_pdb_seqres.sh)
UNIPROT = "uniprot"  # TrEMBL + Swiss-Prot, unpacked and joined into uniprot.fasta
MMCIF = "mmcif"  # rsync of the PDB's divided mmCIF tree, unpacked and flattened
S3_PUBLIC = "s3-public"  # a public S3 prefix, read with unsigned requests
#: ColabFold's TSV archive made into an expandable MMseqs2 database (setup_databases.sh:
#: tar, ``mmseqs tsv2exprofiledb``, ``mmseqs createindex``)
COLABFOLD_MMSEQS = "colabfold-mmseqs"


@dataclass(frozen=True)
class Database:
    """One folder of the databases root, as AlphaFold 2.3.2's download script makes it."""

    name: str  # the folder (and the download script's name: download_<name>.sh)
    kind: str
    sources: tuple[str, ...]
    download_gb: float  # AlphaFold 2.3.2's README: download size
    unpacked_gb: float  # ... and size on disk

    @property
    def working_gb(self) -> float:
        """Disk the job needs while fetching it: the download and the unpacked copy (for
        ColabFold's, the TSV files and the MMseqs2 database with its index beside them
        until the TSVs are removed: an estimate, twice the TSVs)."""
        if self.kind == COLABFOLD_MMSEQS:
            return self.download_gb + 2 * self.unpacked_gb
        return self.download_gb + self.unpacked_gb


_GCS = "https://storage.googleapis.com/alphafold-databases"
DATABASES: dict[str, Database] = {
    d.name: d
    for d in (
        Database(
            "params",
            TAR,
            ("https://storage.googleapis.com/alphafold/alphafold_params_2022-12-06.tar",),
            5.3,
            5.3,
        ),
        Database(
            "bfd",
            TAR,
            (
                (
                    f"{_GCS}/casp14_versions/bfd_metaclust_clu_complete_id30_c90_final_seq"
                    ".sorted_opt.tar.gz"
                ),
            ),
            271.6,
            1800,
        ),
        Database(
            "small_bfd",
            GUNZIP,
            (f"{_GCS}/reduced_dbs/bfd-first_non_consensus_sequences.fasta.gz",),
            9.6,
            17,
        ),
        Database("mgnify", GUNZIP, (f"{_GCS}/v2.3/mgy_clusters_2022_05.fa.gz",), 67, 120),
        Database(
            "pdb70",
            TAR,
            (
                (
                    "http://wwwuser.gwdg.de/~compbiol/data/hhsuite/databases/hhsuite_dbs/"
                    "old-releases/pdb70_from_mmcif_200401.tar.gz"
                ),
            ),
            19.5,
            56,
        ),
        Database(
            "pdb_mmcif",
            MMCIF,
            (
                "rsync.rcsb.org::ftp_data/structures/divided/mmCIF/",
                "ftp://ftp.wwpdb.org/pub/pdb/data/status/obsolete.dat",
            ),
            43,
            238,
        ),
        Database(
            "pdb_seqres",
            SEQRES,
            ("ftp://ftp.wwpdb.org/pub/pdb/derived_data/pdb_seqres.txt",),
            0.2,
            0.2,
        ),
        Database("uniref30", TAR, (f"{_GCS}/v2.3/UniRef30_2021_03.tar.gz",), 52.5, 206),
        Database(
            "uniref90",
            GUNZIP,
            ("ftp://ftp.uniprot.org/pub/databases/uniprot/uniref/uniref90/uniref90.fasta.gz",),
            34,
            67,
        ),
        Database(
            "uniprot",
            UNIPROT,
            (
                (
                    "ftp://ftp.ebi.ac.uk/pub/databases/uniprot/current_release/knowledgebase/complete/"
                    "uniprot_trembl.fasta.gz"
                ),
                (
                    "ftp://ftp.ebi.ac.uk/pub/databases/uniprot/current_release/knowledgebase/complete/"
                    "uniprot_sprot.fasta.gz"
                ),
            ),
            53,
            105,
        ),
        # not AlphaFold's: ColabFold's databases for the mmseqs2 engine (optional). Sizes:
        # the 2103 release of UniRef30 (68 GB archive, 375 GB unpacked) and the environmental
        # database (110 GB, 949 GB) as MindSpore's MEGA-Protein README states them; 2302's
        # are not published beside the archive (see docs/deployment.md)
        Database(
            "colabfold_uniref30",
            COLABFOLD_MMSEQS,
            ("https://opendata.mmseqs.org/colabfold/uniref30_2302.tar.gz",),
            68,
            375,
        ),
        Database(
            "colabfold_envdb",
            COLABFOLD_MMSEQS,
            ("https://opendata.mmseqs.org/colabfold/colabfold_envdb_202108.tar.gz",),
            110,
            949,
        ),
        # not AlphaFold's: OpenFold's checkpoints (finetuning_*.pt), optional; its scripts state
        # no size: ten checkpoints of roughly 0.4 GB, rounded up
        Database("openfold_params", S3_PUBLIC, ("s3://openfold/openfold_params/",), 5, 5),
    )
}
#: the public bucket's region (OpenFold's script passes --region us-east-1)
OPENFOLD_PARAMS_REGION = "us-east-1"
#: the rsync port of the RCSB mirror (download_pdb_mmcif.sh)
RCSB_RSYNC_PORT = 33444

#: databases of each preset, as download_all_data.sh fetches them, without UniRef30 for
#: reduced_dbs (only full_dbs searches it). Both presets carry pdb70 (monomer templates)
#: and uniprot + pdb_seqres (multimer), so every model preset runs from either.
PRESET_DATABASES: dict[str, tuple[str, ...]] = {
    "full_dbs": (
        "params",
        "bfd",
        "uniref30",
        "mgnify",
        "uniref90",
        "uniprot",
        "pdb70",
        "pdb_mmcif",
        "pdb_seqres",
    ),
    "reduced_dbs": (
        "params",
        "small_bfd",
        "mgnify",
        "uniref90",
        "uniprot",
        "pdb70",
        "pdb_mmcif",
        "pdb_seqres",
    ),
}
OPENFOLD_PARAMS = "openfold_params"
#: ColabFold's databases: the folder each is fetched into -> the MMseqs2 database in it
#: (the archive's name + ``_db``, as setup_databases.sh names them)
COLABFOLD_DATABASES: dict[str, str] = {
    "colabfold_uniref30": "uniref30_2302_db",
    "colabfold_envdb": "colabfold_envdb_202108_db",
}
#: which of AlphaFold's MSA databases each stands in for with the mmseqs2 engine: UniRef30's
#: members are UniRef100 (for UniRef90's slot), the environmental database holds BFD and
#: MGnify's clusters (for theirs). UniProt stays AlphaFold's: multimer pairing reads its
#: species from UniProt's names.
COLABFOLD_SLOTS: dict[str, str] = {
    "uniref90": "colabfold_uniref30",
    "mgnify": "colabfold_envdb",
    "small_bfd": "colabfold_envdb",
}


def colabfold_database(slot: str) -> str | None:
    """The path, inside the databases root, of ColabFold's database that fills ``slot``."""
    folder = COLABFOLD_SLOTS.get(slot)
    return f"{folder}/{COLABFOLD_DATABASES[folder]}" if folder else None


def databases_for(
    preset: str, openfold_params: bool = False, colabfold: bool = False
) -> tuple[Database, ...]:
    if preset not in PRESET_DATABASES:
        raise ValueError(f"DbPreset {preset!r} is not one of {', '.join(DB_PRESETS)}")
    names = (
        PRESET_DATABASES[preset]
        + ((OPENFOLD_PARAMS,) if openfold_params else ())
        + (tuple(COLABFOLD_DATABASES) if colabfold else ())
    )
    return tuple(DATABASES[name] for name in names)


def volume_gb(preset: str, colabfold: bool = False) -> int:
    """The setup job's disk: the largest database in flight (each one is uploaded and
    deleted before the next), with a fifth to spare, in steps of 100 GB."""
    chosen = databases_for(preset, openfold_params=True, colabfold=colabfold)
    largest = max(d.working_gb for d in chosen)
    return int(math.ceil(largest * 1.2 / 100) * 100)


def size_on_disk_gb(preset: str) -> float:
    return sum(d.unpacked_gb for d in databases_for(preset))


def setup_command(preset: str) -> str:
    """The command that makes ``preset`` ready (named in refusals and in the docs)."""
    return f"foldline setup databases --preset {preset}"


# -- readiness -----------------------------------------------------------------------------


def ready_record(preset: str, *, databases: list[str], source: str, **facts: Any) -> dict:
    return {
        "preset": preset,
        "databases": databases,
        "source": source,
        "ready_at": utc_now(),
        **facts,
    }


def write_ready(s3: Any, bucket: str, preset: str, *, source: str, **facts: Any) -> dict:
    """Record that ``preset``'s databases are complete in ``bucket`` (the last write of a
    setup); the local cloud writes it for its database folder."""
    record = ready_record(preset, databases=list(PRESET_DATABASES[preset]), source=source, **facts)
    s3.put_object(
        Bucket=bucket,
        Key=layout.databases_ready_key(preset),
        Body=json.dumps(record, indent=1).encode(),
        ContentType="application/json",
    )
    return record


def ready_presets(s3: Any, bucket: str) -> list[str]:
    """The presets with a ready record, from one listing of the setup records."""
    prefix = layout.databases_ready_key("")[: -len(".json")]  # databases-setup/ready-
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
    keys = {o["Key"] for o in listed.get("Contents", [])}
    return [p for p in DB_PRESETS if layout.databases_ready_key(p) in keys]


class DatabasesNotReady(Exception):
    """A run needs a preset whose databases are not set up; ``str()`` says what to run."""

    code = "databases_not_ready"

    def __init__(self, bucket: str, preset: str, ready: list[str], *, pinned: bool):
        self.preset, self.ready = preset, ready
        where = f"s3://{bucket}/{layout.DATABASES}"
        if ready:
            other = " or ".join(f"DbPreset={p}" for p in ready)
            hint = (
                f"; the stack has {', '.join(ready)}: upload again with the tag {other}, "
                f"or run `{setup_command(preset)}` and upload again once it has finished"
            )
        else:
            hint = f": run `{setup_command(preset)}` and upload again once it has finished"
        asked = "asked for by the upload's tag" if pinned else "the default"
        super().__init__(
            f"the genetic databases for DbPreset={preset} ({asked}) are not set up in {where}{hint}"
        )


class Readiness:
    """Which presets a bucket holds ready, looked up at most every ``ttl_s`` once found.

    A found preset stays found for ``ttl_s`` (records are never taken back by foldline);
    a missing one is looked up again on every call, so a run uploaded just after the
    setup finished is not refused from a stale answer.
    """

    def __init__(self, s3: Any, *, ttl_s: float = 600, clock: Callable[[], float] = time.monotonic):
        self.s3, self.ttl_s, self.clock = s3, ttl_s, clock
        self._found: dict[tuple[str, str], float] = {}

    def ready(self, bucket: str, now: float | None = None) -> list[str]:
        now = self.clock() if now is None else now
        cached = [
            p for p in DB_PRESETS if now - self._found.get((bucket, p), -math.inf) < self.ttl_s
        ]
        if len(cached) == len(DB_PRESETS):
            return cached
        found = ready_presets(self.s3, bucket)
        for preset in found:
            self._found[(bucket, preset)] = now
        return sorted(set(cached) | set(found), key=DB_PRESETS.index)

    def choose(self, bucket: str, pinned: str | None) -> tuple[str, str | None]:
        """The DbPreset a run uses, and a note when it is not the one it would have had.

        A pinned preset must be ready. Unpinned, the pipeline's default is used when
        ready, else the other preset when that one is (a stack set up with reduced_dbs
        only runs every untagged upload with it, and says so).
        """
        default = str(DB_PRESET.default)
        wanted = pinned or default
        now = self.clock()
        if now - self._found.get((bucket, wanted), -math.inf) < self.ttl_s:
            return wanted, None
        ready = self.ready(bucket, now)
        if wanted in ready:
            return wanted, None
        if pinned is None and ready:
            chosen = ready[0]
            return chosen, (
                f"DbPreset {chosen}: the stack's databases for {default} are not set "
                f"up (`{setup_command(default)}`)"
            )
        raise DatabasesNotReady(bucket, wanted, ready, pinned=pinned is not None)
