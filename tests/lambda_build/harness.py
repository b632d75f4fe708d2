"""The real `sam build`, a stand-in Lambda runtime image, and handlers run inside it.

- :func:`runtime_image` builds ``lambda-python.Dockerfile``: CPython 3.12 (the runtime's
  version; no Debian release ships it, so it is copied from a 3.12 installation on this
  machine, which ``functions/pip-for-lambda.sh runtime-python`` finds) in /var/lang with
  the runtime's boto3, on the Debian base image. AWS's own base image cannot be pulled
  here (no registry).
- :func:`sam_build` runs the SAM CLI (``.venv-sam``, see ``setup.sh``) on the real
  template.yaml with samconfig.toml. The one change: AnalysisFunction's base image is
  the stand-in (DockerBuildArgs BASE_IMAGE), written into a copy of the template.
- :func:`invoke` runs one handler in a container of that image with ONLY its build
  output (/var/task) and layer (/opt), read-only like Lambda's, against moto's server.

The build and the image are made once per test run, shared by xdist's workers (a file
lock; the second worker waits for the first and reuses its build).
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import embedded

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PIP_FOR_LAMBDA = ROOT / "functions" / "pip-for-lambda.sh"
SAM = ROOT / ".venv-sam" / "bin" / "sam"
BASE_IMAGE = "foldline-base/debian:bookworm"
#: the shared tool that makes BASE_IMAGE from Debian's mirror (shared/ lies beside the checkout)
BASE_IMAGE_TOOL = ROOT.parent / "shared" / "tools" / "local-base-image.sh"
RUNTIME_IMAGE = "foldline-test/lambda-python:3.12"
WORK = ROOT / ".aws-sam" / "lambda-tests"  # .aws-sam/ is git-ignored
BUILD_DIR = WORK / "build"
MARKER = "@@foldline-result@@"


def platform_fact(name: str) -> str:
    """``python-version`` or ``glibc`` of the Lambda platform, from its one definition."""
    return subprocess.run(
        [str(PIP_FOR_LAMBDA), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def runtime_python() -> Path | None:
    """A CPython of the runtime's version on this machine (what compileall uses too)."""
    done = subprocess.run(
        [str(PIP_FOR_LAMBDA), "runtime-python"], capture_output=True, text=True, check=False
    )
    return Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0


def _image_exists(tag: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", tag], capture_output=True, check=False
        ).returncode
        == 0
    )


@contextmanager
def _exclusive(name: str) -> Iterator[None]:
    WORK.mkdir(parents=True, exist_ok=True)
    with open(WORK / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _run_id() -> str:
    """One id per pytest run, the same in every xdist worker."""
    return os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"solo-{os.getpid()}"


def _once(name: str, make) -> Any:
    """``make()`` once per test run (across xdist workers); its JSON result is shared."""
    with _exclusive(name):
        record = WORK / f"{name}.json"
        if record.is_file():
            saved = json.loads(record.read_text())
            if saved.get("run") == _run_id():
                return saved["value"]
        value = make()
        record.write_text(json.dumps({"run": _run_id(), "value": value}))
        return value


def _check(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({done.returncode}):\n"
            f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
        )
    return done


# -- the stand-in runtime image ------------------------------------------------------------


def _runtime_context(python: Path, context: Path) -> None:
    """lang/: the CPython installation of ``python`` without its site-packages, plus the
    runtime's SDK installed for the Lambda platform."""
    prefix = Path(
        subprocess.run(
            [str(python), "-c", "import sys; print(sys.prefix)"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    version = platform_fact("python-version")
    lang = context / "lang"
    (lang / "bin").mkdir(parents=True)
    shutil.copy2(prefix / "bin" / f"python{version}", lang / "bin" / f"python{version}")
    (lang / "lib").mkdir()
    for shared in (prefix / "lib").glob(f"libpython{version}*.so*"):
        shutil.copy2(shared, lang / "lib" / shared.name, follow_symlinks=True)
    stdlib = f"python{version}"
    shutil.copytree(
        prefix / "lib" / stdlib,
        lang / "lib" / stdlib,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            "site-packages", "test", "idlelib", "tkinter", "turtledemo", "__pycache__"
        ),
    )
    _check(
        [
            str(PIP_FOR_LAMBDA),
            "install",
            str(lang / "lib" / stdlib / "site-packages"),
            str(HERE / "runtime-requirements.txt"),
        ]
    )


def _ensure_base_image() -> None:
    if _image_exists(BASE_IMAGE):
        return
    if not BASE_IMAGE_TOOL.is_file():
        raise RuntimeError(f"{BASE_IMAGE} is missing and {BASE_IMAGE_TOOL} is not there to make it")
    _check(["bash", str(BASE_IMAGE_TOOL), BASE_IMAGE, "bookworm"])


def runtime_image() -> str:
    """The stand-in runtime image's tag, built once per test run (Docker caches its layers)."""

    def make() -> str:
        python = runtime_python()
        if python is None:
            raise RuntimeError(
                f"no Python {platform_fact('python-version')} on this machine "
                "(functions/pip-for-lambda.sh runtime-python found none)"
            )
        _ensure_base_image()
        with tempfile.TemporaryDirectory() as context:
            _runtime_context(python, Path(context))
            _check(
                [
                    "docker",
                    "build",
                    "--quiet",
                    "--build-arg",
                    f"BASE_IMAGE={BASE_IMAGE}",
                    "-f",
                    str(HERE / "lambda-python.Dockerfile"),
                    "-t",
                    RUNTIME_IMAGE,
                    context,
                ]
            )
        return RUNTIME_IMAGE

    return _once("runtime-image", make)


# -- sam build ---------------------------------------------------------------------------------


def build_template() -> dict[str, Any]:
    """template.yaml with AnalysisFunction built FROM the stand-in instead of AWS's image."""
    template = embedded.load_template(ROOT / "template.yaml")
    metadata = template["Resources"]["AnalysisFunction"]["Metadata"]
    metadata["DockerBuildArgs"] = {
        **metadata.get("DockerBuildArgs", {}),
        "BASE_IMAGE": RUNTIME_IMAGE,
    }
    return template


@dataclass(frozen=True)
class Build:
    directory: Path
    template: dict[str, Any]  # the built template sam wrote
    seconds: float
    log: str

    def artifacts(self, logical_id: str) -> Path:
        return self.directory / logical_id

    def image(self, logical_id: str) -> str:
        return self.template["Resources"][logical_id]["Properties"]["ImageUri"]


def sam_build() -> Build:
    """`sam build` of the real template (with samconfig.toml), once per test run."""

    def make() -> dict[str, Any]:
        if not SAM.is_file():
            raise RuntimeError(f"{SAM} is missing: run tests/lambda_build/setup.sh")
        runtime_image()  # AnalysisFunction's base
        template = WORK / "template.json"
        template.write_text(json.dumps(build_template(), indent=1))
        env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "LAMBDA_PYTHON": str(runtime_python())}
        started = time.monotonic()
        done = _check(
            [
                str(SAM),
                "build",
                "--template-file",
                str(template),
                "--base-dir",
                str(ROOT),
                "--config-file",
                str(ROOT / "samconfig.toml"),
                "--build-dir",
                str(BUILD_DIR),
            ],
            cwd=ROOT,
            env=env,
            timeout=1800,
        )
        return {"seconds": time.monotonic() - started, "log": done.stdout + done.stderr}

    result = _once("sam-build", make)
    built = embedded.load_template(BUILD_DIR / "template.yaml")
    return Build(BUILD_DIR, built, result["seconds"], result["log"])


# -- running a handler ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Invocation:
    result: Any
    report: dict[str, Any]  # what the driver saw: modules' origins, connections at init
    output: str  # the function's own stdout/stderr (logs, metrics)


def invoke(
    image: str,
    handler: str,
    event: dict,
    env: dict[str, str],
    *,
    task: Path | None = None,
    layer: Path | None = None,
    timeout: int = 300,
) -> Invocation:
    """Run ``handler`` on ``event`` in a container of ``image``, as Lambda would.

    ``task`` and ``layer`` (a zip function's build output and its layer's) are mounted
    read-only at /var/task and /opt; an image function brings its own /var/task. The
    root file system is read-only too, with /tmp writable, as in Lambda. The network is
    the host's, so moto's server on 127.0.0.1 answers.
    """
    command = [
        "docker",
        "run",
        "--rm",
        "-i",
        "--network",
        "host",
        "--read-only",
        "--tmpfs",
        "/tmp:rw,exec,size=512m",
        "-v",
        f"{HERE / 'driver.py'}:/harness/driver.py:ro",
    ]
    if task is not None:
        command += ["-v", f"{task}:/var/task:ro"]
    if layer is not None:
        command += ["-v", f"{layer}:/opt:ro"]
    for name, value in env.items():
        command += ["-e", f"{name}={value}"]
    command += [image, "python3.12", "-I", "/harness/driver.py", handler]
    done = subprocess.run(
        command,
        input=json.dumps(event),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode != 0 or not lines:
        raise AssertionError(
            f"the handler did not finish ({done.returncode}):\n"
            f"{done.stdout[-8000:]}\n{done.stderr[-8000:]}"
        )
    payload = json.loads(lines[-1][len(MARKER) :])
    return Invocation(payload["result"], payload["report"], done.stdout + done.stderr)


def notices(cloud) -> list[dict]:
    """Every notice published since the last call (SNS envelopes)."""
    sqs, out = cloud.client("sqs"), []
    while True:
        got = sqs.receive_message(QueueUrl=cloud.notices_url, MaxNumberOfMessages=10)
        if not got.get("Messages"):
            return out
        for message in got["Messages"]:
            out.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=cloud.notices_url, ReceiptHandle=message["ReceiptHandle"])


def tree_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def require(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is needed (Debian binutils)"
    return found
