"""Parse foldline's argv with OpenFold's own parser: the image build fails where they disagree.

    check_parser.py ARGV.json        (a JSON list of argv lists, from sample_argv.py)

Runs in OpenFold's venv. Each argv is ``[python, .../run_pretrained_openfold.py, args...]``;
the script is run as ``__main__`` (its imports and module code, OpenFold's kernel included)
with ``ArgumentParser.parse_args`` wrapped so that, once OpenFold's parser has parsed the
arguments, the run stops before ``main()``. Then, beyond what argparse itself checks:

- every ``--flag`` is one of the parser's option strings as written (argparse would also
  take an abbreviation, which a renamed flag could silently match);
- the two positionals land where OpenFold reads them (fasta_dir, template_mmcif_dir);
- ``--config_preset`` is a preset ``openfold.config.model_config`` builds;
- ``--jax_param_path`` is named ``params_<config preset>.npz`` (OpenFold derives the model
  version from the file name).
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path


class Parsed(Exception):
    """Raised by the wrapped parse_args with (parser, namespace)."""


def parse_with_openfold(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    script = Path(argv[1])
    original = argparse.ArgumentParser.parse_args

    def parse_and_stop(self, args=None, namespace=None):
        raise Parsed(self, original(self, args, namespace))

    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(script), *argv[2:]]
    sys.path.insert(0, str(script.parent))  # as `python script.py` would
    argparse.ArgumentParser.parse_args = parse_and_stop
    try:
        runpy.run_path(str(script), run_name="__main__")
    except Parsed as parsed:
        return parsed.args
    finally:
        argparse.ArgumentParser.parse_args = original
        sys.argv, sys.path[:] = saved_argv, saved_path
    raise SystemExit(f"{script.name} ran without parsing its arguments")


def problems(
    argv: list[str], parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[str]:
    found = []
    flags = [a.split("=", 1)[0] for a in argv[2:] if a.startswith("-")]
    for name in flags:
        if name not in parser._option_string_actions:
            found.append(f"{name} is not one of the parser's options (an abbreviation at best)")
    positionals = [a for a in argv[2:] if not a.startswith("-")]
    if [args.fasta_dir, args.template_mmcif_dir] != positionals:
        found.append(
            f"positionals {positionals} parsed as fasta_dir={args.fasta_dir!r}, "
            f"template_mmcif_dir={args.template_mmcif_dir!r}"
        )
    from openfold.config import model_config

    try:
        model_config(args.config_preset)
    except Exception as err:  # noqa: BLE001 - model_config raises ValueError for an unknown name
        found.append(f"--config_preset={args.config_preset}: {type(err).__name__}: {err}")
    if args.jax_param_path and Path(args.jax_param_path).name != f"params_{args.config_preset}.npz":
        found.append(
            f"--jax_param_path {args.jax_param_path} is not params_{args.config_preset}.npz"
        )
    return found


def main() -> None:
    argvs = json.loads(Path(sys.argv[1]).read_text())
    failed = False
    for argv in argvs:
        try:
            parser, args = parse_with_openfold(argv)
        except SystemExit as exit_:  # argparse printed why
            print(f"OpenFold's parser rejected: {' '.join(argv[1:])} ({exit_})", file=sys.stderr)
            failed = True
            continue
        for problem in problems(argv, parser, args):
            print(f"{problem}\n  in: {' '.join(argv[1:])}", file=sys.stderr)
            failed = True
    if failed:
        raise SystemExit(
            "foldline's OpenFold command does not fit this OpenFold's parser: fix "
            "foldline/steps/openfold.py (and tests/data/openfold-parser.json)"
        )
    print(f"OpenFold's parser accepts foldline's argv ({len(argvs)} combinations)")


if __name__ == "__main__":
    main()
