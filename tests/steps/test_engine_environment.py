"""Engines start in their own clean environment, never with the toolkit's Python settings.

The SageMaker training toolkit runs the step program with ``PYTHONPATH`` set to its own
interpreter's ``sys.path`` (and foldline's virtual environment on ``PATH``); an engine in
another Python that inherits them loads the wrong standard library and packages.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from foldline.steps import alphafold, msa, openfold
from foldline.steps.contract import engine_environment
from tests.steps.conftest import monomer_msas

FOLDLINE_BIN = str(Path(sys.prefix) / "bin")  # this test's virtual environment: foldline's
TOOLKIT = {
    "PYTHONPATH": "/opt/foldline-env/lib/python3.11/site-packages:/opt/ml/code",
    "PYTHONHOME": "/opt/foldline-env",
    "PYTHONSTARTUP": "/etc/foldline-startup.py",
    "PYTHONUSERBASE": "/root/.local",
    "PYTHONUNBUFFERED": "1",
    "VIRTUAL_ENV": "/opt/foldline-env",
    "PATH": f"{FOLDLINE_BIN}:/opt/foldline-env/bin:/usr/local/bin:/usr/bin:/bin",
}
KEPT = {
    "CUDA_VISIBLE_DEVICES": "0",
    "NVIDIA_VISIBLE_DEVICES": "all",
    "XLA_PYTHON_CLIENT_MEM_FRACTION": "4.0",
    "TF_FORCE_UNIFIED_MEMORY": "1",
    "AWS_REGION": "eu-west-1",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/credentials/x",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "HOME": "/root",
}


def test_engine_environment_drops_python_settings_and_foldlines_path():
    clean = engine_environment({**TOOLKIT, **KEPT, "SM_MODEL_DIR": "/opt/ml/model"})
    for name in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"):
        assert name not in clean
    assert clean["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert clean["PYTHONUNBUFFERED"] == "1"  # output only: kept
    assert {k: clean[k] for k in KEPT} == KEPT
    assert clean["SM_MODEL_DIR"] == "/opt/ml/model"


def test_engine_environment_of_an_empty_path_is_the_default_path():
    clean = engine_environment({"PATH": f"{FOLDLINE_BIN}", "VIRTUAL_ENV": sys.prefix})
    assert clean["PATH"] and FOLDLINE_BIN not in clean["PATH"].split(":")


def run_msa(ws):
    ws.extra["FOLDLINE_MSA_ENGINE"] = "alphafold"
    msa.run(ws.training_env())


def run_alphafold(ws):
    ws.add_weights(*[f"params/params_model_{n}.npz" for n in range(1, 6)])
    ws.msa_channel(monomer_msas())
    ws.extra["FOLDLINE_FOLD_ENGINE"] = "real"
    alphafold.run(ws.training_env())


def run_openfold(ws):
    ws.hps["ModelPreset"] = "monomer_ptm"
    ws.add_weights("openfold_params/finetuning_ptm_2.pt")
    ws.msa_channel(monomer_msas())
    ws.extra["FOLDLINE_FOLD_ENGINE"] = "real"
    openfold.run(ws.training_env())


@pytest.mark.parametrize(
    "run_step", [run_msa, run_alphafold, run_openfold], ids=["msa", "alphafold", "openfold"]
)
def test_no_step_passes_the_toolkits_python_settings_to_its_engine(workspace, run_step):
    ws = workspace()
    ws.extra.update({**TOOLKIT, **KEPT})
    run_step(ws)
    (record,) = ws.records()
    seen = record["environment"]
    assert "PYTHONPATH" not in seen and "PYTHONHOME" not in seen, seen
    assert "PYTHONSTARTUP" not in seen and "VIRTUAL_ENV" not in seen, seen
    path = seen["PATH"].split(":")
    assert FOLDLINE_BIN not in path and "/opt/foldline-env/bin" not in path
    assert path == ["/usr/local/bin", "/usr/bin", "/bin"]
