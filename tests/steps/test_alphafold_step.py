"""The AlphaFold step: the runner's command, MSAs where it reads them, outputs, weights, failure."""

from __future__ import annotations

import pytest

from foldline.steps import alphafold
from tests.steps.conftest import DBS, PRESETS, monomer_msas, multimer_msas

WEIGHTS = {
    "monomer": [f"params/params_model_{n}.npz" for n in range(1, 6)],
    "monomer_casp14": [f"params/params_model_{n}.npz" for n in range(1, 6)],
    "monomer_ptm": [f"params/params_model_{n}_ptm.npz" for n in range(1, 6)],
    "multimer": [f"params/params_model_{n}_multimer_v3.npz" for n in range(1, 6)],
}


def ready(workspace, model_preset="monomer", db_preset="full_dbs", **kwargs):
    ws = workspace(model_preset=model_preset, db_preset=db_preset, **kwargs)
    ws.add_weights(*WEIGHTS[model_preset])
    ws.msa_channel(multimer_msas() if model_preset == "multimer" else monomer_msas(db_preset))
    ws.extra["FOLDLINE_FOLD_ENGINE"] = "real"
    return ws


def output_dir_of(record):
    return next(a.split("=", 1)[1] for a in record["argv"] if a.startswith("--output_dir="))


@pytest.mark.parametrize("db_preset,model_preset", PRESETS)
def test_exact_command_per_preset(workspace, db_preset, model_preset):
    ws = ready(workspace, model_preset, db_preset)
    alphafold.run(ws.training_env())
    (record,) = ws.records()
    db = ws.databases
    templates = DBS["multimer" if model_preset == "multimer" else "monomer"]
    assert record["argv"] == [
        f"--fasta_paths={ws.data}/fasta/6KWC.fasta",
        f"--output_dir={output_dir_of(record)}",
        f"--data_dir={db}",
        f"--model_preset={model_preset}",
        f"--db_preset={db_preset}",
        "--max_template_date=2021-10-01",
        "--num_multimer_predictions_per_model=2",
        "--use_precomputed_msas",
        "--models_to_relax=best",
        "--use_gpu_relax",
        f"--uniref90_database_path={db}/uniref90/uniref90.fasta",
        f"--mgnify_database_path={db}/mgnify/mgy_clusters_2022_05.fa",
        *[flag.format(db=db) for flag in DBS[db_preset]],
        *[flag.format(db=db) for flag in templates],
        f"--template_mmcif_dir={db}/pdb_mmcif/mmcif_files",
        f"--obsolete_pdbs_path={db}/pdb_mmcif/obsolete.dat",
    ]
    assert output_dir_of(record).startswith(str(ws.root / "scratch"))


@pytest.mark.parametrize("model_preset", ["monomer", "multimer"])
def test_msas_are_placed_where_alphafold_reads_them(workspace, model_preset):
    ws = ready(workspace, model_preset)
    alphafold.run(ws.training_env())
    (record,) = ws.records()
    # the recorder listed <output_dir>/<FASTA stem>/msas/ as run_alphafold.py saw it
    expected = multimer_msas() if model_preset == "multimer" else monomer_msas()
    assert record["msas"] == sorted(rel.removeprefix("msas/") for rel in expected)


def test_outputs_land_in_the_model_dir_without_the_msa_copy(workspace):
    ws = ready(workspace, "multimer")
    ws.extra["ALPHAFOLD_VERSION"] = "2.3.2"
    manifest = alphafold.run(ws.training_env())
    files = ws.model_files()
    names = [f"model_{m}_multimer_v3_pred_{p}" for m in range(1, 6) for p in range(2)]
    assert [f for f in files if f.startswith("ranked_")] == sorted(
        f"ranked_{i}.pdb" for i in range(10)
    )
    assert {f"result_{n}.pkl" for n in names} <= set(files)
    assert {f"unrelaxed_{n}.pdb" for n in names} <= set(files)
    assert f"relaxed_{names[0]}.pdb" in files
    assert {"ranking_debug.json", "timings.json", "features.pkl", "foldline-step.json"} <= set(
        files
    )
    assert not any(f.startswith("msas/") for f in files)
    assert manifest.engine == "alphafold" and manifest.engine_version == "2.3.2"
    assert manifest.outputs["best_model"] == "ranked_0.pdb"
    assert manifest.outputs["ranked"][:3] == ["ranked_0.pdb", "ranked_1.pdb", "ranked_2.pdb"]
    assert manifest.parameters["NumMultimerPredictionsPerModel"] == 2
    assert not list((ws.root / "scratch").glob("alphafold-*")), "scratch left behind"


def test_cpu_only_instance_relaxes_on_the_cpu(workspace):
    ws = ready(workspace)
    ws.num_gpus = 0
    alphafold.run(ws.training_env())
    argv = ws.records()[0]["argv"]
    assert "--nouse_gpu_relax" in argv and "--use_gpu_relax" not in argv


def test_weights_from_the_param_channel_win(workspace):
    ws = ready(workspace)
    param = ws.add_weights(*WEIGHTS["monomer"], where="param")
    alphafold.run(ws.training_env())
    assert f"--data_dir={param}" in ws.records()[0]["argv"]


def test_step_program_failure_writes_the_failure_file(workspace):
    ws = ready(workspace)
    ws.extra["RECORDER_FAIL"] = "1"
    done = ws.run_module("alphafold")
    assert done.returncode == 1
    reason = ws.failure_file.read_text()
    assert reason.startswith("run_alphafold.py exited with status 1")
    assert "RuntimeError: engine exploded on purpose" in reason
    assert ws.manifest()["status"] == "failed"
    assert not (ws.model_dir / "ranked_0.pdb").exists()


def test_real_engine_without_weights_fails_plainly(workspace):
    ws = workspace()
    ws.msa_channel(monomer_msas())
    ws.extra["FOLDLINE_FOLD_ENGINE"] = "real"
    done = ws.run_module("alphafold")
    assert done.returncode == 1
    assert "AlphaFold weights missing: no params/params_model_1.npz" in ws.failure_file.read_text()
    assert ws.records() == []
    assert ws.manifest()["engine"] == "alphafold"


def test_auto_uses_the_real_engine_only_when_installed_with_weights(workspace):
    ws = ready(workspace)
    ws.extra["FOLDLINE_FOLD_ENGINE"] = "auto"
    env = ws.training_env()
    assert alphafold.real_engine_problem(env, "monomer") is None
    assert "weights missing" in alphafold.real_engine_problem(env, "monomer_ptm")
    ws.extra["FOLDLINE_AF_RUNNER"] = str(ws.root / "nowhere" / "run_alphafold.py")
    assert "not installed" in alphafold.real_engine_problem(ws.training_env(), "monomer")


def test_msa_channel_without_an_archive_is_a_clear_failure(workspace):
    ws = ready(workspace)
    (ws.data / "msa" / "model.tar.gz").unlink()
    done = ws.run_module("alphafold")
    assert done.returncode == 1
    assert "holds neither msas/ nor model.tar.gz" in ws.failure_file.read_text()
