"""The OpenFold step: its command, the alignments as OpenFold reads them, outputs, skips."""

from __future__ import annotations

import pytest

from foldline.steps import alphafold, openfold
from tests.steps.conftest import DATA, STO, monomer_msas, multimer_msas, real_sequence

REAL_ALIGNMENTS = DATA / "alignments" / "6KWC_1"
REAL_NAMES = DATA.joinpath("alignment-names.txt").read_text().split()
CONFIG = {"monomer": "model_1", "monomer_ptm": "model_1_ptm", "monomer_casp14": "model_1"}
CHECKPOINT = {"model_1": "finetuning_5.pt", "model_1_ptm": "finetuning_ptm_2.pt"}


def real_msas() -> dict[str, str]:
    """An MSA step output in AlphaFold's layout made of the real 6KWC files.

    AlphaFold names HHsearch's output pdb_hits.hhr; the real file is OpenFold's copy.
    The real mgnify/uniref90 Stockholm files are not copied (MBs): small ones stand in.
    """
    return {
        "msas/bfd_uniref_hits.a3m": (REAL_ALIGNMENTS / "bfd_uniref_hits.a3m").read_text(),
        "msas/pdb_hits.hhr": (REAL_ALIGNMENTS / "hhsearch_output.hhr").read_text(),
        "msas/mgnify_hits.sto": STO,
        "msas/uniref90_hits.sto": STO,
    }


def ready(workspace, model_preset="monomer_ptm", db_preset="full_dbs", msas=None, **kwargs):
    ws = workspace(model_preset=model_preset, db_preset=db_preset, **kwargs)
    config = CONFIG.get(model_preset)
    if config:
        ws.add_weights(f"openfold_params/{CHECKPOINT[config]}")
    ws.msa_channel(msas or (multimer_msas() if model_preset == "multimer" else real_msas()))
    ws.extra["FOLDLINE_FOLD_ENGINE"] = "real"
    return ws


def flag(record, name):
    return next(a.split("=", 1)[1] for a in record["argv"] if a.startswith(f"--{name}="))


@pytest.mark.parametrize("db_preset", ["full_dbs", "reduced_dbs"])
@pytest.mark.parametrize("model_preset", sorted(CONFIG))
def test_exact_command_per_preset(workspace, model_preset, db_preset):
    ws = ready(workspace, model_preset, db_preset)
    openfold.run(ws.training_env())
    (record,) = ws.records()
    db = ws.databases
    config = CONFIG[model_preset]
    _fasta_dir, mmcif_dir, *flags = record["argv"]
    alignments = flag(record, "use_precomputed_alignments")
    assert mmcif_dir == f"{db}/pdb_mmcif/mmcif_files"
    assert flags == [
        f"--use_precomputed_alignments={alignments}",
        f"--output_dir={flag(record, 'output_dir')}",
        f"--config_preset={config}",
        "--model_device=cuda:0",
        f"--openfold_checkpoint_path={db}/openfold_params/{CHECKPOINT[config]}",
        "--max_template_date=2021-10-01",
        f"--obsolete_pdbs_path={db}/pdb_mmcif/obsolete.dat",
        "--kalign_binary_path=/usr/bin/kalign",
        "--cpus=4",
    ]
    assert record["fasta"] == {"6KWC.fasta": f">6KWC_1\n{real_sequence()}\n"}


def test_alignments_are_laid_out_as_in_the_real_openfold_example(workspace):
    """OpenFold reads <dir>/<tag>/; the names are those of the real 6KWC_1 folder."""
    ws = ready(workspace)
    manifest = openfold.run(ws.training_env())
    (record,) = ws.records()
    names = [path.split("/", 1)[1] for path in record["alignments"]]
    assert {path.split("/", 1)[0] for path in record["alignments"]} == {"6KWC_1"}
    # every real name, plus uniref90_hits.sto that the reference copy lacks
    assert sorted(names) == sorted(REAL_NAMES + ["uniref90_hits.sto"])
    assert manifest.outputs["alignment_names"]["pdb_hits.hhr"] == "hhsearch_output.hhr"


def test_real_alignment_files_pass_through_unchanged(tmp_path):
    source = tmp_path / "msas"
    source.mkdir()
    for rel, text in real_msas().items():
        (tmp_path / rel).write_text(text)
    openfold.openfold_alignments(source, tmp_path / "alignments" / "6KWC_1")
    for name in ("bfd_uniref_hits.a3m", "hhsearch_output.hhr"):
        copied = tmp_path / "alignments" / "6KWC_1" / name
        assert copied.read_bytes() == (REAL_ALIGNMENTS / name).read_bytes()


def test_hmmsearch_hits_and_uniprot_are_kept_out_of_openfolds_msas(workspace):
    """OpenFold 1.0.1 reads every .sto as an MSA: template hits must not be among them."""
    msas = monomer_msas("reduced_dbs", templates="pdb_hits.sto")
    msas["msas/uniprot_hits.sto"] = STO
    ws = ready(workspace, "monomer", "reduced_dbs", msas=msas)
    manifest = openfold.run(ws.training_env())
    assert ws.records()[0]["alignments"] == [
        "6KWC_1/mgnify_hits.sto",
        "6KWC_1/small_bfd_hits.sto",
        "6KWC_1/uniref90_hits.sto",
    ]
    assert any("without templates" in note for note in manifest.notes)


def test_outputs_in_openfolds_layout_match_the_real_prediction_names(workspace):
    ws = ready(workspace)
    ws.extra["OPENFOLD_VERSION"] = "1.0.1"
    done = ws.run_module("openfold")
    assert done.returncode == 0, done.stderr
    # the real OpenFold example's predictions are named 6KWC_1_model_1_ptm_{relaxed,unrelaxed}.pdb
    assert ws.model_files() == [
        "foldline-step.json",
        "predictions/6KWC_1_model_1_ptm_relaxed.pdb",
        "predictions/6KWC_1_model_1_ptm_unrelaxed.pdb",
        "timings.json",
    ]
    manifest = ws.manifest()
    assert (manifest["engine"], manifest["engine_version"]) == ("openfold", "1.0.1")
    assert manifest["outputs"]["best_model"] == "predictions/6KWC_1_model_1_ptm_relaxed.pdb"
    timings = (ws.model_dir / "timings.json").read_text()
    assert '"6KWC_1_inference": 2.5' in timings and "openfold_total" in timings


def test_multimer_is_skipped_plainly_and_exits_zero(workspace):
    ws = ready(workspace, "multimer")
    done = ws.run_module("openfold")
    assert done.returncode == 0, done.stderr
    manifest = ws.manifest()
    assert (manifest["status"], manifest["exit_status"]) == ("skipped", 0)
    assert any("no multimer model" in note for note in manifest["notes"])
    assert ws.model_files() == ["foldline-step.json"]
    assert ws.records() == [] and not ws.failure_file.exists()
    assert "skipped" in done.stdout


def test_casp14_preset_says_what_openfold_lacks(workspace):
    ws = ready(workspace, "monomer_casp14")
    manifest = openfold.run(ws.training_env())
    assert flag(ws.records()[0], "config_preset") == "model_1"
    assert any("ensembling" in note for note in manifest.notes)


@pytest.mark.parametrize("max_template_date", ["2021-10-01", ""])
def test_openfold_gets_the_same_template_date_as_alphafold(workspace, max_template_date):
    ws = ready(workspace, max_template_date=max_template_date)
    ws.add_weights(
        *[f"params/params_model_{n}_ptm.npz" for n in range(1, 6)]
    )  # AlphaFold runs all five
    alphafold.run(ws.training_env())
    openfold.run(ws.training_env())
    af, of = ws.records()
    assert flag(af, "max_template_date") == flag(of, "max_template_date")
    assert len(flag(of, "max_template_date")) == 10


def test_checkpoint_choice(workspace):
    ws = workspace(model_preset="monomer_ptm")
    env = ws.training_env()
    assert openfold.find_weights(env, "model_1_ptm") is None
    assert "OpenFold weights missing" in openfold.real_engine_problem(env, "model_1_ptm")
    ws.add_weights("params/params_model_1_ptm.npz")  # AlphaFold's: not OpenFold's, unasked
    assert openfold.find_weights(ws.training_env(), "model_1_ptm") is None
    ws.add_weights("openfold_params/finetuning_ptm_1.pt", "openfold_params/finetuning_ptm_2.pt")
    assert openfold.find_weights(ws.training_env(), "model_1_ptm") == openfold.Weights(
        "openfold", ws.databases / "openfold_params/finetuning_ptm_2.pt", "databases"
    )
    param = ws.add_weights("finetuning_ptm_1.pt", "my_own.pt", where="param")
    assert openfold.find_weights(ws.training_env(), "model_1_ptm") == openfold.Weights(
        "openfold", param / "finetuning_ptm_1.pt", "param"
    )  # the param channel first
    ws.extra["FOLDLINE_OPENFOLD_CHECKPOINT"] = "my_own.pt"
    assert openfold.find_weights(ws.training_env(), "model_1_ptm") == openfold.Weights(
        "openfold", param / "my_own.pt", "param"
    )
    ws.extra["FOLDLINE_OPENFOLD_WEIGHTS"] = (
        "alphafold-params"  # asked: AlphaFold's, checkpoints or not
    )
    assert openfold.find_weights(ws.training_env(), "model_1_ptm") == openfold.Weights(
        "alphafold", ws.databases / "params/params_model_1_ptm.npz", "databases"
    )


def only_alphafold_params(workspace, **extra):
    """A real-engine OpenFold step whose databases hold AlphaFold's params and no checkpoint."""
    ws = workspace(model_preset="monomer_ptm")
    ws.add_weights("params/params_model_1_ptm.npz")
    ws.msa_channel(real_msas())
    ws.extra.update(FOLDLINE_FOLD_ENGINE="real", OPENFOLD_VERSION="1.0.1", **extra)
    return ws


def test_refuses_alphafold_params_unless_asked(workspace):
    """The OpenFold weights are not there, AlphaFold's are: the step fails, says what is
    missing and how to allow AlphaFold's params, and OpenFold is never started."""
    ws = only_alphafold_params(workspace)
    done = ws.run_module("openfold")
    assert done.returncode == 1
    reason = ws.failure_file.read_text()
    assert reason.startswith(
        "OpenFold weights missing: no finetuning_ptm_2.pt or finetuning_ptm_1.pt in the "
    )
    assert f"{ws.databases}/openfold_params" in reason
    assert "params/params_model_1_ptm.npz is there" in reason
    assert "set FOLDLINE_OPENFOLD_WEIGHTS=alphafold-params on the RunOpenFold step" in reason
    assert len(reason) < 1024  # SageMaker keeps 1024 characters of FailureReason
    assert ws.records() == []
    manifest = ws.manifest()
    assert (manifest["status"], manifest["failure"], manifest["weights"]) == (
        "failed",
        reason,
        None,
    )


def test_nothing_at_all_says_both_ways_out(workspace):
    ws = workspace(model_preset="monomer_ptm")
    ws.msa_channel(real_msas())
    ws.extra["FOLDLINE_FOLD_ENGINE"] = "real"
    assert ws.run_module("openfold").returncode == 1
    reason = ws.failure_file.read_text()
    assert "OpenFold weights missing" in reason and "is there" not in reason
    assert (
        "To run AlphaFold's params in OpenFold instead, set FOLDLINE_OPENFOLD_WEIGHTS="
        "alphafold-params (needs params/params_model_1_ptm.npz)"
    ) in reason


def test_alphafold_params_when_asked_are_run_and_recorded(workspace):
    ws = only_alphafold_params(workspace, FOLDLINE_OPENFOLD_WEIGHTS="alphafold-params")
    done = ws.run_module("openfold")
    assert done.returncode == 0, done.stderr
    (record,) = ws.records()
    assert flag(record, "jax_param_path") == f"{ws.databases}/params/params_model_1_ptm.npz"
    assert not any(a.startswith("--openfold_checkpoint_path") for a in record["argv"])
    manifest = ws.manifest()
    assert manifest["weights"] == {
        "kind": "alphafold",
        "name": "AlphaFold params model_1_ptm, run by OpenFold",
        "source": f"{ws.databases}/params",
        "files": ["params_model_1_ptm.npz"],
        "channel": "databases",
        "requested": "FOLDLINE_OPENFOLD_WEIGHTS=alphafold-params",
    }
    assert any(
        "OpenFold ran AlphaFold's params (params_model_1_ptm.npz)" in n for n in manifest["notes"]
    )


def test_declared_test_weights_are_recorded_as_such(workspace):
    """foldline-weights.json beside the params (as for the AlphaFold step) says what they are."""
    ws = only_alphafold_params(workspace, FOLDLINE_OPENFOLD_WEIGHTS="alphafold-params")
    (ws.databases / "params" / "foldline-weights.json").write_text(
        '{"kind": "random", "name": "random test weights (seed 0)"}'
    )
    assert ws.run_module("openfold").returncode == 0
    weights = ws.manifest()["weights"]
    assert (weights["kind"], weights["name"], weights["declared_by"]) == (
        "random",
        "random test weights (seed 0), run by OpenFold",
        "foldline-weights.json",
    )


def test_asked_for_alphafold_params_that_are_absent(workspace):
    ws = workspace(model_preset="monomer")
    ws.add_weights("openfold_params/finetuning_5.pt")
    ws.msa_channel(real_msas())
    ws.extra.update(FOLDLINE_FOLD_ENGINE="real", FOLDLINE_OPENFOLD_WEIGHTS="alphafold-params")
    assert ws.run_module("openfold").returncode == 1
    assert ws.failure_file.read_text() == (
        "AlphaFold params missing: FOLDLINE_OPENFOLD_WEIGHTS=alphafold-params asks OpenFold to "
        "run params/params_model_1.npz, which is in neither the param channel nor the databases"
    )
    assert ws.records() == []


def test_checkpoint_run_records_its_weights(workspace):
    ws = ready(workspace)  # finetuning_ptm_2.pt in openfold_params/, no AlphaFold params
    done = ws.run_module("openfold")
    assert done.returncode == 0, done.stderr
    (record,) = ws.records()
    path = f"{ws.databases}/openfold_params/finetuning_ptm_2.pt"
    assert flag(record, "openfold_checkpoint_path") == path
    weights = ws.manifest()["weights"]
    assert weights == {
        "kind": "openfold",
        "name": "OpenFold checkpoint finetuning_ptm_2.pt",
        "source": f"{ws.databases}/openfold_params",
        "files": ["finetuning_ptm_2.pt"],
        "channel": "databases",
        "requested": "FOLDLINE_OPENFOLD_WEIGHTS=openfold",
    }


@pytest.mark.parametrize("value", ["alphafold", "both", "jax"])
def test_unknown_weights_switch_fails_plainly(workspace, value):
    ws = ready(workspace)
    ws.extra["FOLDLINE_OPENFOLD_WEIGHTS"] = value
    assert ws.run_module("openfold").returncode == 1
    assert ws.failure_file.read_text() == (
        f"FOLDLINE_OPENFOLD_WEIGHTS={value!r}; use one of openfold, alphafold-params"
    )


def test_no_gpu_fails_before_openfold_starts(workspace):
    """OpenFold 1.0.1 runs its CUDA attention kernel in inference on any device: no CPU run."""
    ws = ready(workspace)
    ws.num_gpus = 0
    assert ws.run_module("openfold").returncode == 1
    assert "OpenFold 1.0.1 needs a CUDA GPU" in ws.failure_file.read_text()
    assert ws.records() == []


def test_tag_is_what_openfold_reads_back():
    assert openfold.sequence_tag("6KWC_1") == "6KWC_1"
    assert openfold.sequence_tag("sp|P69905|HBA_HUMAN") == "sp_P69905_HBA_HUMAN"


def test_tool_failure_writes_the_failure_file(workspace):
    ws = ready(workspace)
    ws.extra["RECORDER_FAIL"] = "1"
    done = ws.run_module("openfold")
    assert done.returncode == 1
    assert "run_pretrained_openfold.py exited with status 1" in ws.failure_file.read_text()
    assert ws.manifest()["failure"] == ws.failure_file.read_text()
