"""The MSA step on pyhmmer: AlphaFold's searches over FASTA databases, no binaries.

What AlphaFold's data pipeline (v2.3, ``alphafold/data/pipeline.py``,
``pipeline_multimer.py``, ``tools/jackhmmer.py``, ``tools/hmmsearch.py``) runs, and what
this module runs instead:

- jackhmmer ``-N 1 -E 0.0001 --incE 0.0001 --F1 0.0005 --F2 0.00005 --F3 0.0000005``
  over uniref90, mgnify, small_bfd (reduced_dbs) and uniprot (multimer): the same search
  here (one iteration of jackhmmer is a search with the query's single-sequence profile),
  the same Stockholm (query first, then the included domains, all consensus columns),
  capped like AlphaFold: uniref90 10,000 rows, mgnify 501, uniprot 50,000.
- hmmsearch ``--F1 0.1 --F2 0.1 --F3 0.1 --incE 100 -E 100 --domE 100 --incdomE 100``
  with the profile ``hmmbuild --hand`` makes from the deduplicated uniref90 MSA, over
  pdb_seqres: the same here, written as ``pdb_hits.sto`` in hmmsearch's own ``-A``
  layout (hits only, no query row: AlphaFold parses it with ``skip_first=False``).
  Unlike AlphaFold, which drops late templates only when it builds features, hits whose
  mmCIF release date is after ``max_template_date`` are left out here already.
- full_dbs runs HHblits over BFD + UniRef30; no HHblits databases exist in the local
  layout, so full_dbs searches small_bfd with jackhmmer and writes the result as
  ``bfd_uniref_hits.a3m`` (A3M, like HHblits' output). ``msa_search.json`` says so.

Speed: the searches of all databases share one pool of ``cpus`` threads, each database
streamed in chunks (pyhmmer splits threads across queries, not across one database;
chunks split one database across threads and bound memory); hits of a database's chunks
are merged, which sums Z so E-values are those of the whole database. The largest
database is fed first and each database's alignment is made on a worker as soon as its
last chunk is searched, while the others are still being searched; no core waits between
databases, as it does when jackhmmer runs once per database.
The worker threads run with flush-to-zero/denormals-are-zero, as HMMER's programs do.
A chunk is a piece of the FASTA text cut at a record start; the worker that searches it
also parses it, inside pyhmmer's C loop (``Pipeline.search_hmm`` on a file), so no
Python object is made per database sequence and the main thread only cuts text (reading
a ``DigitalSequenceBlock`` in the main thread made one Python object per sequence and
competed with the workers for the cores). Chunks shrink as the work runs out, so that
the workers finish together.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyhmmer
from pyhmmer import easel, plan7

from foldline.spec.layout import chain_letter
from foldline.steps.engines import fpu, templates
from foldline.steps.engines.alignments import Alignment

#: AlphaFold's Jackhmmer defaults (n_iter 1, e_value 1e-4, filter_f1/f2/f3), plus
#: jackhmmer's own default --incdomE 0.001 (hmmsearch's, which pyhmmer uses, is 0.01)
JACKHMMER_OPTIONS = {
    "E": 0.0001,
    "incE": 0.0001,
    "incdomE": 0.001,
    "F1": 0.0005,
    "F2": 0.00005,
    "F3": 0.0000005,
}
JACKHMMER_FLAGS = "-N 1 -E 0.0001 --incE 0.0001 --F1 0.0005 --F2 0.00005 --F3 0.0000005"
#: AlphaFold's Hmmsearch default flags
HMMSEARCH_OPTIONS = {
    "F1": 0.1,
    "F2": 0.1,
    "F3": 0.1,
    "incE": 100,
    "E": 100,
    "domE": 100,
    "incdomE": 100,
}
HMMSEARCH_FLAGS = "--F1 0.1 --F2 0.1 --F3 0.1 --incE 100 -E 100 --domE 100 --incdomE 100"

#: most FASTA text per chunk handed to one worker (about 1M residues): large enough that
#: hand-over costs nothing; chunks get smaller (down to MIN_CHUNK_BYTES) when less than
#: a few chunks per worker are left, so that no worker finishes long before the others
CHUNK_BYTES = 1 << 20
MIN_CHUNK_BYTES = 64 << 10
#: chunk results kept before they are merged into one (bounds memory on huge databases)
MERGE_EVERY = 32


@dataclass(frozen=True)
class Database:
    name: str
    path: str  # inside db_dir, AlphaFold's download layout
    output: str  # file name in msas/
    max_rows: int | None  # AlphaFold's cap on the Stockholm it keeps (query included)


UNIREF90 = Database("uniref90", "uniref90/uniref90.fasta", "uniref90_hits.sto", 10_000)
MGNIFY = Database("mgnify", "mgnify/mgy_clusters_2022_05.fa", "mgnify_hits.sto", 501)
SMALL_BFD = Database(
    "small_bfd", "small_bfd/bfd-first_non_consensus_sequences.fasta", "small_bfd_hits.sto", None
)
#: full_dbs: HHblits' BFD+UniRef30 output name, filled from small_bfd (see module doc)
BFD_STAND_IN = Database(
    "small_bfd", "small_bfd/bfd-first_non_consensus_sequences.fasta", "bfd_uniref_hits.a3m", None
)
UNIPROT = Database("uniprot", "uniprot/uniprot.fasta", "uniprot_hits.sto", 50_000)
PDB_SEQRES = "pdb_seqres/pdb_seqres.txt"
TEMPLATE_HITS = "pdb_hits.sto"


def databases_for(db_preset: str, model_preset: str) -> tuple[Database, ...]:
    if db_preset not in ("reduced_dbs", "full_dbs"):
        raise ValueError(f"db_preset must be reduced_dbs or full_dbs, not {db_preset!r}")
    bfd = SMALL_BFD if db_preset == "reduced_dbs" else BFD_STAND_IN
    chosen = (UNIREF90, MGNIFY, bfd)
    return chosen + (UNIPROT,) if model_preset == "multimer" else chosen


def template_cutoff(max_template_date: str) -> dt.date:
    """The latest allowed template release date; empty means today (as the step runs)."""
    if not max_template_date:
        return dt.datetime.now(dt.UTC).date()
    return dt.date.fromisoformat(max_template_date)


class _FastaChunks:
    """A FASTA file cut into pieces of text at record starts (``>`` after a newline)."""

    def __init__(self, path: Path):
        self._handle = open(path, "rb")  # noqa: SIM115 - open while pieces are read; close() closes it
        self._rest = b""
        self.remaining = os.fstat(self._handle.fileno()).st_size  # bytes not yet handed out

    def read(self, size: int) -> bytes | None:
        """The next whole records, about ``size`` bytes (more if one record is longer);
        ``None`` at the end."""
        while True:
            data = self._handle.read(size)
            buffer = self._rest + data
            if not data:
                self._rest, self.remaining = b"", 0
                return buffer if buffer.strip() else None
            cut = buffer.rfind(b"\n>")
            if cut < 0:  # one record longer than size: keep reading
                self._rest = buffer
                continue
            self._rest = buffer[cut + 1 :]
            self.remaining -= cut + 1
            return buffer[: cut + 1]

    def close(self) -> None:
        self._handle.close()


class _BlockChunks:
    """Any other sequence file Easel reads (not plain FASTA text): digital blocks read here."""

    def __init__(self, path: Path, alphabet: easel.Alphabet):
        self._file = easel.SequenceFile(str(path), digital=True, alphabet=alphabet)
        self.remaining = os.path.getsize(path)  # an estimate: only steers chunk sizes

    def read(self, size: int) -> easel.DigitalSequenceBlock | None:
        block = self._file.read_block(residues=size)
        self.remaining = max(0, self.remaining - size)
        return block if block else None

    def close(self) -> None:
        self._file.close()


def _chunks_of(path: Path, alphabet: easel.Alphabet) -> _FastaChunks | _BlockChunks:
    if path.suffix != ".gz":
        with open(path, "rb") as handle:
            start = handle.read(4096).lstrip()
        if not start or start.startswith(b">"):
            return _FastaChunks(path)
    return _BlockChunks(path, alphabet)


@contextmanager
def _file_holding(data: bytes) -> Iterator[str]:
    """A path that Easel opens with its own C reader (no Python file object, so the
    search parses it without the GIL): an anonymous memory file where Linux has them."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        fd = os.memfd_create("foldline-chunk", os.MFD_CLOEXEC)
        try:
            with open(fd, "wb", closefd=False) as handle:
                handle.write(data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    handle, name = tempfile.mkstemp(prefix="foldline-chunk-", suffix=".fasta")
    try:
        with open(handle, "wb") as out:
            out.write(data)
        yield name
    finally:
        os.unlink(name)


class _Search:
    """Stream databases in chunks through a thread pool; merge each (query, db)'s hits."""

    def __init__(
        self,
        queries: dict[str, easel.DigitalSequence],
        cpus: int,
        *,
        flush_denormals: bool = True,
        chunk_bytes: int = CHUNK_BYTES,
    ):
        self.alphabet = easel.Alphabet.amino()
        self.cpus = max(1, cpus)
        self.flush_denormals = flush_denormals
        self.chunk_bytes = chunk_bytes
        background = plan7.Background(self.alphabet)
        builder = plan7.Builder(self.alphabet)  # jackhmmer's first round: p7_SingleBuilder
        self.queries = queries
        # calibration (p7_SingleBuilder simulates sequences) under FTZ/DAZ too, as in
        # jackhmmer: half the time, the same profile
        with fpu.flush_denormals(flush_denormals):
            self.hmms = {key: builder.build(seq, background)[0] for key, seq in queries.items()}
        # each query's own trace through its profile (jackhmmer's -A puts it first);
        # made here, in the calling thread, as the alignments are finished on workers
        aligner = plan7.TraceAligner()
        self.traces = {
            key: aligner.compute_traces(
                self.hmms[key], easel.DigitalSequenceBlock(self.alphabet, [seq])
            )[0]
            for key, seq in queries.items()
        }
        self._lock = threading.Lock()
        self._local = threading.local()
        self.finished: dict[str, float] = {}

    def _init_worker(self) -> None:
        if self.flush_denormals:
            fpu.enable()

    def _chunk_size(self, remaining: int) -> int:
        # guided scheduling: about a quarter of an equal share of what is left per worker
        share = remaining // (4 * self.cpus)
        return max(min(self.chunk_bytes, MIN_CHUNK_BYTES), min(self.chunk_bytes, share))

    def _search_chunk(self, hmms: dict[str, plan7.HMM], chunk, options: dict):
        # one pipeline per worker thread and option set, reused across chunks as each
        # of HMMER's worker threads reuses its own (its DP matrices and traces are
        # allocated once, not regrown per chunk); results do not depend on reuse, as
        # the domain definition reseeds its random generator for every sequence
        pipelines = self._local.__dict__.setdefault("pipelines", {})
        setting = tuple(sorted(options.items()))
        pipeline = pipelines.get(setting)
        if pipeline is None:
            pipeline = pipelines[setting] = plan7.Pipeline(self.alphabet, **options)
        if isinstance(chunk, easel.DigitalSequenceBlock):
            return self._search_targets(pipeline, hmms, chunk)
        with (
            _file_holding(chunk) as path,
            easel.SequenceFile(
                path, format="fasta", digital=True, alphabet=self.alphabet
            ) as targets,
        ):
            if len(hmms) > 1:  # parse once for several queries
                return self._search_targets(pipeline, hmms, targets.read_block())
            return self._search_targets(pipeline, hmms, targets)

    @staticmethod
    def _search_targets(pipeline: plan7.Pipeline, hmms: dict[str, plan7.HMM], targets):
        hits = {}
        for key, hmm in hmms.items():
            hits[key] = pipeline.search_hmm(hmm, targets)
            pipeline.clear()
        return hits

    def run(
        self,
        jobs: dict[str, tuple[Path, dict[str, plan7.HMM], dict]],
        finish: Callable[[str, dict[str, plan7.TopHits]], Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """``jobs``: name -> (FASTA path, query HMMs, pipeline options).

        Returns per job its hits per query key (or what ``finish(name, hits)`` makes of
        them), and each job's search wall time (from the start of all searches to its
        last chunk: the databases share the workers). ``finish`` runs on a worker as
        soon as a job's last chunk is searched, so that turning one database's hits
        into an alignment overlaps the other databases' searches instead of following
        them."""
        start = time.perf_counter()
        sources: dict[str, _FastaChunks | _BlockChunks] = {}
        parts: dict[str, list[dict[str, plan7.TopHits]]] = {name: [] for name in jobs}
        pending: dict[Future, str] = {}
        outstanding = {name: 0 for name in jobs}
        done_reading: set[str] = set()
        seconds: dict[str, float] = {}
        finishing: dict[str, Future] = {}
        in_flight_limit = 2 * self.cpus
        try:
            for name, (path, _, _) in jobs.items():
                sources[name] = _chunks_of(Path(path), self.alphabet)
            order = sorted(jobs, key=lambda name: -sources[name].remaining)
            with ThreadPoolExecutor(
                self.cpus, thread_name_prefix="foldline-hmmer", initializer=self._init_worker
            ) as pool:
                while len(done_reading) < len(jobs) or pending:
                    # fill the queue before waiting (one chunk per wait would keep a
                    # single worker busy); the largest database first, so that the
                    # alignments of the large ones are made while the workers still
                    # search the small ones, and the work left after the last chunk
                    # (finishing the last database) is the smallest
                    while len(done_reading) < len(jobs) and len(pending) < in_flight_limit:
                        name = next(n for n in order if n not in done_reading)
                        left = sum(s.remaining for s in sources.values())
                        chunk = sources[name].read(self._chunk_size(left))
                        if chunk is None:
                            done_reading.add(name)
                            if outstanding[name] == 0:
                                seconds[name] = time.perf_counter() - start
                                finishing[name] = pool.submit(
                                    self._complete, name, jobs[name], parts[name], finish
                                )
                            continue
                        _, hmms, options = jobs[name]
                        pending[pool.submit(self._search_chunk, hmms, chunk, options)] = name
                        outstanding[name] += 1
                    if not pending:
                        continue
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        name = pending.pop(future)
                        parts[name].append(future.result())
                        if len(parts[name]) >= MERGE_EVERY:
                            parts[name] = [_merge_parts(parts[name])]
                        outstanding[name] -= 1
                        if name in done_reading and outstanding[name] == 0:
                            seconds[name] = time.perf_counter() - start
                            finishing[name] = pool.submit(
                                self._complete, name, jobs[name], parts[name], finish
                            )
                results = {name: finishing[name].result() for name in jobs}
        finally:
            for source in sources.values():
                source.close()
        return results, seconds

    def _complete(
        self,
        name: str,
        job: tuple[Path, dict[str, plan7.HMM], dict],
        parts: list[dict[str, plan7.TopHits]],
        finish,
    ):
        """Merge a job's chunk hits (Z summed) and hand them to ``finish``."""
        _, hmms, options = job
        merged = {}
        for key in hmms:
            chunks = [p[key] for p in parts]
            if not chunks:  # empty database
                empty = easel.DigitalSequenceBlock(self.alphabet)
                chunks = [plan7.Pipeline(self.alphabet, **options).search_hmm(hmms[key], empty)]
            merged[key] = chunks[0].merge(*chunks[1:]) if len(chunks) > 1 else chunks[0]
        return merged if finish is None else finish(name, merged)

    def query_alignment(self, key: str, hits: plan7.TopHits, max_rows: int | None) -> Alignment:
        """jackhmmer's ``-A``: the query's own trace first, then the included domains."""
        query = self.queries[key]
        if not _any_included(hits):
            # no hit: jackhmmer's -A holds the query alone (one row, every column a
            # match state), and AlphaFold carries on with that single-sequence MSA;
            # pyhmmer's to_msa raises on zero included domains instead
            text = query.textize().sequence
            return Alignment([query.name], [text], [query.description], "x" * len(text))
        msa = hits.to_msa(
            self.alphabet, sequences=[query], traces=[self.traces[key]], all_consensus_cols=True
        )
        alignment = Alignment.from_msa(msa, first=(query.name, query.description))
        # the query's own row must not hold gaps in model columns; it never does when
        # the model is built from the query, but a wrong trace would corrupt every MSA
        if "-" in "".join(
            c for c, r in zip(alignment.rows[0], alignment.reference or "") if r == "x"
        ):
            raise RuntimeError(f"query {query.name} does not align to its own profile")
        return alignment.truncated(max_rows)


def _any_included(hits: plan7.TopHits) -> bool:
    return any(domain.included for hit in hits.included for domain in hit.domains)


def _merge_parts(parts: list[dict[str, plan7.TopHits]]) -> dict[str, plan7.TopHits]:
    """Merge chunk results per query; merged hits sum Z as one search would count it."""
    return {key: parts[0][key].merge(*(p[key] for p in parts[1:])) for key in parts[0]}


def _digital_query(
    name: str, description: str, sequence: str, alphabet: easel.Alphabet
) -> easel.DigitalSequence:
    # Bio.SeqIO's description repeats the id; the Stockholm #=GS DE line should not
    if description.split(None, 1)[:1] == [name]:
        description = description[len(name) :].strip()
    text = easel.TextSequence(name=name, description=description, sequence=sequence)
    return text.digitize(alphabet)


def _template_hmm(alignment: Alignment, alphabet: easel.Alphabet) -> plan7.HMM:
    """``hmmbuild --hand --amino`` on the deduplicated MSA, as AlphaFold's Hmmsearch."""
    msa_in = alignment.for_template_search()
    text = easel.TextMSA(
        name=msa_in.names[0].encode(),
        sequences=[
            easel.TextSequence(name=f"s{i}".encode(), sequence=row)
            for i, row in enumerate(msa_in.rows)
        ],
    )
    text.reference = msa_in.reference
    builder = plan7.Builder(alphabet, architecture="hand")
    hmm, _, _ = builder.build_msa(text.digitize(alphabet), plan7.Background(alphabet))
    return hmm


def run_msa_search(
    chains,
    db_dir: Path,
    out_dir: Path,
    *,
    db_preset: str,
    model_preset: str,
    max_template_date: str,
    cpus: int,
) -> dict:
    """Search the local databases for every chain; write ``out_dir/msas/``.

    Parameters
    ----------
    chains
        ``foldline.intake.fasta.Chain`` records (monomer presets take exactly one).
    db_dir
        Databases in AlphaFold's download layout (see module docstring).
    out_dir
        Where ``msas/`` and ``msa_search.json`` (what ran, hit counts) are written.
    db_preset, model_preset, max_template_date
        The pipeline's parameters; ``max_template_date`` "" means today.
    cpus
        Worker threads shared by all database searches.

    Returns
    -------
    dict
        Timings in seconds: one ``jackhmmer_<database>`` entry per database searched,
        ``hmmsearch_pdb_seqres``, ``write_msas`` and ``total``.
    """
    started = time.perf_counter()
    plan = SearchPlan.of(chains, Path(db_dir), db_preset=db_preset, model_preset=model_preset)
    alphabet = easel.Alphabet.amino()
    queries = {
        key: _digital_query(chain.id, chain.description, chain.sequence, alphabet)
        for key, chain in plan.unique.items()
    }
    search = _Search(queries, cpus)
    jobs = {
        db.name: (plan.db_dir / db.path, search.hmms, JACKHMMER_OPTIONS) for db in plan.databases
    }
    max_rows = {db.name: db.max_rows for db in plan.databases}
    by_database, seconds = search.run(
        jobs,
        finish=lambda name, hits: {
            key: search.query_alignment(key, found, max_rows[name]) for key, found in hits.items()
        },
    )
    timings = {f"jackhmmer_{name}": round(s, 3) for name, s in seconds.items()}
    alignments: dict[tuple[str, str], Alignment] = {
        (name, key): alignment
        for name, per_query in by_database.items()
        for key, alignment in per_query.items()
    }
    notes = {
        "engine": "pyhmmer",
        "engine_version": pyhmmer.__version__,
        "jackhmmer_flags": JACKHMMER_FLAGS,
        "substitutions": (
            [
                (
                    "full_dbs: no HHblits BFD/UniRef30 databases in the local layout; "
                    "bfd_uniref_hits.a3m is jackhmmer over small_bfd, written as A3M"
                )
            ]
            if db_preset == "full_dbs"
            else []
        ),
    }
    return write_msas(
        plan,
        alignments,
        Path(out_dir),
        max_template_date=max_template_date,
        cpus=search.cpus,
        notes=notes,
        timings=timings,
        started=started,
    )


@dataclass(frozen=True)
class SearchPlan:
    """What one MSA step searches: the chains, each distinct sequence once (AlphaFold
    multimer does the same), and the databases of the presets."""

    chains: tuple  # foldline.intake.fasta.Chain, in the input's order
    unique: dict  # query key ("q0", "q1", ...) -> the first chain with that sequence
    key_of: dict  # sequence -> its query key
    databases: tuple[Database, ...]
    db_dir: Path
    db_preset: str
    model_preset: str

    @property
    def multimer(self) -> bool:
        return self.model_preset == "multimer"

    @classmethod
    def of(cls, chains, db_dir: Path, *, db_preset: str, model_preset: str) -> SearchPlan:
        chains = tuple(chains)
        if not chains:
            raise ValueError("no chains to search")
        if model_preset != "multimer" and len(chains) != 1:
            raise ValueError(f"model preset {model_preset} takes one chain, got {len(chains)}")
        databases = databases_for(db_preset, model_preset)
        for path in [db_dir / db.path for db in databases] + [db_dir / PDB_SEQRES]:
            if not path.is_file():
                raise FileNotFoundError(
                    f"database file missing: {path} (AlphaFold's layout under {db_dir} is expected)"
                )
        key_of: dict[str, str] = {}
        unique: dict[str, Any] = {}
        for chain in chains:
            if chain.sequence not in key_of:
                key_of[chain.sequence] = f"q{len(key_of)}"
                unique[key_of[chain.sequence]] = chain
        return cls(chains, unique, key_of, databases, db_dir, db_preset, model_preset)


def write_msas(
    plan: SearchPlan,
    alignments: dict[tuple[str, str], Alignment],
    out_dir: Path,
    *,
    max_template_date: str,
    cpus: int,
    notes: dict,
    timings: dict[str, float],
    started: float,
) -> dict:
    """The template search and ``out_dir/msas/`` for one plan, whichever engine made the
    genetic alignments (``(database name, query key) -> Alignment``, query row first).

    Templates as AlphaFold finds them: hmmsearch (AlphaFold's flags) over pdb_seqres
    with the profile ``hmmbuild --hand`` makes from each query's uniref90 alignment;
    hits released after ``max_template_date`` are left out. Writes ``msa_search.json``
    (``notes`` plus what was written) and returns the timings, ``total`` included.
    """
    db_dir, chains, multimer = plan.db_dir, plan.chains, plan.multimer
    cutoff = template_cutoff(max_template_date)
    alphabet = easel.Alphabet.amino()
    queries = {
        key: _digital_query(chain.id, chain.description, chain.sequence, alphabet)
        for key, chain in plan.unique.items()
    }
    # template search: one profile per unique chain, from its uniref90 alignment
    t0 = time.perf_counter()
    template_hmms = {
        key: _template_hmm(alignments[(UNIREF90.name, key)], alphabet) for key in queries
    }
    template_search = _Search(queries, cpus)
    template_hits, _ = template_search.run(
        {"pdb_seqres": (db_dir / PDB_SEQRES, template_hmms, HMMSEARCH_OPTIONS)}
    )
    timings["hmmsearch_pdb_seqres"] = round(time.perf_counter() - t0, 3)

    t0 = time.perf_counter()
    msas = out_dir / "msas"
    if msas.exists():
        shutil.rmtree(msas)
    mmcif_dir = db_dir / "pdb_mmcif" / "mmcif_files"
    excluded: dict[str, list[str]] = {}
    pdb_hits: dict[str, Alignment] = {}
    for key in queries:
        found = template_hits["pdb_seqres"][key]
        if not _any_included(found):  # hmmsearch's -A: no file; AlphaFold: no templates
            pdb_hits[key] = Alignment([], [])
            excluded[key] = []
            continue
        pdb_hits[key] = Alignment.from_msa(found.to_msa(alphabet, all_consensus_cols=True))
        pdb_hits[key], excluded[key] = templates.drop_late_templates(
            pdb_hits[key], mmcif_dir, cutoff
        )
    written: dict[str, dict[str, int]] = {}
    for index, chain in enumerate(chains):
        key = plan.key_of[chain.sequence]
        folder = msas / chain_letter(index) if multimer else msas
        label = chain_letter(index) if multimer else chain.id
        written[label] = {}
        query = _digital_query(chain.id, chain.description, chain.sequence, alphabet)
        for db in plan.databases:
            alignment = alignments[(db.name, key)].with_first(query.name, query.description)
            alignment.write(folder / db.output)
            written[label][db.output] = len(alignment) - 1  # hits, not counting the query
        if len(pdb_hits[key]):
            pdb_hits[key].write(folder / TEMPLATE_HITS)
        else:  # hmmsearch writes no -A file without hits; AlphaFold reads an empty string
            (folder / TEMPLATE_HITS).parent.mkdir(parents=True, exist_ok=True)
            (folder / TEMPLATE_HITS).write_text("")
        written[label][TEMPLATE_HITS] = len(pdb_hits[key])
    timings["write_msas"] = round(time.perf_counter() - t0, 3)
    timings["total"] = round(time.perf_counter() - started, 3)

    record = {
        **notes,
        "hmmsearch_flags": HMMSEARCH_FLAGS,
        "template_profile": "hmmbuild --hand on the deduplicated uniref90 MSA",
        "db_preset": plan.db_preset,
        "model_preset": plan.model_preset,
        "databases": {db.output: db.path for db in plan.databases} | {TEMPLATE_HITS: PDB_SEQRES},
        "max_template_date": cutoff.isoformat(),
        "templates_after_cutoff": {
            chain_letter(i) if multimer else c.id: excluded[plan.key_of[c.sequence]]
            for i, c in enumerate(chains)
        },
        "hits": written,
        "cpus": cpus,
        "flush_to_zero": fpu.supported(),
        "timings": timings,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "msa_search.json").write_text(json.dumps(record, indent=2) + "\n")
    return timings


def jackhmmer_to_stockholm(
    name: str,
    sequence: str,
    fasta: Path,
    out: Path,
    cpus: int,
    *,
    flush_denormals: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> int:
    """What ``jackhmmer -A out <AlphaFold's flags> --cpu N`` does for one query and one
    database, through this module's code path; returns the number of rows written."""
    return jackhmmer_to_stockholms(
        name,
        sequence,
        {Path(fasta): Path(out)},
        cpus,
        flush_denormals=flush_denormals,
        chunk_bytes=chunk_bytes,
    )[Path(out)]


def jackhmmer_to_stockholms(
    name: str,
    sequence: str,
    outputs: dict[Path, Path],
    cpus: int,
    *,
    flush_denormals: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> dict[Path, int]:
    """:func:`jackhmmer_to_stockholm` for several databases (FASTA -> Stockholm path),
    searched at once as :func:`run_msa_search` does; returns rows written per output."""
    alphabet = easel.Alphabet.amino()
    search = _Search(
        {name: _digital_query(name, "", sequence, alphabet)},
        cpus,
        flush_denormals=flush_denormals,
        chunk_bytes=chunk_bytes,
    )
    jobs = {str(fasta): (Path(fasta), search.hmms, JACKHMMER_OPTIONS) for fasta in outputs}
    targets = {str(fasta): Path(out) for fasta, out in outputs.items()}

    def write(job: str, hits: dict[str, plan7.TopHits]) -> int:
        alignment = search.query_alignment(name, hits[name], None)
        alignment.write(targets[job])
        return len(alignment)

    rows, _ = search.run(jobs, finish=write)
    return {targets[job]: count for job, count in rows.items()}


def search_sequences(
    sequences: Sequence[tuple[str, str]],
    fasta: Path,
    cpus: int,
    *,
    flush_denormals: bool = True,
    chunk_bytes: int = CHUNK_BYTES,
) -> dict[str, plan7.TopHits]:
    """One jackhmmer round (AlphaFold's flags) of each (name, sequence) over one FASTA.

    The benchmark's entry point: the same code path as :func:`run_msa_search`.
    """
    alphabet = easel.Alphabet.amino()
    queries = {name: _digital_query(name, "", seq, alphabet) for name, seq in sequences}
    search = _Search(queries, cpus, flush_denormals=flush_denormals, chunk_bytes=chunk_bytes)
    hits, _ = search.run({"db": (Path(fasta), search.hmms, JACKHMMER_OPTIONS)})
    return hits["db"]
