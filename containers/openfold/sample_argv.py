"""foldline's ``run_pretrained_openfold.py`` argv for every preset and kind of weights, as JSON.

Run in the image's foldline venv at build time; ``check_parser.py`` (in OpenFold's venv)
then parses each with OpenFold's own parser. The paths are placeholders: only the argv's
shape and values are checked, nothing is read.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from foldline.steps.common import StepInputs
from foldline.steps.contract import TrainingEnv
from foldline.steps.openfold import CHECKPOINTS, CONFIG_PRESET, Weights, openfold_command

ROOT = Path("/tmp/foldline-argv-sample")


def sample_argvs(env_vars: dict[str, str]) -> list[list[str]]:
    env = TrainingEnv.from_env(
        {**env_vars, "SM_NUM_GPUS": "1", "SM_NUM_CPUS": "8", "SM_MODEL_DIR": str(ROOT / "model")}
    )
    argvs = []
    for model_preset, config_preset in CONFIG_PRESET.items():
        if config_preset is None:  # multimer: the step skips, nothing is run
            continue
        inputs = StepInputs(
            ROOT / "fasta" / "target.fasta", (), model_preset, "full_dbs", "2021-10-01", True
        )
        for weights in (
            Weights(
                "openfold", ROOT / "openfold_params" / CHECKPOINTS[config_preset][0], "databases"
            ),
            Weights("alphafold", ROOT / "params" / f"params_{config_preset}.npz", "databases"),
        ):
            argvs.append(
                openfold_command(
                    env,
                    inputs,
                    ROOT / "databases",
                    ROOT / "fasta",
                    ROOT / "alignments",
                    ROOT / "output",
                    config_preset,
                    weights,
                )
            )
    return argvs


if __name__ == "__main__":
    import os

    json.dump(sample_argvs(dict(os.environ)), sys.stdout, indent=1)
    sys.stdout.write("\n")
