"""Content-addressed MSA cache: a run whose MSAs were computed before skips the search.

The expensive part of the MSA step (hours of jackhmmer/hhblits over the full databases)
depends only on a few facts. They make the cache key, the sha256 of a canonical JSON of:

- the normalised sequence of each chain, in order (upper case, no white space: the
  FASTA headers and the file name play no part);
- DbPreset and MaxTemplateDate (the template search filters on it);
- the model-preset family: AlphaFold writes ``msas/`` flat for monomer presets and per
  chain letter (plus pairing inputs) for multimer, so the two layouts never mix;
- the MSA toolchain: the engine the MSA step runs and its tools' versions.

Layout under ``msa-cache/<key>/`` (:func:`foldline.spec.layout.msa_cache_prefix`)::

    manifest.json                       written last: its presence means "complete"
    files/<origin run id>/msas/...      the MSA step's outputs, exactly as it wrote them
    files/<origin run id>/timings.json  (and features.pkl where AlphaFold made one)
    input/query.fasta                   the MSA step's FASTA (:func:`stage_query`)

Files sit under the origin run's id so two runs racing on the same key never mix
their files: the manifest written last names one complete set, with sha256 per file.

Who does what: the start function computes the key (:func:`cache_key`), looks for a
manifest (:func:`lookup`) to record "MSA reused from run X" at once, stages the query
(:func:`stage_query`) and passes the location to the run as the internal pipeline
parameter ``MsaCacheS3URI``. Two layers then skip the search:

1. SageMaker's own step cache (``CacheConfig`` on the MSA step). Its key is the step's
   arguments; the MSA step's are content-addressed — its FASTA is ``input/query.fasta``
   here, its hyperparameters are the presets, the date and this location, never the run
   id or the uploaded file's name — so a repeat of a finished search reuses that step's
   result without starting a training job at all (the step reports a CacheHitResult).
2. This module's entry, for what the step cache cannot see (it expired, or another
   ModelPreset of the same family): the MSA job recomputes the key from what it really
   runs; when it agrees it copies a hit (:func:`fetch`, seconds) or, after a search,
   stores its MSAs (:func:`store`).

Either way both inference steps receive one archive of the MSA step, so they get the
same bytes whether the search ran or not.

Only boto3-style clients are used (injected), no numpy: the start function imports this.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from foldline.spec import layout
from foldline.spec.formats import is_not_found, utc_now
from foldline.spec.parameters import DEFAULT_MSA_ENGINE, MSA_ENGINES

MANIFEST_NAME = "manifest.json"
FILES_DIR = "files"
KEY_SCHEMA = 1  # bump when the key's ingredients change

ENGINE_ENV = "FOLDLINE_MSA_ENGINE"
ENGINE_CHOICES = MSA_ENGINES
RUNNER_ENV = "FOLDLINE_AF_DATA_PIPELINE"
DEFAULT_RUNNER = "/opt/foldline/run_data_pipeline.py"

#: The tools of AlphaFold's data pipeline as the MSA image installs them
#: (containers/alphafold/Dockerfile: the Debian packages' versions, pinned by ARG, and
#: alphafold-colabfold from requirements-data.txt). tests/steps/test_msa_cache.py checks
#: the pins; tests/containers checks the built image's installed versions.
ALPHAFOLD_TOOLS: dict[str, str] = {
    "alphafold": "alphafold-colabfold 2.3.20",
    "hh-suite": "3.3.0+ds-7+b2 (debian)",
    "hmmer": "3.3.2+dfsg-1 (debian)",
    "kalign": "1:3.3.5-1 (debian)",
}
#: pyhmmer as pinned in pyproject.toml; the installed version wins where it is installed
PYHMMER_PINNED = "0.12.3"
#: bump when foldline.steps.engines.msa_search changes what it writes for the same input
LOCAL_MSA_PROGRAM_REVISION = "1"
#: MMseqs2 as the MSA image installs it (Debian bookworm's mmseqs2; containers/alphafold/
#: Dockerfile); where mmseqs is installed, its own version counts instead. Bump the
#: revision when foldline.steps.engines.mmseqs_search changes what it writes.
MMSEQS_PINNED = "14-7e284+ds-1+b2"
MMSEQS_PROGRAM_REVISION = "1"
#: the mmseqs binary to run, where it is not ``mmseqs`` on PATH
MMSEQS_BINARY_ENV = "FOLDLINE_MMSEQS"

#: files of the MSA step's output that are worth keeping (the step's own record is not:
#: it names the run that made it, and the manifest keeps that as provenance)
_KEPT_TOP_LEVEL = ("msas", "features.pkl", "timings.json")


def engine_choice(environ: Mapping[str, str] | None = None) -> str:
    """The engine asked for, before ``auto`` is resolved: ``FOLDLINE_MSA_ENGINE`` (the
    stack parameter MsaEngine in the start function), else ``auto``. An upload's
    MsaEngine tag wins over it (the run's pipeline parameter of that name)."""
    env = os.environ if environ is None else environ
    choice = (env.get(ENGINE_ENV) or DEFAULT_MSA_ENGINE).strip().lower() or DEFAULT_MSA_ENGINE
    if choice not in ENGINE_CHOICES:
        raise ValueError(f"{ENGINE_ENV}={choice!r}; use one of {', '.join(ENGINE_CHOICES)}")
    return choice


def resolve_engine(environ: Mapping[str, str] | None = None) -> str:
    """The engine the MSA step runs: ``FOLDLINE_MSA_ENGINE``, or for ``auto`` AlphaFold
    where its package and the data-pipeline runner are installed, else pyhmmer.

    The start function and the MSA step both call this, so both compute the same key
    when they see the same setting (the stack parameter ``MsaEngine`` feeds both).
    """
    env = os.environ if environ is None else environ
    choice = engine_choice(env)
    if choice != "auto":
        return choice
    runner = Path(env.get(RUNNER_ENV) or DEFAULT_RUNNER)
    if runner.is_file() and importlib.util.find_spec("alphafold") is not None:
        return "alphafold"
    return "pyhmmer"


def toolchain(engine: str) -> dict[str, str]:
    """Tool name -> version for the MSA engine ``engine`` (part of the cache key)."""
    if engine == "alphafold":
        return dict(ALPHAFOLD_TOOLS)
    if engine == "pyhmmer":
        try:
            version = importlib.metadata.version("pyhmmer")
        except importlib.metadata.PackageNotFoundError:
            version = PYHMMER_PINNED
        return {"pyhmmer": version, "foldline-msa-search": LOCAL_MSA_PROGRAM_REVISION}
    if engine == "mmseqs2":
        return {
            "mmseqs2": mmseqs_version() or MMSEQS_PINNED,
            "foldline-mmseqs-search": MMSEQS_PROGRAM_REVISION,
        }
    raise ValueError(f"no toolchain known for MSA engine {engine!r}")


def mmseqs_version(executable: str | None = None) -> str | None:
    """``mmseqs version`` where the binary is installed (the MSA step), else None (the
    start function: no binary, so the pin). Differing versions give different keys, so
    an MSA is never reused across MMseqs2 releases."""
    import shutil
    import subprocess

    executable = executable or os.environ.get(MMSEQS_BINARY_ENV) or shutil.which("mmseqs")
    if not executable:
        return None
    try:
        out = subprocess.run(
            [executable, "version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def model_family(model_preset: str) -> str:
    """``multimer`` or ``monomer``: the two ``msas/`` layouts AlphaFold writes."""
    return "multimer" if model_preset == "multimer" else "monomer"


def normalise_sequence(sequence: str) -> str:
    return "".join(sequence.split()).upper()


@dataclass(frozen=True)
class CacheKey:
    """A cache key and the facts it hashes (kept in the manifest, for people)."""

    key: str
    facts: dict[str, Any]


def cache_key(
    sequences: Sequence[str],
    *,
    db_preset: str,
    max_template_date: str,
    model_preset: str,
    engine: str,
) -> CacheKey:
    """The cache key of one MSA computation (see the module docstring for what counts)."""
    if not sequences:
        raise ValueError("an MSA cache key needs at least one sequence")
    facts = {
        "schema": KEY_SCHEMA,
        "sequences": [normalise_sequence(s) for s in sequences],
        "db_preset": db_preset,
        "max_template_date": max_template_date,
        "model_family": model_family(model_preset),
        "engine": engine,
        "tools": toolchain(engine),
    }
    canonical = json.dumps(facts, sort_keys=True, separators=(",", ":"))
    return CacheKey(hashlib.sha256(canonical.encode()).hexdigest(), facts)


def cache_uri(bucket: str, key: str) -> str:
    return layout.s3_uri(bucket, layout.msa_cache_prefix(key))


def key_of_uri(uri: str) -> str:
    """The key in ``s3://bucket/msa-cache/<key>/``; ValueError for anything else."""
    _, prefix = layout.split_s3_uri(uri)
    if not prefix.startswith(layout.MSA_CACHE):
        raise ValueError(f"not an MSA cache location: {uri!r}")
    key = prefix[len(layout.MSA_CACHE) :].strip("/")
    if not key or "/" in key:
        raise ValueError(f"not an MSA cache location: {uri!r}")
    return key


@dataclass(frozen=True)
class CacheEntry:
    """A complete cache entry, as its manifest describes it."""

    key: str
    origin_run: str
    created_at: str
    files: dict[str, dict[str, Any]]  # relative path -> {"sha256", "size"}
    facts: dict[str, Any] = field(default_factory=dict)
    engine: str = ""

    @property
    def files_prefix(self) -> str:
        return f"{layout.msa_cache_prefix(self.key)}{FILES_DIR}/{self.origin_run}/"

    @classmethod
    def from_manifest(cls, doc: dict[str, Any]) -> CacheEntry:
        return cls(
            key=doc["key"],
            origin_run=doc["origin_run"],
            created_at=doc["created_at"],
            files=dict(doc["files"]),
            facts=dict(doc.get("facts") or {}),
            engine=str(doc.get("engine", "")),
        )

    def reuse_note(self) -> str:
        return f"MSA reused from run {self.origin_run} (cache key {self.key[:12]}…)"


def _is_missing(err: Exception) -> bool:
    return is_not_found(err)


def _absent(s3: Any, bucket: str, object_key: str) -> bool:
    """Whether ``object_key`` is absent, by listing it (a prefix-scoped ListBucket suffices)."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=object_key, MaxKeys=1)
    return not any(o["Key"] == object_key for o in listed.get("Contents", []))


def lookup(s3: Any, bucket: str, key: str) -> CacheEntry | None:
    """The complete entry for ``key``, or None (no manifest yet, or an unreadable one).

    S3 answers a GetObject of a missing key with 404 only to a caller that may list the
    bucket; the roles here may list ``msa-cache/`` alone (a prefix condition GetObject's
    request does not carry), so a miss may come back as 403: a listing then tells a miss
    from a real denial, which is raised.
    """
    manifest_key = layout.msa_cache_prefix(key) + MANIFEST_NAME
    try:
        body = s3.get_object(Bucket=bucket, Key=manifest_key)
    except ClientError as err:
        if _is_missing(err):
            return None
        if err.response.get("Error", {}).get("Code") == "AccessDenied" and _absent(
            s3, bucket, manifest_key
        ):
            return None
        raise
    try:
        entry = CacheEntry.from_manifest(json.loads(body["Body"].read()))
    except (ValueError, KeyError, TypeError):
        return None  # a damaged manifest is a miss; the next store replaces it
    return entry if entry.key == key else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class CacheDamaged(Exception):
    """A cached file is missing or its bytes differ from the manifest's digest."""


def fetch(s3: Any, bucket: str, entry: CacheEntry, dest: Path) -> list[Path]:
    """Download ``entry``'s files into ``dest``, checking every digest.

    Raises CacheDamaged (and leaves ``dest`` partly written) when a file is missing or
    changed; the caller then runs the search instead.
    """
    written: list[Path] = []
    for relative, meta in sorted(entry.files.items()):
        target = dest / relative
        if not target.resolve().is_relative_to(dest.resolve()):
            raise CacheDamaged(f"manifest path {relative!r} leaves the output folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            s3.download_file(bucket, entry.files_prefix + relative, str(target))
        except Exception as err:
            raise CacheDamaged(f"{relative}: {err}") from err
        if _sha256(target) != meta["sha256"]:
            raise CacheDamaged(f"{relative}: content differs from the manifest's sha256")
        written.append(target)
    return written


def _kept_files(source: Path) -> Iterable[Path]:
    for name in _KEPT_TOP_LEVEL:
        path = source / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file())


def store(
    s3: Any,
    bucket: str,
    key: CacheKey,
    source: Path,
    *,
    origin_run: str,
    engine: str,
) -> CacheEntry:
    """Upload the MSA step's outputs in ``source`` as the entry for ``key``.

    Files first, the manifest last: a reader never sees a manifest whose files are not
    all there. A later store for the same key (a race) replaces the manifest with its
    own complete set.
    """
    files: dict[str, dict[str, Any]] = {}
    entry_prefix = f"{layout.msa_cache_prefix(key.key)}{FILES_DIR}/{origin_run}/"
    for path in _kept_files(source):
        relative = path.relative_to(source).as_posix()
        files[relative] = {"sha256": _sha256(path), "size": path.stat().st_size}
        s3.upload_file(str(path), bucket, entry_prefix + relative)
    if not any(name.startswith("msas/") for name in files):
        raise ValueError(f"{source} holds no msas/ files to cache")
    entry = CacheEntry(
        key=key.key,
        origin_run=origin_run,
        files=files,
        facts=key.facts,
        engine=engine,
        created_at=utc_now(),
    )
    manifest = {
        "key": entry.key,
        "origin_run": entry.origin_run,
        "created_at": entry.created_at,
        "engine": engine,
        "facts": key.facts,
        "files": files,
    }
    s3.put_object(
        Bucket=bucket,
        Key=layout.msa_cache_prefix(key.key) + MANIFEST_NAME,
        Body=json.dumps(manifest, indent=1).encode(),
        ContentType="application/json",
    )
    return entry


def query_fasta(sequences: Sequence[str]) -> bytes:
    """The MSA step's FASTA for ``sequences``: one record per chain, named by its letter.

    A function of the cache key's sequences alone (headers and file names play no part),
    so every run with the same key stages the very same bytes. Chains are named as
    AlphaFold multimer names them (A..Z, then AA, BA, ...): any number the stack's
    FoldlineMaxChains admits.
    """
    if not sequences:
        raise ValueError("an MSA query holds at least one chain")
    return "".join(
        f">chain_{layout.chain_letter(i)}\n{normalise_sequence(s)}\n"
        for i, s in enumerate(sequences)
    ).encode()


def stage_query(s3: Any, bucket: str, key: CacheKey) -> str:
    """Put the MSA step's FASTA under ``msa-cache/<key>/input/``; return that folder's URI.

    Written only if absent (a conditional put): the bytes are the key's, so the first
    run's copy serves every later one, and a versioned bucket gains no new versions.
    """
    object_key = layout.msa_cache_input_prefix(key.key) + layout.MSA_QUERY_FILE
    try:
        s3.put_object(
            Bucket=bucket,
            Key=object_key,
            Body=query_fasta(key.facts["sequences"]),
            ContentType="text/plain",
            IfNoneMatch="*",
        )
    except ClientError as err:
        code = str(err.response.get("Error", {}).get("Code", ""))
        if code not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
            raise
    return layout.s3_uri(bucket, layout.msa_cache_input_prefix(key.key))


def reuse_line(item: Mapping[str, Any] | None) -> str | None:
    """ "MSA reused from run X" for a runs-table item, or None when the search ran."""
    origin = (item or {}).get("msa_reused_from")
    return f"MSA reused from run {origin}" if origin else None
