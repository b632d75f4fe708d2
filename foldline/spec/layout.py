"""The S3 layout: one bucket, fixed prefixes (docs/output.md lists what each holds).

Every component builds keys through these functions; nothing else spells a prefix.
Outputs never go under ``inputs/``, so foldline's own writes cannot trigger a run.
"""

from __future__ import annotations

import hashlib
import posixpath

INPUTS = "inputs/"
REJECTED = "rejected/"
RUNS = "runs/"
MSA_CACHE = "msa-cache/"
COMPARISONS = "comparisons/"  # `foldline compare`: a table and a plot across runs
#: screening drops (Mode=screen): campaigns/<campaign id>/summary.json once its last run ends
CAMPAIGNS = "campaigns/"
CAMPAIGN_SUMMARY = "summary.json"
#: the genetic databases in AlphaFold 2.3's download layout, written by the setup job
#: (`foldline setup databases`); the stack's FSx for Lustre file system is linked to this
#: prefix at :data:`DATABASES_FSX_PATH`
DATABASES = "alphafold-databases/"
#: where the databases appear inside the file system (the template's FsxDatabasesPath
#: default; the training jobs mount /<mount name><this>)
DATABASES_FSX_PATH = "/" + DATABASES.rstrip("/")
#: the setup job's records: one per database fetched, one per preset made ready (last);
#: outside DATABASES, so the file system never shows them
DATABASES_SETUP = "databases-setup/"

FASTA_SUFFIXES = (".fasta", ".fa", ".faa", ".fas")
REASON_SUFFIX = ".reason.json"
REPORT_DIR = "report"
INPUT_DIR = "input"
MODEL_ARCHIVE = "model.tar.gz"
#: what the analysis writes under runs/<run_id>/report/ (and ``foldline analyze`` locally)
REPORT_PAGE = "report.html"
METRICS_FILE = "metrics.json"
#: what each step program leaves beside its outputs: what it ran, with what, and what it left
STEP_MANIFEST = "foldline-step.json"
#: the MSA step's FASTA, staged by the start function under msa-cache/<key>/input/: a
#: content-addressed input, so SageMaker's step cache can recognise a repeated search
MSA_QUERY_FILE = "query.fasta"
#: the MSA step's sequence-search results in AlphaFold 2.3's ``msas/`` layout (one folder
#: per chain for multimers) -> the rows AlphaFold keeps of each when it builds the MSA
#: features (its pipeline's uniref_max_hits, mgnify_max_hits; None: all). Template hits
#: (pdb_hits.*) and the multimer pairing search (uniprot_hits.sto) are not among them.
MSA_SEARCH_FILES: dict[str, int | None] = {
    "uniref90_hits.sto": 10_000,
    "mgnify_hits.sto": 501,
    "small_bfd_hits.sto": None,
    "bfd_uniref_hits.a3m": None,
}


#: set by ``foldline local`` in its functions' environment: the work folder (an absolute
#: path), so that notices point at files on this machine (a job's log, the downloaded
#: report) instead of the AWS console, and at no presigned link to a server that stops
LOCAL_WORKDIR_ENV = "FOLDLINE_LOCAL_WORKDIR"
LOCAL_JOBS_DIR = "jobs"  # <workdir>/jobs/<training job>/: SageMaker's /opt/ml layout
LOCAL_JOB_LOG = "training.log"  # the job's stdout and stderr (the local CloudWatch)
LOCAL_REPORTS_DIR = "reports"  # <workdir>/reports/<run_id>/: a run's report folder, fetched


def local_job_log(workdir: str, job_name: str) -> str:
    return posixpath.join(workdir, LOCAL_JOBS_DIR, job_name, LOCAL_JOB_LOG)


def local_report_page(workdir: str, run_id: str) -> str:
    return posixpath.join(workdir, LOCAL_REPORTS_DIR, run_id, "report.html")


def chain_letter(index: int) -> str:
    """AlphaFold multimer's chain ids, which name its ``msas/<chain>/`` folders:
    0 -> A, 25 -> Z, 26 -> AA, 27 -> BA, ..."""
    number, letters = index, []
    while number >= 0:
        letters.append(chr(number % 26 + ord("A")))
        number = number // 26 - 1
    return "".join(letters)


def has_fasta_suffix(key: str) -> bool:
    return key.lower().endswith(FASTA_SUFFIXES)


def is_input_key(key: str) -> bool:
    return key.startswith(INPUTS) and len(key) > len(INPUTS)


def file_name(key: str) -> str:
    """The last path element of a key (``inputs/a/b.fasta`` -> ``b.fasta``)."""
    return posixpath.basename(key)


def target_name(key: str) -> str:
    """The target's name: the file name without its FASTA suffix (``T1030.fasta`` -> ``T1030``)."""
    name = file_name(key)
    lowered = name.lower()
    for suffix in FASTA_SUFFIXES:
        if lowered.endswith(suffix):
            return name[: -len(suffix)]
    return name


MAX_KEY_BYTES = 1024  # S3's limit on a key's UTF-8 length


def rejected_key(input_key: str) -> str:
    """Where a rejected upload is kept: its path under ``inputs/`` moved under ``rejected/``.

    A key near S3's 1,024-byte limit would overflow once moved and given the reason
    suffix: such a name is shortened, keeping its end and a digest of the whole.
    """
    relative = input_key.removeprefix(INPUTS)
    key = REJECTED + relative
    budget = MAX_KEY_BYTES - len(REASON_SUFFIX.encode())
    if len(key.encode()) <= budget:
        return key
    digest = hashlib.sha256(input_key.encode()).hexdigest()[:16]
    tail = relative.encode()[-(budget - len(REJECTED) - len(digest) - 1) :].decode(
        "utf-8", "ignore"
    )
    return f"{REJECTED}{digest}-{tail}"


def reason_key(input_key: str) -> str:
    return rejected_key(input_key) + REASON_SUFFIX


def run_prefix(run_id: str) -> str:
    return f"{RUNS}{run_id}/"


def run_input_prefix(run_id: str) -> str:
    return f"{run_prefix(run_id)}{INPUT_DIR}/"


def run_input_key(run_id: str, fasta_file_name: str) -> str:
    return run_input_prefix(run_id) + fasta_file_name


def step_output_prefix(run_id: str, output_dir: str) -> str:
    """SageMaker's output path for a step; it writes ``<job name>/output/model.tar.gz`` below."""
    return f"{run_prefix(run_id)}{output_dir}/"


def run_id_of_key(key: str) -> str | None:
    """The run id in ``runs/<run_id>/...``, or None for a key outside ``runs/``."""
    if not key.startswith(RUNS):
        return None
    run_id, sep, _ = key[len(RUNS) :].partition("/")
    return run_id if run_id and sep else None


def report_prefix(run_id: str) -> str:
    return f"{run_prefix(run_id)}{REPORT_DIR}/"


def msa_cache_prefix(cache_key: str) -> str:
    return f"{MSA_CACHE}{cache_key}/"


def msa_cache_input_prefix(cache_key: str) -> str:
    """Where the MSA step's FASTA (:data:`MSA_QUERY_FILE`) is staged for ``cache_key``."""
    return f"{msa_cache_prefix(cache_key)}{INPUT_DIR}/"


def comparison_prefix(comparison_id: str) -> str:
    return f"{COMPARISONS}{comparison_id}/"


def campaign_summary_key(campaign_id: str) -> str:
    """A screening campaign's summary: every record, its run, status and headline numbers."""
    return f"{CAMPAIGNS}{campaign_id}/{CAMPAIGN_SUMMARY}"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``; raises ValueError on anything else."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI without a bucket: {uri!r}")
    return bucket, key


def database_record_key(database: str) -> str:
    """The setup job's record of one database it fetched (``databases-setup/bfd.json``)."""
    return f"{DATABASES_SETUP}{database}.json"


def databases_ready_key(db_preset: str) -> str:
    """The record that a preset's databases are complete (``databases-setup/ready-full_dbs.json``)."""
    return f"{DATABASES_SETUP}ready-{db_preset}.json"
