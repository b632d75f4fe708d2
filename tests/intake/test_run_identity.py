from __future__ import annotations

import re

from foldline.intake.run_identity import is_valid_run_id, run_id_for, upload_version

DISPLAY_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,81}$")


def test_the_same_object_version_always_maps_to_the_same_run():
    a = run_id_for("bucket", "inputs/T1030.fasta", "v1")
    assert a == run_id_for("bucket", "inputs/T1030.fasta", "v1")
    assert a.startswith("T1030-")


def test_bucket_key_and_version_each_change_the_run():
    base = run_id_for("bucket", "inputs/a.fasta", "v1")
    assert base != run_id_for("other", "inputs/a.fasta", "v1")
    assert base != run_id_for("bucket", "inputs/b.fasta", "v1")
    assert base != run_id_for("bucket", "inputs/a.fasta", "v2")


def test_quoted_and_bare_etags_are_the_same_version():
    assert run_id_for("b", "inputs/a.fa", '"abc"') == run_id_for("b", "inputs/a.fa", "abc")


def test_ids_are_valid_display_names_and_request_tokens_for_any_key():
    keys = [
        "inputs/a.fasta",
        "inputs/über protein (2).fasta",
        "inputs/" + "x" * 500 + ".fa",
        "inputs/../../etc/passwd.fa",
        "inputs/%2B+plus.fasta",
        "inputs/日本.faa",
        "inputs/---.fas",
    ]
    for key in keys:
        run_id = run_id_for("bucket", key, "version")
        assert DISPLAY_NAME.match(run_id), run_id
        assert 32 <= len(run_id) <= 82, run_id
        assert is_valid_run_id(run_id)


def test_an_upload_is_its_version_or_its_etag_where_the_bucket_is_unversioned():
    assert upload_version("3HL4kqtJlcpXroDTDmJ", '"abc"') == "3HL4kqtJlcpXroDTDmJ"
    assert upload_version("null", '"abc"') == '"abc"'
    assert upload_version(None, '"abc"') == '"abc"'
