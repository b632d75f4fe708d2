"""What `sam build` made, checked against the Lambda platform (python3.12, Amazon Linux
2023: glibc 2.34, x86_64) rather than against this machine.

Each zip function's folder holds exactly its lock, the layer holds foldline alone, the
analysis image's /var/task holds its lock and foldline; every package's dependencies are
met inside the function with the runtime's own boto3; every wheel's tags and every
shared object's glibc needs fit the platform; the bytecode is Python 3.12's.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from packaging import tags
from packaging.markers import default_environment
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from pipeline import embedded
from tests.lambda_build import harness

ZIP_FUNCTIONS = {
    "StartPipelineFunction": "start_pipeline",
    "NotifyFunction": "notify",
    "ProgressFunction": "progress",
}
LAMBDA_ZIP_LIMIT = 250 * 1024 * 1024  # unzipped, the function and all its layers


def lock(path: Path) -> dict[str, tuple[Version, set[str]]]:
    """name -> (pinned version, extras asked for) of a requirements lock."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            (spec,) = requirement.specifier
            pins[canonicalize_name(requirement.name)] = (
                Version(spec.version),
                set(requirement.extras),
            )
    return pins


def distributions(folder: Path) -> dict[str, Metadata]:
    found = {}
    for info in folder.glob("*.dist-info"):
        metadata = Metadata.from_email(
            (info / "METADATA").read_text(encoding="utf-8"), validate=False
        )
        found[canonicalize_name(metadata.name)] = metadata
    return found


def wheel_tags(folder: Path) -> dict[str, set[str]]:
    return {
        info.name: {
            line.split(":", 1)[1].strip()
            for line in (info / "WHEEL").read_text().splitlines()
            if line.startswith("Tag:")
        }
        for info in folder.glob("*.dist-info")
    }


def platform_environment() -> dict[str, str]:
    """PEP 508 marker values of the Lambda runtime (not this machine's)."""
    version = harness.platform_fact("python-version")
    env = default_environment()
    env.update(
        python_version=version,
        python_full_version=f"{version}.0",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        os_name="posix",
        implementation_name="cpython",
        platform_python_implementation="CPython",
    )
    return env


@pytest.fixture(scope="module")
def code(build, analysis_task) -> dict[str, list[Path]]:
    """What each function runs: its folders on sys.path, first to last (no runtime)."""
    layer = build.artifacts("FoldlineLayer") / "python"
    folders = {name: [build.artifacts(name), layer] for name in ZIP_FUNCTIONS}
    folders["AnalysisFunction"] = [analysis_task]
    return folders


def test_sam_build_made_every_function_and_the_layer_from_the_real_template(build):
    real = embedded.load_template(harness.ROOT / "template.yaml")
    built = harness.build_template()
    # the template sam built differs from template.yaml in one value: the analysis
    # image's base, a stand-in for public.ecr.aws/lambda/python:3.12 (no registry here)
    assert built["Resources"]["AnalysisFunction"]["Metadata"].pop("DockerBuildArgs") == {
        "BASE_IMAGE": harness.RUNTIME_IMAGE
    }
    assert built == real
    resources = build.template["Resources"]
    for name in ZIP_FUNCTIONS:
        assert resources[name]["Properties"]["CodeUri"] == name
        assert (build.artifacts(name) / "app.py").is_file()
        assert resources[name]["Properties"]["Layers"] == [{"Ref": "FoldlineLayer"}]
    assert resources["FoldlineLayer"]["Properties"]["ContentUri"] == "FoldlineLayer"
    assert (build.artifacts("FoldlineLayer") / "python" / "foldline" / "__init__.py").is_file()
    image = build.image("AnalysisFunction")
    assert (
        subprocess.run(
            ["docker", "image", "inspect", image], capture_output=True, check=False
        ).returncode
        == 0
    )


@pytest.mark.parametrize("name", ZIP_FUNCTIONS)
def test_a_zip_function_holds_exactly_its_lock(build, name):
    pins = lock(harness.ROOT / "functions" / ZIP_FUNCTIONS[name] / "requirements.txt")
    found = {n: m.version for n, m in distributions(build.artifacts(name)).items()}
    assert found == {n: version for n, (version, _) in pins.items()}
    modules = {p.name for p in build.artifacts(name).iterdir()}
    assert "foldline" not in modules  # it comes from the layer, once


def test_the_layer_holds_foldline_alone(build):
    python = build.artifacts("FoldlineLayer") / "python"
    assert set(distributions(python)) == {"foldline"}
    assert {p.name for p in python.iterdir() if not p.name.endswith(".dist-info")} == {"foldline"}


def test_the_layer_and_the_analysis_image_ship_neither_the_command_nor_the_local_mode(
    build, analysis_task
):
    """foldline/cli/ and foldline/local/ are the edge: no function imports them."""
    for package in (
        build.artifacts("FoldlineLayer") / "python" / "foldline",
        analysis_task / "foldline",
    ):
        assert (package / "intake" / "start.py").is_file()
        assert not (package / "cli").exists() and not (package / "local").exists()


def test_the_analysis_image_holds_its_lock_and_foldline(analysis_task):
    pins = lock(harness.ROOT / "functions" / "analysis" / "requirements.txt")
    found = {n: m.version for n, m in distributions(analysis_task).items()}
    assert found.pop("foldline")
    assert found == {n: version for n, (version, _) in pins.items()}


@pytest.mark.parametrize("name", [*ZIP_FUNCTIONS, "AnalysisFunction"])
def test_every_dependency_is_met_inside_the_function_with_the_runtimes_boto3(code, name):
    """The locks install with --no-deps: nothing checks them but this."""
    runtime = lock(harness.HERE / "runtime-requirements.txt")
    function_lock = (
        harness.ROOT
        / "functions"
        / ("analysis" if name == "AnalysisFunction" else ZIP_FUNCTIONS[name])
        / "requirements.txt"
    )
    extras = {n: e for n, (_, e) in lock(function_lock).items()}
    available: dict[str, Version] = {n: v for n, (v, _) in runtime.items()}
    installed: dict[str, Metadata] = {}
    for folder in reversed(code[name]):  # earlier folders shadow later ones, as on sys.path
        installed.update(distributions(folder))
    available.update({n: m.version for n, m in installed.items()})
    env = platform_environment()
    unmet = []
    for dist, metadata in installed.items():
        if dist == "foldline":  # its metadata lists the command's and local mode's libraries;
            continue  # a function ships the subset it imports (the handler tests import it)
        for requirement in metadata.requires_dist or []:
            wanted = extras.get(dist, set()) or {""}
            if requirement.marker and not any(
                requirement.marker.evaluate({**env, "extra": e}) for e in wanted
            ):
                continue
            have = available.get(canonicalize_name(requirement.name))
            if have is None or not requirement.specifier.contains(have, prereleases=True):
                unmet.append(f"{dist} needs {requirement} (has {have})")
    assert not unmet


@pytest.mark.parametrize("name", [*ZIP_FUNCTIONS, "AnalysisFunction"])
def test_every_wheel_is_tagged_for_the_runtime(code, name):
    version = tuple(int(x) for x in harness.platform_fact("python-version").split("."))
    glibc_minor = int(harness.platform_fact("glibc").split(".")[1])
    platforms = [f"manylinux_2_{m}_x86_64" for m in range(glibc_minor, 4, -1)]
    platforms += [
        "manylinux2014_x86_64",
        "manylinux2010_x86_64",
        "manylinux1_x86_64",
        "linux_x86_64",
    ]
    supported = {str(t) for t in tags.cpython_tags(version, platforms=platforms)}
    supported |= {str(t) for t in tags.compatible_tags(version, platforms=platforms)}
    wrong = {}
    for folder in code[name]:
        for wheel, tagged in wheel_tags(folder).items():
            if not tagged & supported:
                wrong[wheel] = sorted(tagged)
    assert not wrong


GLIBC_NEED = re.compile(r"Name: GLIBC_(\d+)\.(\d+)")
GLIBCXX_NEED = re.compile(r"Name: GLIBCXX_3\.4\.(\d+)")
#: Amazon Linux 2023's libstdc++ (GCC 11) provides GLIBCXX_3.4.29 at most
GLIBCXX_MAX = 29


def elf_files(folder: Path) -> list[Path]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and (".so" in path.name or path.suffix == ""):
            with open(path, "rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    found.append(path)
    return found


@pytest.mark.parametrize("name", [*ZIP_FUNCTIONS, "AnalysisFunction"])
def test_no_shared_object_needs_a_newer_glibc_than_the_runtimes(code, name):
    readelf = harness.require("readelf")
    glibc_minor = int(harness.platform_fact("glibc").split(".")[1])
    too_new, checked = {}, 0
    for folder in code[name]:
        for path in elf_files(folder):
            needs = subprocess.run(
                [readelf, "-V", "-W", str(path)], capture_output=True, text=True, check=True
            ).stdout
            checked += 1
            glibc = max(
                (int(minor) for major, minor in GLIBC_NEED.findall(needs) if major == "2"),
                default=0,
            )
            glibcxx = max((int(n) for n in GLIBCXX_NEED.findall(needs)), default=0)
            if glibc > glibc_minor or glibcxx > GLIBCXX_MAX:
                too_new[str(path.relative_to(folder))] = (
                    f"GLIBC_2.{glibc}",
                    f"GLIBCXX_3.4.{glibcxx}",
                )
    assert not too_new
    if name in ("StartPipelineFunction", "AnalysisFunction"):
        assert checked > 0  # numpy's extension modules at least: the check looked at something


@pytest.mark.parametrize("name", [*ZIP_FUNCTIONS, "AnalysisFunction"])
def test_bytecode_is_the_runtimes_and_nothing_else(code, name):
    tag = "cpython-" + harness.platform_fact("python-version").replace(".", "")
    missing, foreign = [], []
    for folder in code[name]:
        for source in folder.rglob("*.py"):
            if not (source.parent / "__pycache__" / f"{source.stem}.{tag}.pyc").is_file():
                missing.append(str(source.relative_to(folder)))
        foreign += [
            str(p.relative_to(folder)) for p in folder.rglob("*.pyc") if f".{tag}." not in p.name
        ]
    assert not foreign  # pip compiles for its own interpreter unless told not to
    assert not missing


@pytest.mark.parametrize("name", ZIP_FUNCTIONS)
def test_a_zip_function_with_its_layer_fits_lambdas_limit(code, name):
    size = sum(harness.tree_size(folder) for folder in code[name])
    assert size < LAMBDA_ZIP_LIMIT, f"{name}: {size / 2**20:.0f} MiB unzipped"


def test_the_analysis_image_scores_interfaces_with_dockq(build):
    """dockq-rs (a wheel for the platform) runs in the analysis image, on its Python, and
    gives DockQ's recorded figure for the moved 3U8V chain (tests/data/complexes)."""
    complexes = harness.ROOT / "tests" / "data" / "complexes"
    program = (
        "import json; from pathlib import Path; "
        "from foldline.analysis.interfaces import score_interfaces; "
        "(s,) = score_interfaces(Path('/c/3u8v_reference.pdb'), ['A', 'B'], "
        "Path('/c/3u8v_B_short_moved12.pdb'), ['A', 'B'], {'A': 'A', 'B': 'B'}); "
        "print(json.dumps(s.as_dict('alphafold', 'openfold')))"
    )
    done = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            "/tmp",
            "-v",
            f"{complexes}:/c:ro",
            "--entrypoint",
            "python3",
            build.image("AnalysisFunction"),
            "-c",
            program,
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    (recorded,) = [
        r
        for r in json.loads((complexes / "reference_scores.json").read_text())["dockq"]
        if r["model"] == "3u8v_B_short_moved12.pdb"
    ]
    for key in ("dockq", "irmsd", "lrmsd", "fnat"):
        assert found[key] == pytest.approx(recorded[key], abs=5.1e-4), key
