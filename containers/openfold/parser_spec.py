"""Record what OpenFold's ``run_pretrained_openfold.py`` accepts, read from its source with ``ast``.

    python containers/openfold/parser_spec.py --git-dir OPENFOLD_CLONE --commit v1.0.1 \\
        > tests/data/openfold-parser.json
    python containers/openfold/parser_spec.py --source-dir /opt/openfold --commit <sha>

Nothing is imported or run: the script's ``parser.add_argument(...)`` calls are read in the
order its ``__main__`` block makes them, following calls that hand ``parser`` to a helper of
the same repository (``add_data_args(parser)`` in ``scripts/utils.py``), and the config
presets are the names ``openfold/config.py``'s ``model_config`` compares its argument with.
Help texts are left out. The output names the commit it was read from; foldline's tests
check ``foldline.steps.openfold.openfold_command`` against it, and the image build checks
the same argv against the real parser (``check_parser.py``).
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = "run_pretrained_openfold.py"
CONFIG = "openfold/config.py"
PRESET_FUNCTION = "model_config"
#: keyword arguments of add_argument kept (help is upstream prose, not interface)
KEPT = ("dest", "type", "default", "choices", "action", "required", "nargs")


def _value(node: ast.AST) -> Any:
    """A literal as itself; a name (``str``, ``int``) as its name; else the source text."""
    if isinstance(node, ast.Name):
        return node.id
    try:
        return ast.literal_eval(node)
    except ValueError:
        return {"expression": ast.unparse(node)}


def _is_add_argument(call: ast.Call, parser: str) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr == "add_argument"
        and isinstance(func.value, ast.Name)
        and func.value.id == parser
    )


def _argument(call: ast.Call, defined_in: str) -> dict[str, Any]:
    names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    record: dict[str, Any] = {"names": names, "defined_in": defined_in}
    for keyword in call.keywords:
        if keyword.arg in KEPT:
            record[keyword.arg] = _value(keyword.value)
    if "dest" not in record:
        flags = [n for n in names if n.startswith("-")]
        longest = max(flags, key=len) if flags else names[0]
        record["dest"] = longest.lstrip("-").replace("-", "_")
    return record


def _imports(tree: ast.Module) -> dict[str, str]:
    """Imported name -> module (``add_data_args`` -> ``scripts.utils``)."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def _main_block(tree: ast.Module) -> list[ast.stmt]:
    for node in tree.body:
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name)
            and node.test.left.id == "__name__"
        ):
            return node.body
    raise SystemExit(f'{SCRIPT}: no `if __name__ == "__main__":` block')


def _collect(
    statements: list[ast.stmt],
    parser: str,
    where: str,
    tree: ast.Module,
    read: Callable[[str], str],
    out: list[dict],
) -> None:
    """add_argument calls on ``parser`` in statement order, helpers followed."""
    for statement in statements:
        for node in ast.walk(statement):
            if not isinstance(node, ast.Call):
                continue
            if _is_add_argument(node, parser):
                out.append(_argument(node, where))
                continue
            func = node.func
            passes_parser = any(isinstance(a, ast.Name) and a.id == parser for a in node.args)
            if not (passes_parser and isinstance(func, ast.Name)):
                continue
            index = [a.id if isinstance(a, ast.Name) else None for a in node.args].index(parser)
            local = _function(tree, func.id)
            if local is not None:
                helper_tree, helper, helper_where = tree, local, where
            else:
                module = _imports(tree).get(func.id)
                if module is None:
                    continue
                helper_where = module.replace(".", "/") + ".py"
                try:
                    helper_tree = ast.parse(read(helper_where))
                except FileNotFoundError:
                    continue  # not this repository's code
                helper = _function(helper_tree, func.id)
                if helper is None:
                    continue
            param = helper.args.args[index].arg
            _collect(helper.body, param, helper_where, helper_tree, read, out)


def config_presets(config_source: str) -> list[str]:
    """The preset names ``model_config(name, ...)`` accepts (``name == "..."``, ``name in (...)``)."""
    tree = ast.parse(config_source)
    function = _function(tree, PRESET_FUNCTION)
    if function is None:
        raise SystemExit(f"{CONFIG}: no function {PRESET_FUNCTION}")
    argument = function.args.args[0].arg
    names: list[str] = []
    for node in ast.walk(function):
        if not (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Name)
            and node.left.id == argument
        ):
            continue
        for op, right in zip(node.ops, node.comparators):
            if isinstance(op, ast.Eq) and isinstance(right, ast.Constant):
                names.append(right.value)
            elif isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List, ast.Set)):
                names += [e.value for e in right.elts if isinstance(e, ast.Constant)]
    return list(dict.fromkeys(names))


def parser_spec(read: Callable[[str], str]) -> dict[str, Any]:
    """The spec of run_pretrained_openfold.py's parser; ``read(path)`` returns a file's text."""
    tree = ast.parse(read(SCRIPT))
    main = _main_block(tree)
    parser_name, constructor = None, {}
    for statement in main:
        if (
            isinstance(statement, ast.Assign)
            and isinstance(statement.value, ast.Call)
            and ast.unparse(statement.value.func).endswith("ArgumentParser")
        ):
            parser_name = statement.targets[0].id  # type: ignore[attr-defined]
            constructor = {k.arg: _value(k.value) for k in statement.value.keywords if k.arg}
            break
    if parser_name is None:
        raise SystemExit(f"{SCRIPT}: no ArgumentParser in the __main__ block")
    arguments: list[dict] = []
    _collect(main, parser_name, SCRIPT, tree, read, arguments)
    positionals = [a for a in arguments if not a["names"][0].startswith("-")]
    options = {}
    for argument in arguments:
        if argument["names"][0].startswith("-"):
            for name in argument["names"]:
                options[name] = {k: v for k, v in argument.items() if k != "names"}
    return {
        "script": SCRIPT,
        "allow_abbrev": constructor.get("allow_abbrev", True),
        "positionals": [
            {k: v for k, v in a.items() if k != "names"} | {"name": a["names"][0]}
            for a in positionals
        ],
        "options": options,
        "config_presets": config_presets(read(CONFIG)),
        "config_presets_from": f"{CONFIG}:{PRESET_FUNCTION}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--git-dir", type=Path, help="a clone (or bare mirror) of OpenFold")
    where.add_argument("--source-dir", type=Path, help="a source tree of OpenFold")
    parser.add_argument("--commit", required=True, help="commit or tag (recorded as its sha)")
    parser.add_argument("--repository", default="aqlaboratory/openfold")
    args = parser.parse_args()
    ref = args.commit
    if args.git_dir:
        git = ["git", f"--git-dir={args.git_dir}"]
        sha = subprocess.run(
            [*git, "rev-parse", f"{ref}^{{commit}}"], check=True, capture_output=True, text=True
        ).stdout.strip()

        def read(path: str) -> str:
            done = subprocess.run(
                [*git, "show", f"{sha}:{path}"], capture_output=True, text=True, check=False
            )
            if done.returncode:
                raise FileNotFoundError(path)
            return done.stdout
    else:
        sha = ref

        def read(path: str) -> str:
            return (args.source_dir / path).read_text()

    spec = {
        "generated_by": "containers/openfold/parser_spec.py",
        "openfold": {
            "repository": args.repository,
            "commit": sha,
            **({"ref": ref} if ref != sha else {}),
        },
        **parser_spec(read),
    }
    json.dump(spec, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
