"""README's two opening commands stay true to what CI and a new user run."""

from __future__ import annotations

import re

from tests.infra.conftest import ROOT

README = (ROOT / "README.md").read_text()
DEPLOYMENT = (ROOT / "docs" / "deployment.md").read_text()
CI = (ROOT / ".ci" / "run").read_text()


def _first_block_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", README, re.DOTALL).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_setup_plus_demo_then_the_tests():
    setup, tests = _first_block_commands()
    assert "pip install -e '.[dev]'" in setup
    assert "foldline local run examples/" in setup
    assert (ROOT / setup.rsplit(" ", 1)[1]).is_file()  # the demo's FASTA is bundled
    assert "pytest" in tests


def test_ci_runs_exactly_readmes_test_command():
    _, tests = _first_block_commands()
    ci_commands = [line for line in CI.splitlines() if line and not line.startswith("#")]
    assert ci_commands[-1] == tests


def test_ci_checks_style_and_layers_before_the_tests():
    """ruff (lint and format) and import-linter's contracts gate CI, ahead of the suite."""
    ci_commands = [line for line in CI.splitlines() if line and not line.startswith("#")]
    checks = [".venv/bin/ruff check .", ".venv/bin/ruff format --check .", ".venv/bin/lint-imports"]
    for check in checks:
        assert check in ci_commands, check
        assert ci_commands.index(check) < len(ci_commands) - 1  # before README's test command


# -- the deployment guide (docs/deployment.md): commands a person runs as written


def _deploy_commands() -> list[str]:
    """Every command line of docs/deployment.md (comments and prompts cut off)."""
    section = DEPLOYMENT[DEPLOYMENT.index("<!-- section: deploy -->") :]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.DOTALL):
        for line in block.splitlines():
            command = re.split(r"\s+#\s", line, maxsplit=1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


DEPLOY = _deploy_commands()


def test_the_deployment_section_has_its_steps_in_order():
    wanted = [
        "containers/build_and_push.sh",
        "sam build",
        "sam deploy --guided",
        "foldline setup databases",
        "foldline submit",
        "sam delete",
    ]
    found = [next(i for i, c in enumerate(DEPLOY) if c.startswith(w)) for w in wanted]
    assert found == sorted(found), list(zip(wanted, found))


def test_no_deploy_command_leaves_a_placeholder_of_dots():
    """`...` in a command is something a person cannot run; name what goes there instead."""
    assert len(DEPLOY) >= 15
    for command in DEPLOY:
        assert "..." not in command and "…" not in command, command


def test_the_foldline_commands_of_the_deployment_parse_with_the_real_cli(monkeypatch):
    """Each `foldline` line runs through the real app as far as its first AWS call (which a
    stand-in for the stack lookup stops): an unknown option or a missing one fails here."""
    import shlex

    from typer.testing import CliRunner

    from foldline.cli import common
    from foldline.cli.app import app

    class Reached(Exception):
        pass

    def connect(*_args):
        raise Reached("parsed")

    monkeypatch.setattr(common.StackOptions, "connect", connect)
    used = [c for c in DEPLOY if c.startswith("foldline ")]
    assert any(c.startswith("foldline setup databases --preset") for c in used)
    for command in used:
        args = shlex.split(command.split(" > ")[0])[1:]
        result = CliRunner().invoke(app, args, env={"NO_COLOR": "1"})
        assert "Usage:" not in result.output and isinstance(result.exception, SystemExit), (
            command,
            result.output,
        )
        assert "unexpected Reached: parsed" in result.output, (command, result.output)


def test_the_deploy_overrides_name_real_parameters_and_every_required_one():
    from pipeline import embedded

    template = embedded.load_template()
    (command,) = [c for c in DEPLOY if c.startswith("sam deploy --parameter-overrides")]
    given = set(re.findall(r"\b([A-Z][A-Za-z0-9]+)=", command))
    images = set(
        re.findall(r"(\w+ImageUri)=", (ROOT / "containers" / "build_and_push.sh").read_text())
    )
    assert "--print-uris" in command and images == {
        "MsaImageUri",
        "AlphaFoldImageUri",
        "OpenFoldImageUri",
    }
    assert given <= set(template["Parameters"])
    required = {name for name, spec in template["Parameters"].items() if "Default" not in spec}
    assert required <= given | images, required - given - images


def test_files_the_deployment_runs_exist():
    for command in DEPLOY:
        first = command.split()[0]
        if "/" in first and not first.startswith(("$", ".venv")):
            assert (ROOT / first).is_file(), command
    assert any("examples/xylanase.fasta" in c for c in DEPLOY)
    assert (ROOT / "examples" / "xylanase.fasta").is_file()
