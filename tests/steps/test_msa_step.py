"""The MSA step: AlphaFold's data pipeline command, outputs, manifest, failure."""

from __future__ import annotations

import datetime as dt
import importlib.util

import pytest

from foldline.steps import msa
from tests.steps.conftest import DBS, PRESETS, REPO, monomer_msas

RUNNER = REPO / "containers" / "alphafold" / "run_data_pipeline.py"


def expected_argv(ws, db_preset, model_preset):
    db = ws.databases
    templates = DBS["multimer" if model_preset == "multimer" else "monomer"]
    return [
        ws.env()["FOLDLINE_ENGINE_PYTHON"],
        ws.env()["FOLDLINE_AF_DATA_PIPELINE"],
        f"--fasta_path={ws.data}/fasta/6KWC.fasta",
        f"--output_dir={ws.model_dir}",
        f"--model_preset={model_preset}",
        f"--db_preset={db_preset}",
        "--max_template_date=2021-10-01",
        "--n_cpu=4",
        f"--uniref90_database_path={db}/uniref90/uniref90.fasta",
        f"--mgnify_database_path={db}/mgnify/mgy_clusters_2022_05.fa",
        *[flag.format(db=db) for flag in DBS[db_preset]],
        *[flag.format(db=db) for flag in templates],
        f"--template_mmcif_dir={db}/pdb_mmcif/mmcif_files",
        f"--obsolete_pdbs_path={db}/pdb_mmcif/obsolete.dat",
    ]


def load_runner():
    spec = importlib.util.spec_from_file_location("run_data_pipeline", RUNNER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("db_preset,model_preset", PRESETS)
def test_exact_command_and_outputs_per_preset(workspace, db_preset, model_preset):
    ws = workspace(model_preset=model_preset, db_preset=db_preset)
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"
    manifest = msa.run(ws.training_env())
    (record,) = ws.records()
    assert [
        ws.env()["FOLDLINE_ENGINE_PYTHON"],
        ws.env()["FOLDLINE_AF_DATA_PIPELINE"],
        *record["argv"],
    ] == expected_argv(ws, db_preset, model_preset)
    assert manifest.command == expected_argv(ws, db_preset, model_preset)
    # AlphaFold's layout: flat for monomer, one folder per chain letter for multimer
    bfd = "bfd_uniref_hits.a3m" if db_preset == "full_dbs" else "small_bfd_hits.sto"
    if model_preset == "multimer":
        chain_files = {
            "uniref90_hits.sto",
            "mgnify_hits.sto",
            bfd,
            "uniprot_hits.sto",
            "pdb_hits.sto",
        }
        expected = {f"msas/{c}/{f}" for c in "AB" for f in chain_files}
    else:
        expected = {
            f"msas/{f}" for f in ("uniref90_hits.sto", "mgnify_hits.sto", bfd, "pdb_hits.hhr")
        }
    assert set(ws.model_files()) == expected | {
        "features.pkl",
        "timings.json",
        "foldline-step.json",
    }
    written = ws.manifest()
    assert written["engine"] == "alphafold" and written["status"] == "succeeded"
    assert written["outputs"]["msa_files"] == sorted(expected)
    assert written["outputs"]["features"] == "features.pkl"


@pytest.mark.parametrize("db_preset,model_preset", PRESETS)
def test_the_runner_in_the_image_accepts_the_command(workspace, db_preset, model_preset):
    """The argv the step builds passes the AlphaFold runner's own flag parser and rules."""
    ws = workspace(model_preset=model_preset, db_preset=db_preset)
    runner = load_runner()
    args = runner.build_parser().parse_args(expected_argv(ws, db_preset, model_preset)[2:])
    runner.check_flags(args)
    assert args.max_template_date == "2021-10-01"


def test_the_runner_rejects_a_monomer_command_without_pdb70(workspace):
    ws = workspace()
    argv = [a for a in expected_argv(ws, "full_dbs", "monomer")[2:] if "pdb70" not in a]
    runner = load_runner()
    with pytest.raises(ValueError, match="pdb70_database_path must be set"):
        runner.check_flags(runner.build_parser().parse_args(argv))


def test_step_program_end_to_end_with_manifest(workspace):
    ws = workspace(model_preset="monomer", db_preset="reduced_dbs")
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"
    ws.extra["ALPHAFOLD_VERSION"] = "2.3.2"
    done = ws.run_module("msa")
    assert done.returncode == 0, done.stderr
    manifest = ws.manifest()
    assert manifest["step"] == "RunMSA"
    assert (manifest["engine"], manifest["engine_version"]) == ("alphafold", "2.3.2")
    # which engine searched which databases: the run's presets' (reduced_dbs, monomer)
    assert manifest["msa_source"] == {
        "engine": "alphafold",
        "engine_version": "2.3.2",
        "db_preset": "reduced_dbs",
        "databases": ["uniref90", "mgnify", "small_bfd", "pdb70"],
        "reused_from": None,
    }
    assert manifest["exit_status"] == 0
    assert manifest["command"][2:] == ws.records()[0]["argv"]
    assert manifest["parameters"] == {
        "FastaFileName": "6KWC.fasta",
        "ModelPreset": "monomer",
        "DbPreset": "reduced_dbs",
        "MaxTemplateDate": "2021-10-01",
    }
    assert dt.datetime.fromisoformat(manifest["ended_at"]) >= dt.datetime.fromisoformat(
        manifest["started_at"]
    )
    assert not ws.failure_file.exists()
    assert "[foldline] running:" in done.stdout  # the tool's log reaches CloudWatch


def test_tool_failure_writes_its_last_lines_and_exits_nonzero(workspace):
    ws = workspace()
    ws.extra.update(FOLDLINE_MSA_ENGINE="alphafold", RECORDER_FAIL="1")
    done = ws.run_module("msa")
    assert done.returncode != 0
    reason = ws.failure_file.read_text()
    assert "run_data_pipeline.py exited with status 1" in reason
    assert reason.rstrip().endswith("RuntimeError: engine exploded on purpose (RECORDER_FAIL)")
    manifest = ws.manifest()
    assert (manifest["status"], manifest["exit_status"]) == ("failed", 1)
    assert manifest["failure"] == reason


def test_missing_database_fails_before_the_tool_runs(workspace):
    ws = workspace(model_preset="multimer")
    (ws.databases / "uniprot" / "uniprot.fasta").unlink()
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"
    done = ws.run_module("msa")
    assert done.returncode == 1
    assert "uniprot/uniprot.fasta" in ws.failure_file.read_text()
    assert ws.records() == []


def test_empty_max_template_date_means_today_and_is_recorded(workspace):
    ws = workspace(max_template_date="")
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"
    manifest = msa.run(ws.training_env())
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert f"--max_template_date={today}" in ws.records()[0]["argv"]
    assert manifest.parameters["MaxTemplateDate"] == today
    assert any("was empty" in note for note in manifest.notes)


def test_a_cached_msa_channel_skips_the_search(workspace):
    ws = workspace()
    ws.msa_channel(monomer_msas(), as_archive=False)
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"
    manifest = msa.run(ws.training_env())
    assert manifest.engine == "cache" and ws.records() == []
    assert "msas/pdb_hits.hhr" in ws.model_files()


def test_engine_choice(workspace, monkeypatch):
    ws = workspace()
    ws.extra["FOLDLINE_MSA_ENGINE"] = "pyhmmer"
    assert msa.choose_engine(ws.training_env()) == "pyhmmer"
    ws.extra["FOLDLINE_MSA_ENGINE"] = "auto"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name: None if name == "alphafold" else real_find_spec(name),
    )
    assert msa.choose_engine(ws.training_env()) == "pyhmmer"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())
    assert msa.choose_engine(ws.training_env()) == "alphafold"  # runner installed + importable
    ws.extra["FOLDLINE_MSA_ENGINE"] = "hhblits"
    with pytest.raises(ValueError, match="FOLDLINE_MSA_ENGINE"):
        msa.choose_engine(ws.training_env())
