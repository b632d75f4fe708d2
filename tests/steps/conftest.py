"""A SageMaker-style training workspace in a temporary folder, and engine recorders.

The workspace is laid out as SageMaker lays out ``/opt/ml`` (``input/data/<channel>``,
``model/``, ``output/``); the environment is what the training toolkit sets. Engines are
replaced by ``recorder_tool.py`` copied where the step expects them.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from foldline.steps import databases as db
from foldline.steps.contract import TrainingEnv

HERE = Path(__file__).parent
DATA = HERE.parent / "data" / "steps" / "openfold-6kwc"
RECORDER = HERE / "recorder_tool.py"
REPO = HERE.parents[1]


# The databases each preset pair must name, spelled out (AlphaFold 2.3 download layout).
DBS = {
    "full_dbs": [
        "--bfd_database_path={db}/bfd/bfd_metaclust_clu_complete_id30_c90_final_seq.sorted_opt",
        "--uniref30_database_path={db}/uniref30/UniRef30_2021_03",
    ],
    "reduced_dbs": [
        "--small_bfd_database_path={db}/small_bfd/bfd-first_non_consensus_sequences.fasta"
    ],
    "monomer": ["--pdb70_database_path={db}/pdb70/pdb70"],
    "multimer": [
        "--uniprot_database_path={db}/uniprot/uniprot.fasta",
        "--pdb_seqres_database_path={db}/pdb_seqres/pdb_seqres.txt",
    ],
}
PRESETS = [
    (d, m)
    for d in ("full_dbs", "reduced_dbs")
    for m in ("monomer", "monomer_ptm", "monomer_casp14", "multimer")
]


def real_sequence() -> str:
    return "".join(DATA.joinpath("6kwc.fasta").read_text().splitlines()[1:])


def homologue_sequence() -> str:
    """A real homologue of 6KWC: the first hit of the real BFD/UniRef A3M, insertions kept."""
    lines = DATA.joinpath("alignments/6KWC_1/bfd_uniref_hits.a3m").read_text().splitlines()
    return lines[3].replace("-", "").upper()


class Workspace:
    """One training job's folders and environment."""

    def __init__(
        self,
        root: Path,
        *,
        model_preset: str = "monomer",
        db_preset: str = "full_dbs",
        max_template_date: str = "2021-10-01",
        fasta_name: str = "6KWC.fasta",
    ):
        self.root = root
        self.opt_ml = root / "opt_ml"
        self.data = self.opt_ml / "input" / "data"
        self.model_dir = self.opt_ml / "model"
        self.failure_file = self.opt_ml / "output" / "failure"
        self.log = root / "recorder.jsonl"
        self.fasta_name = fasta_name
        self.hps = {
            "FastaFileName": fasta_name,
            "DbPreset": db_preset,
            "MaxTemplateDate": max_template_date,
            "ModelPreset": model_preset,
            "NumMultimerPredictionsPerModel": "2",
        }
        self.extra: dict[str, str] = {}
        self.num_gpus = 1
        for name in ("fasta", "databases"):
            (self.data / name).mkdir(parents=True)
        self.model_dir.mkdir(parents=True)
        (self.opt_ml / "output" / "data").mkdir(parents=True)
        self.write_fasta(multimer=model_preset == "multimer")
        self.make_databases()

    # inputs -------------------------------------------------------------------------------
    def write_fasta(self, *, multimer: bool) -> None:
        text = f">6KWC_1 GH11 xylanase\n{real_sequence()}\n"
        if multimer:
            text += f">A0A2L2TCV1 homologue\n{homologue_sequence()}\n"
        (self.data / "fasta" / self.fasta_name).write_text(text)

    @property
    def databases(self) -> Path:
        return self.data / "databases"

    def make_databases(self, *, skip: tuple[str, ...] = ()) -> None:
        """Every database of every preset, as empty files in AlphaFold's layout."""
        prefixes = {db.BFD, db.UNIREF30, db.PDB70}
        for rel in (
            db.UNIREF90,
            db.MGNIFY,
            db.BFD,
            db.UNIREF30,
            db.SMALL_BFD,
            db.PDB70,
            db.PDB_SEQRES,
            db.UNIPROT,
            db.OBSOLETE,
        ):
            if rel in skip:
                continue
            path = self.databases / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if rel in prefixes:
                for part in ("_a3m.ffdata", "_a3m.ffindex", "_hhm.ffdata", "_cs219.ffindex"):
                    path.with_name(path.name + part).touch()
            else:
                path.touch()
        (self.databases / db.MMCIF_DIR).mkdir(parents=True, exist_ok=True)

    def add_weights(self, *names: str, where: str = "databases") -> Path:
        folder = self.data / where
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"weights")
        return folder

    def msa_channel(self, msas: dict[str, str], *, as_archive: bool = True) -> Path:
        """The MSA step's output as SageMaker delivers it: model.tar.gz in the msa channel."""
        channel = self.data / "msa"
        channel.mkdir(parents=True, exist_ok=True)
        if not as_archive:
            for rel, text in msas.items():
                (channel / rel).parent.mkdir(parents=True, exist_ok=True)
                (channel / rel).write_text(text)
            return channel
        with tarfile.open(channel / "model.tar.gz", "w:gz") as tar:
            for rel, text in {**msas, "foldline-step.json": "{}"}.items():
                payload = text.encode()
                info = tarfile.TarInfo(rel)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        return channel

    # engines ------------------------------------------------------------------------------
    def install(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(RECORDER, path)
        return path

    def install_engines(self) -> None:
        self.extra["FOLDLINE_AF_DATA_PIPELINE"] = str(
            self.install(self.root / "tools" / "run_data_pipeline.py")
        )
        self.extra["FOLDLINE_AF_RUNNER"] = str(
            self.install(self.root / "tools" / "run_alphafold.py")
        )
        self.extra["OPENFOLD_DIR"] = str(
            self.install(self.root / "openfold" / "run_pretrained_openfold.py").parent
        )

    # environment --------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        channels = {
            f"SM_CHANNEL_{p.name.upper()}": str(p) for p in self.data.iterdir() if p.is_dir()
        }
        hps = {f"SM_HP_{k.upper()}": v for k, v in self.hps.items()}
        return {
            "PATH": "/usr/bin:/bin",
            **channels,
            **hps,
            "SM_HPS": json.dumps(self.hps),
            "SM_MODEL_DIR": str(self.model_dir),
            "SM_OUTPUT_DATA_DIR": str(self.opt_ml / "output" / "data"),
            "SM_NUM_CPUS": "4",
            "SM_NUM_GPUS": str(self.num_gpus),
            "FOLDLINE_FAILURE_FILE": str(self.failure_file),
            "FOLDLINE_SCRATCH_DIR": str(self.root / "scratch"),
            "FOLDLINE_ENGINE_PYTHON": sys.executable,
            "KALIGN_BINARY_PATH": "/usr/bin/kalign",
            "RECORDER_LOG": str(self.log),
            **self.extra,
        }

    def training_env(self) -> TrainingEnv:
        return TrainingEnv.from_env(self.env())

    def run_module(self, name: str) -> subprocess.CompletedProcess:
        """``python -m foldline.steps.<name>``, as the image's entry point runs it."""
        env = {**self.env(), "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [sys.executable, "-m", f"foldline.steps.{name}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def records(self) -> list[dict]:
        if not self.log.is_file():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def manifest(self) -> dict:
        return json.loads((self.model_dir / "foldline-step.json").read_text())

    def model_files(self) -> list[str]:
        return sorted(
            str(p.relative_to(self.model_dir)) for p in self.model_dir.rglob("*") if p.is_file()
        )


@pytest.fixture
def workspace(tmp_path):
    def make(**kwargs) -> Workspace:
        ws = Workspace(tmp_path, **kwargs)
        ws.install_engines()
        return ws

    return make


STO = "# STOCKHOLM 1.0\n\nquery GSTIQPGTGY\n//\n"
HHR = "Query         6KWC_1\nMatch_columns 191\n"
A3M = ">query\nGSTIQPGTGY\n"


def monomer_msas(db_preset: str = "full_dbs", templates: str = "pdb_hits.hhr") -> dict[str, str]:
    """An MSA step output in AlphaFold's monomer layout."""
    msas = {"msas/uniref90_hits.sto": STO, "msas/mgnify_hits.sto": STO}
    if db_preset == "full_dbs":
        msas["msas/bfd_uniref_hits.a3m"] = A3M
    else:
        msas["msas/small_bfd_hits.sto"] = STO
    msas[f"msas/{templates}"] = HHR if templates.endswith(".hhr") else STO
    return msas


def multimer_msas(chains: str = "AB") -> dict[str, str]:
    msas = {"msas/chain_id_map.json": "{}"}
    for chain in chains:
        for name in ("uniref90_hits.sto", "mgnify_hits.sto", "uniprot_hits.sto", "pdb_hits.sto"):
            msas[f"msas/{chain}/{name}"] = STO
        msas[f"msas/{chain}/bfd_uniref_hits.a3m"] = A3M
    return msas
