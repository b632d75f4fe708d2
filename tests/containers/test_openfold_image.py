"""The OpenFold image's openfold-deps stage, built here, and RunOpenFold in it under the toolkit.

What is built here: ``containers/build_local.sh --cpu --openfold-deps foldline-openfold``,
i.e. the OpenFold image without OpenFold itself and without PyTorch (``CUDA=none``). The
image's ``openfold`` target cannot be built on this machine: OpenFold 1.x's source is on
GitHub only and its CUDA kernel needs CUDA 12's nvcc from NVIDIA's apt repository, and
neither is reachable here (PyPI's nvidia-cuda-nvcc-cu12 ships ptxas, not nvcc). Where they
are reachable the ``openfold`` target parses foldline's argv with OpenFold's real parser as
it builds (containers/openfold/check_parser.py); here tests/steps/test_openfold_parser.py
checks the argv against the parser recorded from OpenFold's source.

In the image, the step program runs under the real SageMaker training toolkit; the recorder
engine (tests/steps/recorder_tool.py, a test double of run_pretrained_openfold.py)
stands where OpenFold would be, mounted as a channel (OPENFOLD_DIR points there).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile

import pytest

from foldline.spec.parameters import OPENFOLD_STEP
from tests.containers.conftest import BASE_IMAGE, REPO, TrainingJob, run_in_image
from tests.steps.conftest import RECORDER, monomer_msas, real_sequence

IMAGE = f"{OPENFOLD_STEP.image}:local-deps"


@pytest.fixture(scope="session")
def openfold_deps_image() -> str:
    done = subprocess.run(
        [
            str(REPO / "containers" / "build_local.sh"),
            "--cpu",
            "--openfold-deps",
            "--tag",
            "local-deps",
            "--base",
            BASE_IMAGE,
            OPENFOLD_STEP.image,
        ],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.split() == [IMAGE]
    return IMAGE


ENGINE_CHECK = """
import json, sys
import numpy, scipy.stats, Bio.Data.SCOPData, ml_collections, tree, absl.logging, pdbfixer
import openmm
from openmm import app, unit

# OpenFold's lib/openmm.patch (DeepMind's): one disulfide per SG where several are close.
top = app.Topology()
chain = top.addChain()
for _ in range(3):
    top.addAtom("SG", app.Element.getBySymbol("S"), top.addResidue("CYS", chain))
positions = unit.Quantity([openmm.Vec3(0, 0, 0), openmm.Vec3(0.2, 0, 0), openmm.Vec3(0.1, 0.15, 0)],
                          unit.nanometers)
top.createDisulfideBonds(positions)
bonds = [sorted((a.residue.index, b.residue.index)) for a, b in top.bonds()]
print(json.dumps({"python": sys.executable, "numpy": numpy.__version__,
                  "openmm": openmm.__version__, "bonds": bonds,
                  "variant": open("/opt/foldline/openfold/cuda-variant").read().strip()}))
"""


def test_openfolds_python_has_its_dependencies_in_a_clean_environment(openfold_deps_image):
    done = run_in_image(
        openfold_deps_image, "env", "-i", "/opt/openfold-env/bin/python", "-c", ENGINE_CHECK
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["python"] == "/opt/openfold-env/bin/python"
    assert (found["numpy"], found["openmm"], found["variant"]) == ("1.23.5", "8.2", "none")
    # three SG atoms within 3 Å of each other: one bond, no SG bonded twice
    assert found["bonds"] == [[0, 1]]


def test_toolkit_and_foldline_are_in_their_own_environment(openfold_deps_image):
    done = run_in_image(
        openfold_deps_image,
        "sh",
        "-c",
        "command -v train; /opt/openfold-env/bin/python -c 'import sagemaker_training'",
    )
    assert done.stdout.split()[0] == "/opt/foldline-env/bin/train"
    assert "No module named 'sagemaker_training'" in done.stderr  # not in OpenFold's Python


def openfold_job(tmp_path, **environment) -> TrainingJob:
    """A RunOpenFold training job: AlphaFold's params in the databases, no OpenFold checkpoint."""
    job = TrainingJob(
        tmp_path / "job",
        {
            "FastaFileName": "6KWC.fasta",
            "ModelPreset": "monomer_ptm",
            "DbPreset": "reduced_dbs",
            "MaxTemplateDate": "2021-10-01",
        },
    )
    job.channel("fasta").joinpath("6KWC.fasta").write_text(f">6KWC_1\n{real_sequence()}\n")
    with tarfile.open(job.channel("msa") / "model.tar.gz", "w:gz") as tar:
        for name, text in {**monomer_msas("reduced_dbs"), "foldline-step.json": "{}"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    databases = job.channel("databases")
    (databases / "params").mkdir()
    (databases / "params" / "params_model_1_ptm.npz").write_bytes(b"AlphaFold's weights")
    (databases / "pdb_mmcif" / "mmcif_files").mkdir(parents=True)
    engine = job.channel("engine")  # where OpenFold would be: the recorder in its place
    engine.joinpath("run_pretrained_openfold.py").write_text(RECORDER.read_text())
    job.environment.update(
        OPENFOLD_DIR="/opt/ml/input/data/engine",
        RECORDER_LOG="/opt/ml/output/data/recorder.jsonl",
        **environment,
    )
    return job


def test_run_openfold_refuses_alphafolds_params_under_the_toolkit(tmp_path, openfold_deps_image):
    job = openfold_job(tmp_path)
    done = job.run(openfold_deps_image, timeout=600)
    assert done.returncode != 0
    failure = job.failure()
    assert failure.startswith(
        "OpenFold weights missing: no finetuning_ptm_2.pt or finetuning_ptm_1.pt"
    )
    assert "set FOLDLINE_OPENFOLD_WEIGHTS=alphafold-params on the RunOpenFold step" in failure
    manifest = job.manifest()
    assert (manifest["engine"], manifest["status"], manifest["weights"]) == (
        "openfold",
        "failed",
        None,
    )
    assert not (job.output / "data" / "recorder.jsonl").exists()


def test_run_openfold_with_alphafold_params_allowed_gets_to_the_gpu_check(
    tmp_path, openfold_deps_image
):
    """The switch set on the container lets the weights through; this machine has no GPU, and
    OpenFold 1.0.1 cannot fold without one: the step says so before starting it."""
    job = openfold_job(tmp_path, FOLDLINE_OPENFOLD_WEIGHTS="alphafold-params")
    done = job.run(openfold_deps_image, timeout=600)
    assert done.returncode != 0
    assert job.failure().startswith("OpenFold 1.0.1 needs a CUDA GPU")
    assert not (job.output / "data" / "recorder.jsonl").exists()
