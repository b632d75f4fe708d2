"""FASTA intake: each rejection names its problem; good files are normalised."""

from __future__ import annotations

import pytest

from foldline.intake.fasta import IntakeLimits, decide, decide_file
from tests.conftest import DATA

SEQ = "MKVLAAGGKKLLMMSSTTVVWWYYEEDDNNQQ"  # 32 residues, all standard


def test_the_real_6kwc_target_is_accepted_as_a_monomer():
    decision = decide_file(str(DATA / "openfold-6kwc" / "6kwc.fasta"))
    assert decision.accepted
    assert decision.model_preset == "monomer"
    assert [c.id for c in decision.chains] == ["6KWC_1"]
    assert decision.total_residues == 191
    assert decision.summary() == "accepted: 1 chain, 191 residues, preset monomer"


def test_lower_case_and_windows_line_endings_are_normalised():
    decision = decide(f">a desc\r\n{SEQ.lower()[:16]}\r\n{SEQ.lower()[16:]}\r\n".encode())
    assert decision.accepted
    assert decision.normalised_fasta() == f">a desc\n{SEQ}\n"


def test_several_records_choose_multimer_unless_pinned():
    body = f">A\n{SEQ}\n>B\n{SEQ}\n".encode()
    assert decide(body).model_preset == "multimer"
    assert decide(body, pinned_preset="multimer").model_preset == "multimer"
    pinned = decide(body, pinned_preset="monomer_ptm")
    assert not pinned.accepted and "2" in pinned.reason and "multimer" in pinned.reason
    assert decide(f">A\n{SEQ}\n".encode(), pinned_preset="monomer_ptm").model_preset == "monomer_ptm"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        (b"", "empty", ["empty"]),
        (b"\n\n  \n", "empty", ["whitespace"]),
        (b">only a header\n", "empty_record", ["no sequence"]),
        (b"MKVLAAGG\n", "not_fasta", ["'>'"]),
        (b"ATOM      1  N   MET A   1      11.104  13.207   2.100\n", "not_fasta", ["PDB"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not_fasta", ["PNG"]),
        (b"PK\x03\x04\x14\x00", "not_fasta", ["zip"]),
        (">a\nMKV".encode("utf-16"), "not_fasta", ["UTF-16"]),
        (bytes(range(256)), "not_fasta", ["binary"]),
        (b">d\nACGTACGTACGTACGTACGTTTGA\n", "nucleotide", ["DNA"]),
        (b">r\nACGUACGUACGUACGUACGUUUGA\n", "nucleotide", ["RNA"]),
        (b">x\nMKVLAJGGKKLLMMSS*TVVWW\n", "invalid_letters", ["'J'", "'*'", "J at 6", "'*' at 17"]),
        (b">x\nMKVLAOUBZGGKKLLMMSSTT\n", "invalid_letters", ["'B'", "'O'", "'U'", "'Z'"]),
        (b">x\nMKVLA-GGKKLLMMSS1TVVW\n", "invalid_letters", ["'-' at 6", "'1'"]),
        (b">x\nMKVLAAGGKK\n", "too_short", ["10 residues", "minimum is 16"]),
        (f">a\n{SEQ}\n>a\n{SEQ}\n".encode(), "duplicate_ids", ["'a'"]),
    ],
)
def test_each_bad_file_is_rejected_with_a_reason_naming_the_problem(body, code, words):
    decision = decide(body)
    assert not decision.accepted
    assert decision.rejection.code == code
    for word in words:
        assert word in decision.reason, decision.reason


def test_positions_are_listed_up_to_a_limit():
    decision = decide((">x\n" + "MKVL" * 4 + "J" * 25 + "\n").encode())
    assert "J at 17" in decision.reason and "and 15 more" in decision.reason


def test_limits_on_length_chains_and_size():
    limits = IntakeLimits(max_total_residues=100, max_chains=2, max_bytes=500)
    assert decide(f">a\n{SEQ * 4}\n".encode(), limits).rejection.code == "too_long"
    three = f">a\n{SEQ}\n>b\n{SEQ}\n>c\n{SEQ}\n".encode()
    assert decide(three, limits).rejection.code == "too_many_chains"
    big = decide(b">a\n" + b"M" * 600, limits)
    assert big.rejection.code == "too_large" and "603 bytes" in big.reason


def test_limits_come_from_the_environment():
    limits = IntakeLimits.from_env({"FOLDLINE_MAX_RESIDUES": "3000", "FOLDLINE_MAX_CHAINS": "4"})
    assert (limits.max_total_residues, limits.max_chains, limits.min_length) == (3000, 4, 16)


def test_a_local_file_needs_a_fasta_suffix(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text(f">a\n{SEQ}\n")
    assert decide_file(str(path)).rejection.code == "bad_suffix"
    upper = tmp_path / "x.FASTA"
    upper.write_text(f">a\n{SEQ}\n")
    assert decide_file(str(upper)).accepted
