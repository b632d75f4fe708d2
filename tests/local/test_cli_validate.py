"""``foldline validate`` through its real entry point."""

from __future__ import annotations

from typer.testing import CliRunner

from foldline.cli.app import app

from .conftest import EXAMPLE


def test_validate_accepts_the_example():
    result = CliRunner().invoke(app, ["validate", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert f"{EXAMPLE}: accepted: 1 chain, 188 residues, preset monomer" in result.output


def test_validate_fails_if_any_file_is_rejected(dna_fasta, tmp_path):
    missing = tmp_path / "missing.fasta"
    result = CliRunner().invoke(app, ["validate", str(EXAMPLE), str(dna_fasta), str(missing)])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert len(lines) == 3
    assert "accepted" in lines[0]
    assert lines[1].startswith(f"{dna_fasta}: rejected:") and "nucleotide" in lines[1]
    assert lines[2] == f"{missing}: rejected: no such file"


def test_validate_screen_judges_each_record_as_the_start_function_does(tmp_path, monkeypatch):
    from tests.intake.test_screen import SCREEN, screen_fasta

    drop = tmp_path / "proteome.fasta"
    drop.write_bytes(screen_fasta(SCREEN))
    result = CliRunner().invoke(app, ["validate", "--screen", str(drop)])
    assert result.exit_code == 1  # a record would be refused
    first, *refused = result.output.splitlines()
    # the repeats (one in lower case) are one sequence each: 3 distinct among 5 accepted
    assert first == (
        f"{drop}: screening drop of 6 records: 5 accepted (3 distinct sequences), 1 refused"
    )
    (line,) = refused
    assert line.startswith("  record 4 (dna): rejected:") and "nucleotide" in line

    good = tmp_path / "good.fasta"
    good.write_bytes(screen_fasta([r for r in SCREEN if r[0] != "dna"]))
    assert CliRunner().invoke(app, ["validate", "--screen", str(good)]).exit_code == 0
    # without --screen the same file is one complex of five chains
    plain = CliRunner().invoke(app, ["validate", str(good)])
    assert "accepted: 5 chains" in plain.output

    monkeypatch.setenv("FOLDLINE_MAX_SCREEN_SEQUENCES", "3")  # what sinks the whole drop
    sunk = CliRunner().invoke(app, ["validate", "--screen", str(drop)])
    assert sunk.exit_code == 1
    assert sunk.output == (
        f"{drop}: rejected: 6 sequences in one screening drop; the limit is 3 (split the "
        "file, or raise the stack's FoldlineMaxScreenSequences)\n"
    )
