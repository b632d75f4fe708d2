"""foldline's OpenFold command against what OpenFold's own parser accepts.

``tests/data/openfold-parser.json`` is what ``run_pretrained_openfold.py`` at the pinned
commit accepts, read from its source by ``containers/openfold/parser_spec.py`` (``ast``,
nothing copied or run). Here an argparse parser is rebuilt from that record, without
abbreviations, and every argv the step really builds (each preset, each kind of weights)
must parse with it. The image build parses the same argv with the real parser
(``containers/openfold/check_parser.py``).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from foldline.steps import openfold
from tests.steps.conftest import REPO
from tests.steps.test_openfold_step import CHECKPOINT, CONFIG, real_msas

SPEC_PATH = REPO / "tests" / "data" / "openfold-parser.json"
SPEC = json.loads(SPEC_PATH.read_text())
TYPES = {"str": str, "int": int, "float": float}


def parser_from_spec(spec: dict) -> argparse.ArgumentParser:
    """OpenFold's parser as recorded; no abbreviations (a renamed flag must not match a prefix)."""
    parser = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False)
    for positional in spec["positionals"]:
        parser.add_argument(positional["dest"], type=TYPES[positional.get("type", "str")])
    seen = set()
    for option in spec["options"].values():
        if option["dest"] in seen:
            continue
        seen.add(option["dest"])
        names = [n for n, o in spec["options"].items() if o["dest"] == option["dest"]]
        kwargs = {"dest": option["dest"]}
        if option.get("action"):
            kwargs["action"] = option["action"]
        else:
            kwargs["type"] = TYPES[option.get("type", "str")]
            if option.get("choices"):
                kwargs["choices"] = option["choices"]
        parser.add_argument(*names, **kwargs)
    return parser


def step_argv(workspace, model_preset: str, weights: str) -> list[str]:
    """The argv the OpenFold step really runs (recorded by the stand-in engine)."""
    ws = workspace(model_preset=model_preset)
    config = CONFIG[model_preset]
    ws.add_weights(f"openfold_params/{CHECKPOINT[config]}", f"params/params_{config}.npz")
    ws.msa_channel(real_msas())
    ws.extra.update(FOLDLINE_FOLD_ENGINE="real", FOLDLINE_OPENFOLD_WEIGHTS=weights)
    openfold.run(ws.training_env())
    (record,) = ws.records()
    return record["argv"]


def test_the_record_names_its_source():
    assert SPEC["openfold"]["repository"] == "aqlaboratory/openfold"
    assert re.fullmatch(r"[0-9a-f]{40}", SPEC["openfold"]["commit"])
    assert SPEC["script"] == "run_pretrained_openfold.py"
    assert SPEC["generated_by"] == "containers/openfold/parser_spec.py"


def test_the_image_builds_the_commit_whose_parser_is_recorded():
    dockerfile = (REPO / "containers" / "openfold" / "Dockerfile").read_text()
    commits = set(re.findall(r"^ARG OPENFOLD_COMMIT=([0-9a-f]{40})$", dockerfile, re.MULTILINE))
    assert commits == {SPEC["openfold"]["commit"]}


@pytest.mark.parametrize("weights", ["openfold", "alphafold-params"])
@pytest.mark.parametrize("model_preset", sorted(CONFIG))
def test_every_command_parses_with_openfolds_parser(workspace, model_preset, weights):
    argv = step_argv(workspace, model_preset, weights)
    args = parser_from_spec(SPEC).parse_args(argv)  # raises on an unknown flag or bad value
    given = [a.split("=", 1)[0] for a in argv if a.startswith("--")]
    assert len(given) == len(set(given)), "a flag given twice: argparse keeps the last silently"
    for flag in given:
        option = SPEC["options"][flag]
        assert not option.get("action", "").startswith("store_true"), f"{flag} takes no value"
    assert [args.fasta_dir, args.template_mmcif_dir] == [a for a in argv if not a.startswith("-")]
    assert args.config_preset in SPEC["config_presets"]
    if weights == "alphafold-params":
        # OpenFold names the model version after the file: params_<version>.npz
        assert Path(args.jax_param_path).name == f"params_{args.config_preset}.npz"
        assert args.openfold_checkpoint_path is None
    else:
        assert args.jax_param_path is None and args.openfold_checkpoint_path.endswith(".pt")


def test_every_config_preset_foldline_uses_exists_in_openfold():
    used = {preset for preset in openfold.CONFIG_PRESET.values() if preset is not None}
    assert used <= set(SPEC["config_presets"])
    assert set(openfold.CHECKPOINTS) == used


def test_a_flag_openfold_lacks_is_caught():
    """The check is not vacuous: a renamed flag, an abbreviation or a bad int fail."""
    parser = parser_from_spec(SPEC)
    for wrong in (["--model_devices=cpu"], ["--cpu=4"], ["--cpus=four"], ["--preset=small"]):
        with pytest.raises((argparse.ArgumentError, SystemExit)):
            parser.parse_args(["fasta", "mmcif", *wrong])


def test_parser_spec_reads_a_parser_from_source(tmp_path):
    """parser_spec.py on a small source tree: order, helpers in other modules, presets."""
    (tmp_path / "scripts").mkdir()
    (tmp_path / "openfold").mkdir()
    (tmp_path / "run_pretrained_openfold.py").write_text(
        "import argparse\n"
        "from scripts.utils import add_data_args\n"
        "def main(args):\n    pass\n"
        "if __name__ == '__main__':\n"
        "    parser = argparse.ArgumentParser()\n"
        "    parser.add_argument('fasta_dir', type=str, help='ignored')\n"
        "    parser.add_argument('--cpus', type=int, default=4)\n"
        "    add_data_args(parser)\n"
        "    parser.add_argument('mmcif_dir')\n"
        "    parser.add_argument('--flag', '-f', action='store_true', default=False)\n"
        "    main(parser.parse_args())\n"
    )
    (tmp_path / "scripts" / "utils.py").write_text(
        "def add_data_args(p):\n    p.add_argument('--preset', choices=('a', 'b'), default='a')\n"
    )
    (tmp_path / "openfold" / "config.py").write_text(
        "def model_config(name, train=False):\n"
        "    if name == 'model_1':\n        pass\n"
        "    elif name in ('model_2', 'model_3'):\n        pass\n"
        "    else:\n        raise ValueError(name)\n"
    )
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "containers" / "openfold" / "parser_spec.py"),
            "--source-dir",
            str(tmp_path),
            "--commit",
            "abc",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    spec = json.loads(done.stdout)
    assert [p["name"] for p in spec["positionals"]] == ["fasta_dir", "mmcif_dir"]
    assert list(spec["options"]) == ["--cpus", "--preset", "--flag", "-f"]
    assert spec["options"]["--cpus"] == {
        "defined_in": "run_pretrained_openfold.py",
        "type": "int",
        "default": 4,
        "dest": "cpus",
    }
    assert spec["options"]["--preset"]["defined_in"] == "scripts/utils.py"
    assert spec["options"]["--preset"]["choices"] == ["a", "b"]
    assert spec["options"]["-f"]["dest"] == "flag"
    assert spec["config_presets"] == ["model_1", "model_2", "model_3"]
    assert spec["openfold"]["commit"] == "abc"
    assert "help" not in json.dumps(spec)
