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
    assert (
        decide(f">A\n{SEQ}\n".encode(), pinned_preset="monomer_ptm").model_preset == "monomer_ptm"
    )


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
        (f">a\n{SEQ}\n>a\n{SEQ}\n".encode(), "duplicate_ids", ["records 1 and 2"]),
        (f">a\n{SEQ}\n>b\n\n".encode(), "empty_record", ["record 2"]),
        (f">a\nMK\u4e00V{SEQ}\n".encode(), "invalid_letters", ["\u4e00 at 3"]),
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


# -- headers: what other readers see, never quoted -------------------------------------------

#: every character str.splitlines() (AlphaFold's FASTA parser) breaks a line on, besides \n
LINE_BREAKERS = ["\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def _alphafold_reads(fasta: str) -> tuple[list[str], list[str]]:
    """AlphaFold's own parse_fasta (alphafold/data/parsers.py), line for line."""
    sequences, descriptions, index = [], [], -1
    for line in fasta.splitlines():
        line = line.strip()
        if line.startswith(">"):
            index += 1
            descriptions.append(line[1:])
            sequences.append("")
            continue
        if not line:
            continue
        sequences[index] += line
    return sequences, descriptions


def test_every_line_breaker_in_a_header_is_refused_and_not_quoted():
    smuggled = "M" * 30  # what a reader that breaks the line would add to the sequence
    for char in LINE_BREAKERS:
        assert len(f"a{char}b".splitlines()) == 2, repr(char)  # a real line break to splitlines
        body = f">secret-name{char}{smuggled}\n{SEQ}\n"
        decision = decide(body.encode())
        assert decision.rejection.code == "bad_header", repr(char)
        assert f"U+{ord(char):04X}" in decision.reason and "record 1" in decision.reason
        assert "secret-name" not in decision.reason and smuggled not in decision.reason


def test_control_characters_in_a_header_are_refused_but_a_tab_is_kept_as_a_space():
    # (a NUL past the first 4 kB, where the binary check looks, is a header problem too)
    padding = f">pad\n{SEQ * 200}\n"
    for char in ("\x00", "\x01", "\x07", "\x1b", "\x7f", "\x9b"):
        decision = decide(f"{padding}>a{char}[31m\n{SEQ}\n".encode())
        assert decision.rejection.code == "bad_header", repr(char)
        assert "record 2" in decision.reason and f"U+{ord(char):04X}" in decision.reason
    tabbed = decide(f">a\tdesc  with   spaces\n{SEQ}\n".encode())
    assert tabbed.normalised_fasta() == f">a desc with spaces\n{SEQ}\n"


def test_the_runs_fasta_reads_the_same_to_alphafold_as_to_foldline():
    body = f">A first chain\t(x)\n{SEQ[:10]}\n{SEQ[10:]}\n>B\n{SEQ.lower()}\n".encode()
    decision = decide(body)
    sequences, descriptions = _alphafold_reads(decision.normalised_fasta())
    assert sequences == [c.sequence for c in decision.chains]
    assert descriptions == ["A first chain (x)", "B"]


def test_a_long_record_id_is_refused_by_its_length_without_quoting_it():
    long_id = "Q" * 300_000
    decision = decide(f">{long_id}\n{SEQ}\n".encode(), IntakeLimits(max_bytes=2_000_000))
    assert decision.rejection.code == "long_id"
    assert "300,000 characters" in decision.reason and len(decision.reason) < 200
    ok = "P" * 100
    assert decide(f">{ok} a long description {'d' * 5000}\n{SEQ}\n".encode()).accepted


@pytest.mark.parametrize("sequence", ["GA" * 50, "A" * 40, "GAGGAG" * 10, "AAGAAG" * 8 + "N"])
def test_proteins_written_in_base_letters_are_proteins(sequence):
    """Poly-GA dipeptide repeats (C9orf72) and poly-alanine tracts use no letter beyond
    ACGTUN, but fewer than three bases: they are proteins."""
    decision = decide(f">p\n{sequence}\n".encode())
    assert decision.accepted, decision.reason


@pytest.mark.parametrize("sequence", ["ACGT" * 10, "GATTACA" * 6, "ACGU" * 10, "CAGNNNTTG" * 5])
def test_sequences_with_three_or_four_bases_are_nucleotides(sequence):
    assert decide(f">n\n{sequence}\n".encode()).rejection.code == "nucleotide"


def test_the_letters_listed_in_a_reason_are_bounded():
    letters = "".join(chr(0x4E00 + i) for i in range(5000))
    decision = decide(f">x\n{SEQ}{letters}\n".encode())
    assert decision.rejection.code == "invalid_letters"
    assert "and 4990 more" in decision.reason and len(decision.reason) < 400
