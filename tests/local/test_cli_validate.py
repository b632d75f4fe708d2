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
