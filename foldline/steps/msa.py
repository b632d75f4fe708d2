"""The MSA step (CPU): genetic search and template search, AlphaFold's ``msas/`` layout.

Engines (``FOLDLINE_MSA_ENGINE``):

``alphafold``
    AlphaFold 2.3's own data pipeline, no model, through the runner shipped in the
    AlphaFold image (``FOLDLINE_AF_DATA_PIPELINE``, default
    ``/opt/foldline/run_data_pipeline.py``). Writes ``msas/``, ``features.pkl``,
    ``timings.json`` into SM_MODEL_DIR.
``pyhmmer``
    :func:`foldline.steps.engines.msa_search.run_msa_search`: jackhmmer/hmmsearch with
    AlphaFold's settings over FASTA databases, for machines without AlphaFold.
``mmseqs2``
    :func:`foldline.steps.engines.mmseqs_search.run_mmseqs_search`: MMseqs2 with
    ColabFold's search protocol (minutes where jackhmmer takes hours), the same
    ``msas/`` layout, templates from hmmsearch as with ``pyhmmer``.
``auto`` (default)
    ``alphafold`` where its package and the runner are installed, else ``pyhmmer``.

Reads: channels ``fasta`` (the query the start function staged under
``msa-cache/<key>/input/``) and ``databases`` (``msa`` too, only as a cache hit);
hyperparameters FastaFileName (always ``query.fasta``), DbPreset, MaxTemplateDate,
ModelPreset and MsaCacheS3URI — nothing run-specific, so that SageMaker's step cache
can reuse a finished MSA step for a later run (see :mod:`foldline.steps.msa_cache`).

MSA cache (:mod:`foldline.steps.msa_cache`): with MsaCacheS3URI set, the step recomputes the
cache key from what it really runs (its engine and tool versions included). When the
key matches the location's, a complete entry there is copied into SM_MODEL_DIR (the
search does not run; every file's sha256 is checked), and after a search that found no
entry the outputs are stored there for the next run. A damaged or mismatched entry
means "search", never a failed step. The step reaches S3 with the training job's role
(its boto3 is in the image); nothing else in the pipeline changes, so both inference
steps receive the same archive either way.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import shutil
import time
from pathlib import Path

from foldline.spec import layout
from foldline.spec.layout import run_id_of_key, split_s3_uri
from foldline.spec.parameters import CHANNEL_DATABASES, CHANNEL_MSA, MSA_CACHE_S3_URI, MSA_STEP
from foldline.steps import msa_cache, msa_lease
from foldline.steps.common import (
    StepInputs,
    engine_python,
    fail_with,
    read_inputs,
    recording,
    run_step,
)
from foldline.steps.contract import TrainingEnv, engine_environment, run_tool
from foldline.steps.databases import database_args, database_flags, require_databases
from foldline.steps.manifest import StepManifest, relative_outputs

ENGINE_ENV = msa_cache.ENGINE_ENV
RUNNER_ENV = msa_cache.RUNNER_ENV
DEFAULT_RUNNER = msa_cache.DEFAULT_RUNNER
ENGINE_CHOICES = msa_cache.ENGINE_CHOICES


def runner_path(env: TrainingEnv) -> Path:
    return Path(env.env.get(RUNNER_ENV) or DEFAULT_RUNNER)


def choose_engine(env: TrainingEnv) -> str:
    """FOLDLINE_MSA_ENGINE, resolved as the start function resolves it for the cache key."""
    return msa_cache.resolve_engine(env.env)


def alphafold_command(env: TrainingEnv, inputs: StepInputs, db_root: Path) -> list[str]:
    """The exact argv of AlphaFold's data pipeline for this run."""
    return [
        engine_python(env),
        str(runner_path(env)),
        f"--fasta_path={inputs.fasta_path}",
        f"--output_dir={env.model_dir}",
        f"--model_preset={inputs.model_preset}",
        f"--db_preset={inputs.db_preset}",
        f"--max_template_date={inputs.max_template_date}",
        f"--n_cpu={env.num_cpus}",
        *database_args(db_root, inputs.db_preset, inputs.model_preset),
    ]


def _program(engine: str):
    """(search function, its dotted name) of a foldline search engine (not AlphaFold's)."""
    if engine == "mmseqs2":
        from foldline.steps.engines.mmseqs_search import run_mmseqs_search

        return run_mmseqs_search, "foldline.steps.engines.mmseqs_search.run_mmseqs_search"
    from foldline.steps.engines.msa_search import run_msa_search

    return run_msa_search, "foldline.steps.engines.msa_search.run_msa_search"


def _version(engine: str, env: TrainingEnv) -> str:
    if engine == "alphafold":
        return env.env.get("ALPHAFOLD_VERSION", "unknown")
    if engine == "mmseqs2":
        return msa_cache.mmseqs_version() or "unknown"
    try:
        return importlib.metadata.version(engine)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def searched_databases(engine: str, db_preset: str, model_preset: str) -> list[str]:
    """The databases ``engine`` searches for these presets, by name, templates last.

    AlphaFold's data pipeline: those of its database flags. The FASTA engines (pyhmmer,
    MMseqs2) search their own plan (foldline.steps.engines.msa_search.databases_for: the
    small BFD stands in for full_dbs' BFD + UniRef30) and find templates in pdb_seqres.
    """
    if engine == "alphafold":
        return [
            flag.removesuffix("_database_path")
            for flag, _ in database_flags(db_preset, model_preset)
            if flag.endswith("_database_path")
        ]
    from foldline.steps.engines.msa_search import PDB_SEQRES, databases_for

    names = [db.name for db in databases_for(db_preset, model_preset)]
    return [*dict.fromkeys(names), PDB_SEQRES.split("/", 1)[0]]


def msa_source(
    engine: str, version: str, inputs: StepInputs, *, reused_from: str | None = None
) -> dict[str, object]:
    """The manifest's ``msa_source``: the engine that searched, and the databases it
    searched for the run's presets (by name: ``uniref90``, ``small_bfd``, ``pdb70`` …)."""
    names = searched_databases(engine, inputs.db_preset, inputs.model_preset)
    return {
        "engine": engine,
        "engine_version": version,
        "db_preset": inputs.db_preset,
        "databases": names,
        "reused_from": reused_from,
    }


def _outputs(model_dir: Path) -> dict[str, object]:
    msa_files = [p for p in (model_dir / "msas").rglob("*") if p.is_file()]
    outputs: dict[str, object] = {
        "msas": "msas",
        "msa_files": relative_outputs(model_dir, msa_files),
    }
    for name, file in (("features", "features.pkl"), ("timings", "timings.json")):
        if (model_dir / file).is_file():
            outputs[name] = file
    return outputs


def reuse_cached_msas(env: TrainingEnv, inputs: StepInputs) -> StepManifest | None:
    """Cache hook: an ``msa`` channel given to this step holds finished MSAs to reuse.

    The pipeline may hand the MSA step ``msa-cache/<key>/`` (key: sequences, DbPreset,
    MaxTemplateDate) as its ``msa`` channel; the search is then skipped and the cached
    ``msas/`` (and features.pkl, timings.json) are passed on unchanged.
    """
    channel = env.channel(CHANNEL_MSA, required=False)
    if channel is None or not (channel / "msas").is_dir():
        return None
    manifest = StepManifest(
        MSA_STEP.name, "cache", "-", inputs.parameters(), call=f"copy of {channel}"
    )
    for entry in channel.iterdir():
        if entry.is_dir():
            shutil.copytree(entry, env.model_dir / entry.name, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, env.model_dir / entry.name)
    previous = env.model_dir / layout.STEP_MANIFEST
    if previous.is_file():  # the cached run's own record becomes provenance
        made_by = json.loads(previous.read_text())
        manifest.notes.append(f"cached result made by: {made_by}")
        manifest.msa_source = made_by.get("msa_source")
    manifest.outputs = _outputs(env.model_dir)
    manifest.finish(0)
    manifest.write(env.model_dir)
    return manifest


#: The SageMaker API from inside the job's VPC: reachable only through an interface
#: endpoint (com.amazonaws.<region>.sagemaker.api) or a NAT gateway. Without either, a
#: default client would retry its connection for minutes; this one gives up in seconds.
SAGEMAKER_API_CONFIG = {
    "connect_timeout": 3,
    "read_timeout": 10,
    "retries": {"total_max_attempts": 1, "mode": "standard"},
}


def origin_run(env: TrainingEnv) -> str:
    """The run this job works for, to name in the cache entry ("MSA reused from run X").

    Not a hyperparameter: that would put the run id into SageMaker's step-cache key and
    make every run a miss. The job's output path (runs/<run_id>/msa/, not part of that
    key) says it; the job reads it from its own description. Falls back to the job name,
    at once, when the SageMaker API cannot be reached from the job's subnets.
    """
    job_name = env.env.get("TRAINING_JOB_NAME", "")
    if not job_name:
        return "unknown"
    import boto3
    from botocore.config import Config

    try:
        client = boto3.client("sagemaker", config=Config(**SAGEMAKER_API_CONFIG))
        described = client.describe_training_job(TrainingJobName=job_name)
        _, key = split_s3_uri(described["OutputDataConfig"]["S3OutputPath"])
    except Exception:  # noqa: BLE001 - provenance only: the MSAs are stored either way
        return job_name
    return run_id_of_key(key) or job_name


class _CacheUse:
    """The MSA cache as this step sees it: where, which key, and any entry found."""

    def __init__(self, env: TrainingEnv, inputs: StepInputs, engine: str):
        self.notes: list[str] = []
        self.entry: msa_cache.CacheEntry | None = None
        self.usable = False
        self.lease: msa_lease.Lease | None = None  # held while this job searches
        self.lease_s = msa_lease.DEFAULT_LEASE_S
        uri = env.hp(MSA_CACHE_S3_URI.name, "").strip()
        if not uri:
            return
        self.bucket, _ = split_s3_uri(uri)
        given = msa_cache.key_of_uri(uri)
        self.key = msa_cache.cache_key(
            [c.sequence for c in inputs.chains],
            db_preset=inputs.db_preset,
            max_template_date=inputs.max_template_date,
            model_preset=inputs.model_preset,
            engine=engine,
        )
        if self.key.key != given:  # e.g. the start function assumed another MSA engine
            self.notes.append(
                f"MSA cache not used: {uri} is for other inputs or tools than "
                f"this step's ({engine}, key {self.key.key[:12]}…)"
            )
            return
        import boto3  # only where a cache is configured

        self.s3 = boto3.client("s3")
        self.usable = True
        self.origin_run = origin_run(env)
        try:
            self.entry = msa_cache.lookup(self.s3, self.bucket, self.key.key)
        except Exception as err:  # noqa: BLE001 - an unreadable cache means "search"
            self.notes.append(f"MSA cache lookup failed ({type(err).__name__}: {err}); searching")

    def copy_hit(self, env: TrainingEnv, inputs: StepInputs) -> StepManifest | None:
        """The cached MSAs in SM_MODEL_DIR and a manifest saying so, or None to search."""
        if self.entry is None:
            return None
        manifest = StepManifest(
            MSA_STEP.name,
            "cache",
            self.entry.engine or "-",
            inputs.parameters(),
            call="foldline.steps.msa_cache.fetch",
        )
        try:
            msa_cache.fetch(self.s3, self.bucket, self.entry, env.model_dir)
        except msa_cache.CacheDamaged as damaged:
            self.notes.append(
                f"MSA cache entry {self.key.key[:12]}… unusable ({damaged}); searching"
            )
            for name in ("msas", "features.pkl", "timings.json"):  # leave no partial copy
                path = env.model_dir / name
                shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            return None
        # same key, same tools (the toolchain is part of it): this install's version is theirs
        manifest.msa_source = msa_source(
            self.entry.engine or "unknown",
            _version(self.entry.engine, env) if self.entry.engine else "unknown",
            inputs,
            reused_from=self.entry.origin_run,
        )
        manifest.notes = [
            *self.notes,
            self.entry.reuse_note(),
            (
                f"MSAs made by {self.entry.engine} in run {self.entry.origin_run} "
                f"on {self.entry.created_at}"
            ),
        ]
        manifest.outputs = {
            **_outputs(env.model_dir),
            "msa_cache": {"key": self.key.key, "hit": True, "reused_from": self.entry.origin_run},
        }
        manifest.finish(0)
        manifest.write(env.model_dir)
        return manifest

    # -- one search per key at a time (foldline.steps.msa_lease) ---------------------------

    def await_turn(self, env: TrainingEnv, inputs: StepInputs) -> StepManifest | None:
        """Wait while another job searches the same key, then copy its entry (a manifest)
        or, once its lease is released or lapsed without one, take the lease (None: search).

        Without a usable cache, or where S3 refuses the lease, returns None at once.
        """
        if not self.usable:
            return None
        lease_s = float(env.env.get(msa_lease.LEASE_S_ENV) or msa_lease.DEFAULT_LEASE_S)
        poll_s = float(env.env.get(msa_lease.POLL_S_ENV) or msa_lease.DEFAULT_POLL_S)
        self.lease_s = lease_s
        started = time.monotonic()
        waited_for: str | None = None
        while True:
            try:
                self.lease = msa_lease.claim(
                    self.s3, self.bucket, self.key.key, self.origin_run, lease_s
                )
                if self.lease is not None:
                    # a holder may have stored its entry and let go since the last look
                    self.entry = msa_cache.lookup(self.s3, self.bucket, self.key.key)
                    if self.entry is None:
                        if waited_for:
                            self.notes.append(
                                f"waited {time.monotonic() - started:.0f} s for {waited_for}'s "
                                "search of the same chains, which left no MSAs: searching"
                            )
                        return None
                else:
                    holder = msa_lease.read_lease(self.s3, self.bucket, self.key.key)
                    waited_for = waited_for or (holder.holder if holder else "another job")
                    time.sleep(poll_s)
                    self.entry = msa_cache.lookup(self.s3, self.bucket, self.key.key)
            except Exception as err:  # noqa: BLE001 - the lease only saves work: search
                self.notes.append(f"MSA search lease unusable ({type(err).__name__}: {err})")
                return None
            if self.entry is not None:
                self.notes.append(
                    f"waited {time.monotonic() - started:.0f} s for the search of the same "
                    f"chains in flight in {waited_for or 'another job'}"
                )
                hit = self.copy_hit(env, inputs)
                if hit is not None:
                    self.release_lease()  # held only where it was taken just now
                    return hit
                self.entry = None  # damaged: take the lease (or keep it) and search
                if self.lease is not None:
                    return None

    def heartbeat(self) -> msa_lease.Heartbeat | contextlib.nullcontext:
        """Keeps the held lease alive while the search runs (nothing to do without one)."""
        lease = self.lease
        if lease is None:
            return contextlib.nullcontext()
        return msa_lease.Heartbeat(
            lambda: msa_lease.renew(self.s3, self.bucket, self.key.key, lease, self.lease_s),
            self.lease_s / 3,
        )

    def release_lease(self) -> None:
        """After the entry is stored (or the search failed): the waiters look again."""
        lease = self.lease
        if lease is None:
            return
        try:
            msa_lease.release(self.s3, self.bucket, self.key.key, lease)
        except Exception as err:  # noqa: BLE001 - it lapses by itself within one lease period
            print(f"MSA search lease not released ({type(err).__name__}: {err})", flush=True)
        self.lease = None

    def store(self, env: TrainingEnv, manifest: StepManifest, engine: str) -> None:
        """Keep a finished search for the next run; a failure here only leaves a note."""
        if not self.usable:
            return
        try:
            msa_cache.store(
                self.s3,
                self.bucket,
                self.key,
                env.model_dir,
                origin_run=self.origin_run,
                engine=engine,
            )
        except Exception as err:  # noqa: BLE001 - the MSAs are fine; only reuse is lost
            manifest.notes.append(f"MSA cache store failed: {type(err).__name__}: {err}")
            return
        manifest.notes.append(f"MSAs stored in the MSA cache (key {self.key.key[:12]}…)")
        manifest.outputs["msa_cache"] = {"key": self.key.key, "hit": False, "stored": True}


def run(env: TrainingEnv) -> StepManifest:
    inputs = read_inputs(env)
    env.model_dir.mkdir(parents=True, exist_ok=True)
    cached = reuse_cached_msas(env, inputs)
    if cached is not None:
        return cached
    engine = choose_engine(env)
    cache = _CacheUse(env, inputs, engine)
    hit = cache.copy_hit(env, inputs) or cache.await_turn(env, inputs)
    if hit is not None:
        return hit
    try:
        with cache.heartbeat():
            return _search(env, inputs, engine, cache)
    finally:  # stored or failed: either way the jobs waiting on this search look again
        cache.release_lease()


def _search(env: TrainingEnv, inputs: StepInputs, engine: str, cache: _CacheUse) -> StepManifest:
    db_root = env.channel(CHANNEL_DATABASES)
    assert db_root is not None
    manifest = StepManifest(MSA_STEP.name, engine, _version(engine, env), inputs.parameters())
    manifest.msa_source = msa_source(engine, manifest.engine_version, inputs)
    manifest.notes.extend(cache.notes)
    if not inputs.max_template_date_given:
        manifest.notes.append(
            f"MaxTemplateDate was empty: used the run day {inputs.max_template_date}"
        )
    with recording(manifest, env):
        if engine == "alphafold":
            require_databases(db_root, inputs.db_preset, inputs.model_preset)
            manifest.command = alphafold_command(env, inputs, db_root)
            manifest.write(env.model_dir)
            result = run_tool(manifest.command, env=engine_environment(env.env))
            if not result.ok:
                fail_with(manifest, env, result.failure_text(), result.returncode)
        else:
            search, manifest.call = _program(engine)
            manifest.write(env.model_dir)
            started = time.monotonic()
            try:
                timings = search(
                    inputs.chains,
                    db_root,
                    env.model_dir,
                    db_preset=inputs.db_preset,
                    model_preset=inputs.model_preset,
                    max_template_date=inputs.max_template_date,
                    cpus=env.num_cpus,
                )
            except Exception as err:  # noqa: BLE001 - any search error fails the step, with its reason
                fail_with(manifest, env, f"{engine} search failed: {type(err).__name__}: {err}", 1)
            timings = dict(timings or {})
            timings.setdefault("features", time.monotonic() - started)
            timings_path = env.model_dir / "timings.json"
            if not timings_path.is_file():
                timings_path.write_text(json.dumps(timings, indent=4) + "\n")
        if not any((env.model_dir / "msas").rglob("*.*")):
            fail_with(manifest, env, f"{engine} finished but wrote no MSA files under msas/", 1)
    manifest.outputs = _outputs(env.model_dir)
    cache.store(env, manifest, engine)
    manifest.finish(0)
    manifest.write(env.model_dir)
    return manifest


def main() -> int:
    return run_step(MSA_STEP.name, run)


if __name__ == "__main__":
    raise SystemExit(main())
