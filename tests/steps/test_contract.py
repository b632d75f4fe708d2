"""The training contract: environment reading, the tool runner, the failure file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from foldline.steps.contract import (
    FAILURE_REASON_LIMIT,
    StepFailed,
    TrainingEnv,
    run_tool,
    write_failure,
)
from foldline.steps.databases import database_flags, missing_databases
from foldline.steps.manifest import StepManifest, read_manifest


def test_reads_channels_hyperparameters_and_resources(tmp_path):
    (tmp_path / "fasta").mkdir()
    env = TrainingEnv.from_env(
        {
            "SM_CHANNEL_FASTA": str(tmp_path / "fasta"),
            "SM_CHANNEL_DATABASES": "/fsx/alphafold",
            # the SDK JSON-quotes string hyperparameters; SM_HP_* wins over SM_HPS
            "SM_HPS": json.dumps({"ModelPreset": '"monomer"', "DbPreset": "full_dbs"}),
            "SM_HP_DBPRESET": "reduced_dbs",
            "SM_MODEL_DIR": str(tmp_path / "model"),
            "SM_OUTPUT_DATA_DIR": str(tmp_path / "out"),
            "SM_NUM_CPUS": "16",
            "SM_NUM_GPUS": "1",
            "FOLDLINE_FAILURE_FILE": str(tmp_path / "failure"),
        }
    )
    assert env.channels == {"fasta": tmp_path / "fasta", "databases": Path("/fsx/alphafold")}
    assert env.hp("ModelPreset") == "monomer"
    assert env.hp("DbPreset") == "reduced_dbs"
    assert env.hyperparameters == {"ModelPreset": "monomer", "DbPreset": "reduced_dbs"}
    assert (env.num_cpus, env.num_gpus) == (16, 1)
    assert env.model_dir == tmp_path / "model"
    assert env.failure_file == tmp_path / "failure"
    assert env.channel("fasta") == tmp_path / "fasta"
    assert env.channel("param", required=False) is None


def test_missing_hyperparameter_and_channel_are_named(tmp_path):
    env = TrainingEnv.from_env({"SM_MODEL_DIR": str(tmp_path)})
    with pytest.raises(StepFailed, match="SM_HP_FASTAFILENAME"):
        env.hp("FastaFileName")
    assert env.hp("DbPreset", "full_dbs") == "full_dbs"
    with pytest.raises(StepFailed, match="SM_CHANNEL_MSA is not set"):
        env.channel("msa")
    assert TrainingEnv.from_env({}).failure_file == Path("/opt/ml/output/failure")


def test_run_tool_streams_and_keeps_the_last_lines(tmp_path, capsys):
    script = "import sys\nfor i in range(100): print('line', i)\nprint('boom', file=sys.stderr)\nsys.exit(3)"
    result = run_tool([sys.executable, "-c", script], keep=5)
    assert result.returncode == 3 and not result.ok
    assert result.tail == ("line 96", "line 97", "line 98", "line 99", "boom")
    assert "line 0\n" in capsys.readouterr().out  # streamed, not only kept
    assert result.failure_text().endswith("line 99\nboom")
    assert "exited with status 3" in result.failure_text()


def test_run_tool_reports_a_missing_executable(tmp_path):
    result = run_tool([str(tmp_path / "no-such-tool"), "--x"])
    assert result.returncode == 127
    assert "cannot start" in result.tail[0]


def test_failure_file_keeps_the_end_within_sagemakers_limit(tmp_path):
    path = tmp_path / "output" / "failure"
    write_failure(path, "x" * 5000 + "ValueError: the real reason")
    text = path.read_text()
    assert len(text) == FAILURE_REASON_LIMIT
    assert text.endswith("ValueError: the real reason")


def test_manifest_round_trip_and_engine_names(tmp_path):
    manifest = StepManifest("RunMSA", "pyhmmer", "0.12.3", {"DbPreset": "reduced_dbs"})
    manifest.finish(0)
    manifest.write(tmp_path)
    written = read_manifest(tmp_path)
    assert written["status"] == "succeeded" and written["exit_status"] == 0
    assert written["started_at"].endswith("+00:00") and written["ended_at"]
    with pytest.raises(ValueError, match="unknown engine"):
        StepManifest("RunAlphaFold", "AlphaFold-on-CPU", "1", {})


EXPECTED_FLAGS = {
    ("full_dbs", "monomer"): [
        "uniref90_database_path",
        "mgnify_database_path",
        "bfd_database_path",
        "uniref30_database_path",
        "pdb70_database_path",
        "template_mmcif_dir",
        "obsolete_pdbs_path",
    ],
    ("reduced_dbs", "monomer_ptm"): [
        "uniref90_database_path",
        "mgnify_database_path",
        "small_bfd_database_path",
        "pdb70_database_path",
        "template_mmcif_dir",
        "obsolete_pdbs_path",
    ],
    ("full_dbs", "multimer"): [
        "uniref90_database_path",
        "mgnify_database_path",
        "bfd_database_path",
        "uniref30_database_path",
        "uniprot_database_path",
        "pdb_seqres_database_path",
        "template_mmcif_dir",
        "obsolete_pdbs_path",
    ],
    ("reduced_dbs", "multimer"): [
        "uniref90_database_path",
        "mgnify_database_path",
        "small_bfd_database_path",
        "uniprot_database_path",
        "pdb_seqres_database_path",
        "template_mmcif_dir",
        "obsolete_pdbs_path",
    ],
}


@pytest.mark.parametrize("presets", sorted(EXPECTED_FLAGS))
def test_database_flags_per_preset(presets):
    assert [flag for flag, _ in database_flags(*presets)] == EXPECTED_FLAGS[presets]


def test_missing_databases_knows_hhsuite_prefixes(tmp_path):
    (tmp_path / "pdb70").mkdir()
    (tmp_path / "pdb70" / "pdb70_hhm.ffdata").touch()
    missing = missing_databases(tmp_path, "full_dbs", "monomer")
    assert "pdb70/pdb70" not in missing
    assert "uniref30/UniRef30_2021_03" in missing and "uniref90/uniref90.fasta" in missing
