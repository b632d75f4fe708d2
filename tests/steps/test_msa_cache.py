"""foldline.steps.msa_cache: what the key depends on, and store/lookup/fetch under moto."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from foldline.spec import layout
from foldline.steps import msa_cache

REPO = Path(__file__).resolve().parents[2]
SEQ = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWUAXXXXXXXXX"
BUCKET = "cache-bucket"


def key(sequences=(SEQ,), **overrides):
    args = {
        "db_preset": "full_dbs",
        "max_template_date": "2024-01-01",
        "model_preset": "monomer",
        "engine": "pyhmmer",
    }
    args.update(overrides)
    return msa_cache.cache_key(list(sequences), **args).key


def test_the_key_ignores_case_white_space_headers_and_file_names():
    # cache_key sees sequences only: nothing of the file (name, headers) reaches it
    assert key([SEQ.lower()]) == key([SEQ[:50] + "\n  " + SEQ[50:]]) == key()


def test_the_key_changes_with_each_fact_it_hashes():
    base = key()
    assert key(max_template_date="2023-01-01") != base
    assert key(db_preset="reduced_dbs") != base
    assert key(engine="alphafold") != base
    assert key([SEQ[:-1]]) != base
    assert key([SEQ, SEQ[:100]], model_preset="multimer") != key(
        [SEQ[:100], SEQ], model_preset="multimer"
    )  # chain order is the layout's order


def test_monomer_presets_share_a_key_and_multimer_does_not():
    assert (
        key(model_preset="monomer")
        == key(model_preset="monomer_ptm")
        == key(model_preset="monomer_casp14")
    )
    assert key(model_preset="multimer") != key(model_preset="monomer")


def test_tool_versions_are_in_the_key(monkeypatch):
    base = key()
    monkeypatch.setattr(msa_cache, "LOCAL_MSA_PROGRAM_REVISION", "999")
    assert key() != base


def test_alphafold_toolchain_matches_the_msa_images_pins():
    folder = REPO / "containers" / "alphafold"
    args = dict(
        re.findall(r"^ARG (\w+)=(\S+)$", (folder / "Dockerfile").read_text(), flags=re.MULTILINE)
    )
    tools = msa_cache.ALPHAFOLD_TOOLS
    for tool, arg in (
        ("hh-suite", "HHSUITE_VERSION"),
        ("hmmer", "HMMER_VERSION"),
        ("kalign", "KALIGN_VERSION"),
    ):
        assert tools[tool] == f"{args[arg]} (debian)"
    pinned = re.search(
        r"^alphafold-colabfold==(\S+)$",
        (folder / "requirements-data.txt").read_text(),
        flags=re.MULTILINE,
    )
    assert tools["alphafold"] == f"alphafold-colabfold {pinned[1]}"


def test_mmseqs_pin_is_the_msa_images():
    dockerfile = (REPO / "containers" / "alphafold" / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, flags=re.MULTILINE))
    assert args["MMSEQS2_VERSION"] == msa_cache.MMSEQS_PINNED


def test_mmseqs_toolchain_without_a_binary_is_the_pin(monkeypatch):
    """The start function has no mmseqs: its key names the image's version."""
    monkeypatch.setenv(msa_cache.MMSEQS_BINARY_ENV, "")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert msa_cache.toolchain("mmseqs2")["mmseqs2"] == msa_cache.MMSEQS_PINNED


def test_pinned_pyhmmer_is_the_installed_one():
    import importlib.metadata

    pyproject = (REPO / "pyproject.toml").read_text()
    assert f'"pyhmmer=={msa_cache.PYHMMER_PINNED}"' in pyproject
    assert msa_cache.toolchain("pyhmmer")["pyhmmer"] == importlib.metadata.version("pyhmmer")


def test_engine_resolution(tmp_path):
    assert msa_cache.resolve_engine({"FOLDLINE_MSA_ENGINE": "alphafold"}) == "alphafold"
    assert msa_cache.resolve_engine({"FOLDLINE_MSA_ENGINE": "PyHMMER"}) == "pyhmmer"
    # auto without AlphaFold's runner here: pyhmmer
    assert (
        msa_cache.resolve_engine({"FOLDLINE_AF_DATA_PIPELINE": str(tmp_path / "no")}) == "pyhmmer"
    )
    with pytest.raises(ValueError, match="FOLDLINE_MSA_ENGINE"):
        msa_cache.resolve_engine({"FOLDLINE_MSA_ENGINE": "hhblits"})


def test_uri_round_trip_and_bad_locations():
    k = key()
    uri = msa_cache.cache_uri(BUCKET, k)
    assert uri == f"s3://{BUCKET}/msa-cache/{k}/"
    assert msa_cache.key_of_uri(uri) == k
    for bad in (
        f"s3://{BUCKET}/runs/{k}/",
        f"s3://{BUCKET}/msa-cache/",
        f"s3://{BUCKET}/msa-cache/a/b/",
    ):
        with pytest.raises(ValueError):
            msa_cache.key_of_uri(bad)


def _step_output(root: Path) -> Path:
    (root / "msas").mkdir(parents=True)
    (root / "msas" / "uniref90_hits.sto").write_bytes(b"# STOCKHOLM 1.0\nq  MKT\n//\n")
    (root / "msas" / "pdb_hits.sto").write_bytes(b"# STOCKHOLM 1.0\n//\n")
    (root / "timings.json").write_text('{"features": 1.0}')
    (root / "foldline-step.json").write_text('{"engine": "pyhmmer"}')  # not cached
    return root


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_store_then_lookup_and_fetch_give_the_same_bytes(s3, tmp_path):
    ck = msa_cache.cache_key(
        [SEQ],
        db_preset="full_dbs",
        max_template_date="2024-01-01",
        model_preset="monomer",
        engine="pyhmmer",
    )
    assert msa_cache.lookup(s3, BUCKET, ck.key) is None
    source = _step_output(tmp_path / "made")
    msa_cache.store(s3, BUCKET, ck, source, origin_run="run-1", engine="pyhmmer")

    entry = msa_cache.lookup(s3, BUCKET, ck.key)
    assert entry is not None and entry.origin_run == "run-1" and entry.engine == "pyhmmer"
    assert set(entry.files) == {"msas/uniref90_hits.sto", "msas/pdb_hits.sto", "timings.json"}
    assert entry.facts["sequences"] == [SEQ]
    dest = tmp_path / "copy"
    msa_cache.fetch(s3, BUCKET, entry, dest)
    for name in entry.files:
        assert (dest / name).read_bytes() == (source / name).read_bytes()
    assert not (dest / "foldline-step.json").exists()
    assert entry.reuse_note().startswith("MSA reused from run run-1")


def test_a_changed_file_is_refused(s3, tmp_path):
    ck = msa_cache.cache_key(
        [SEQ],
        db_preset="full_dbs",
        max_template_date="2024-01-01",
        model_preset="monomer",
        engine="pyhmmer",
    )
    entry = msa_cache.store(
        s3, BUCKET, ck, _step_output(tmp_path / "made"), origin_run="run-1", engine="pyhmmer"
    )
    s3.put_object(Bucket=BUCKET, Key=entry.files_prefix + "msas/pdb_hits.sto", Body=b"tampered")
    with pytest.raises(msa_cache.CacheDamaged, match="pdb_hits.sto"):
        msa_cache.fetch(s3, BUCKET, entry, tmp_path / "copy")


def test_a_manifest_without_its_files_is_refused_and_a_damaged_one_is_a_miss(s3, tmp_path):
    ck = msa_cache.cache_key(
        [SEQ],
        db_preset="full_dbs",
        max_template_date="2024-01-01",
        model_preset="monomer",
        engine="pyhmmer",
    )
    entry = msa_cache.store(
        s3, BUCKET, ck, _step_output(tmp_path / "made"), origin_run="run-1", engine="pyhmmer"
    )
    s3.delete_object(Bucket=BUCKET, Key=entry.files_prefix + "timings.json")
    with pytest.raises(msa_cache.CacheDamaged, match="timings.json"):
        msa_cache.fetch(s3, BUCKET, entry, tmp_path / "copy")
    s3.put_object(Bucket=BUCKET, Key=layout.msa_cache_prefix(ck.key) + "manifest.json", Body=b"{")
    assert msa_cache.lookup(s3, BUCKET, ck.key) is None


def test_racing_stores_never_mix_files(s3, tmp_path):
    ck = msa_cache.cache_key(
        [SEQ],
        db_preset="full_dbs",
        max_template_date="2024-01-01",
        model_preset="monomer",
        engine="pyhmmer",
    )
    first = _step_output(tmp_path / "one")
    second = _step_output(tmp_path / "two")
    (second / "msas" / "pdb_hits.sto").write_bytes(b"# STOCKHOLM 1.0\nother\n//\n")
    msa_cache.store(s3, BUCKET, ck, first, origin_run="run-1", engine="pyhmmer")
    msa_cache.store(s3, BUCKET, ck, second, origin_run="run-2", engine="pyhmmer")
    entry = msa_cache.lookup(s3, BUCKET, ck.key)
    assert entry.origin_run == "run-2"
    msa_cache.fetch(s3, BUCKET, entry, tmp_path / "copy")  # digests all match run-2's set
    assert (
        tmp_path / "copy" / "msas" / "pdb_hits.sto"
    ).read_bytes() == b"# STOCKHOLM 1.0\nother\n//\n"


def test_a_store_with_no_msas_is_refused(s3, tmp_path):
    ck = msa_cache.cache_key(
        [SEQ],
        db_preset="full_dbs",
        max_template_date="2024-01-01",
        model_preset="monomer",
        engine="pyhmmer",
    )
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "timings.json").write_text("{}")
    with pytest.raises(ValueError, match="no msas/"):
        msa_cache.store(s3, BUCKET, ck, tmp_path / "empty", origin_run="run-1", engine="pyhmmer")
    assert msa_cache.lookup(s3, BUCKET, ck.key) is None


def test_reuse_line():
    assert msa_cache.reuse_line({"msa_reused_from": "t-1"}) == "MSA reused from run t-1"
    assert msa_cache.reuse_line({}) is None and msa_cache.reuse_line(None) is None
    assert json.dumps(msa_cache.toolchain("alphafold"))  # plain JSON, for the manifest


def test_a_miss_answered_403_is_still_a_miss_and_a_real_denial_is_raised(s3, tmp_path):
    """S3 answers 403 for a missing key to a role whose ListBucket is prefix-scoped."""
    from botocore.exceptions import ClientError

    ck = msa_cache.cache_key(
        [SEQ],
        db_preset="full_dbs",
        max_template_date="2024-01-01",
        model_preset="monomer",
        engine="pyhmmer",
    )

    def as_s3_answers_such_a_role(params, **_):
        exists = s3.list_objects_v2(Bucket=BUCKET, Prefix=params["Key"]).get("KeyCount", 0)
        if not exists or deny_all:
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "GetObject"
            )

    deny_all = False
    s3.meta.events.register("before-parameter-build.s3.GetObject", as_s3_answers_such_a_role)
    assert msa_cache.lookup(s3, BUCKET, ck.key) is None
    msa_cache.store(
        s3, BUCKET, ck, _step_output(tmp_path / "made"), origin_run="run-1", engine="pyhmmer"
    )
    assert msa_cache.lookup(s3, BUCKET, ck.key).origin_run == "run-1"
    deny_all = True  # the manifest is there and still refused: a real permission problem
    with pytest.raises(ClientError, match="AccessDenied"):
        msa_cache.lookup(s3, BUCKET, ck.key)
