"""Stopping ``foldline local`` as people and machines stop it, as real processes: Ctrl-C
(SIGINT) with uploads queued, SIGTERM mid-run, ``kill -9`` a moment after an upload and
mid-run; and ``local run`` beside ``local serve`` on one work folder (issue 16).

After each stop a new ``foldline local serve`` on the same work folder must finish every
run whose id was printed (or announce it): nothing lost, nothing stuck.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from foldline.cli.stack_config import RUNS_TABLE, resolve
from foldline.local.outbox import read_notice
from foldline.runs import table as runs
from foldline.runs.table import RunsTable

from .conftest import DNA_FASTA, EXAMPLE


class Foldline:
    """One ``foldline local ...`` process, its output collected as it comes."""

    def __init__(self, *args: str, cwd: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "foldline.cli.app", "local", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [line for line in self.lines if text in line]
            if found:
                return found[-1]
            if self.proc.poll() is not None:
                self._reader.join(timeout=5)
                break
            time.sleep(0.1)
        raise AssertionError(f"no {text!r} in the output:\n{self.output}")

    def stop(self, sig: int, timeout: float = 120) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code


@pytest.fixture
def processes():
    started: list[Foldline] = []

    def start(*args: str, cwd: Path) -> Foldline:
        process = Foldline(*args, cwd=cwd)
        started.append(process)
        return process

    yield start
    for process in started:  # never leave one behind
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait(timeout=30)


def serve(processes, work: Path) -> Foldline:
    process = processes("serve", "--workdir", str(work), cwd=work.parent)
    process.wait_for("drop FASTA files into")
    return process


def runs_table(work: Path) -> RunsTable:
    """The runs table of the local cloud that runs on ``work`` now (from another process)."""
    config = resolve(local=True, workdir=work, env={})
    return RunsTable(config.outputs[RUNS_TABLE], dynamodb=config.client("dynamodb"))


def wait_final(work: Path, run_ids: list[str], timeout: float = 300) -> dict[str, dict]:
    table = runs_table(work)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        items = {run_id: table.get(run_id) for run_id in run_ids}
        if all(
            i
            and i["status"] in runs.FINAL_STATUSES
            and (i.get("notice_message_id") or i["status"] == runs.REJECTED)
            for i in items.values()
        ):
            return items
        time.sleep(0.5)
    raise AssertionError(
        f"runs not final: { {r: (i or {}).get('status') for r, i in items.items()} }"
    )


def wait_status(work: Path, run_id: str, status: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            item = runs_table(work).get(run_id)
        except Exception:  # noqa: BLE001 - the cloud is starting
            item = None
        if item and item.get("status") == status:
            return
        time.sleep(0.2)
    raise AssertionError(f"{run_id} never became {status}")


def notices(work: Path, *, expect: list[tuple[str, str]] = (), timeout: float = 60) -> list:
    """The outbox's notices, once those in ``expect`` ((status, run id) pairs) are there
    (SNS has taken a notice a moment before the outbox writes it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [read_notice(p) for p in sorted((work / "outbox").glob("*.eml"))]
        have = {(n.status, n.run_id) for n in found}
        if all(e in have for e in expect) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def drop(work: Path, source: Path, name: str) -> None:
    """Put a file in the drop folder the way a careful copy does (written, then renamed)."""
    (work / "drop").mkdir(parents=True, exist_ok=True)
    partial = work / "drop" / f".{name}.part"
    shutil.copyfile(source, partial)
    partial.rename(work / "drop" / name)


def test_ctrl_c_with_uploads_queued_loses_none_of_them(processes, tmp_path):
    work = tmp_path / "work"
    files = [EXAMPLE]
    for i in range(12):
        path = tmp_path / f"dna{i:02d}.fasta"
        path.write_text(DNA_FASTA)
        files.append(path)
    run = processes("run", *map(str, files), "--workdir", str(work), cwd=tmp_path)
    run.wait_for("dna02.fasta: run ")

    assert run.stop(signal.SIGINT) == 130
    printed = {
        line.split(": run ")[0]: line.split(": run ")[1].strip()
        for line in run.lines
        if ": run " in line
    }
    assert "resume when" in run.output or "state saved" in run.output

    serve(processes, work)
    items = wait_final(work, list(printed.values()))

    assert items[printed[str(EXAMPLE)]]["status"] == "Succeeded"
    rejected = [run_id for name, run_id in printed.items() if "dna" in name]
    assert all(items[r]["status"] == "Rejected" for r in rejected)
    expected = [
        ("succeeded" if items[r]["status"] == "Succeeded" else "rejected", r)
        for r in printed.values()
    ]
    told = Counter(
        n.run_id for n in notices(work, expect=expected) if n.status in ("rejected", "succeeded")
    )
    assert all(told[run_id] == 1 for run_id in printed.values()), told  # one result notice each
    assert set(told.values()) == {1}  # (an upload made as Ctrl-C came, its id unprinted, too)


def test_sigterm_mid_run_saves_the_state_and_the_run_resumes(processes, tmp_path):
    work = tmp_path / "work"
    first = serve(processes, work)
    drop(work, EXAMPLE, "xylanase.fasta")
    run_id = first.wait_for("uploaded inputs/xylanase.fasta").rsplit("run ", 1)[1].strip()
    wait_status(work, run_id, runs.EXECUTING)

    assert first.stop(signal.SIGTERM) == 0
    assert "1 run(s) not finished" in first.output and run_id in first.output
    assert not (work / "local-cloud.json").exists()

    second = serve(processes, work)
    second.wait_for("1 interrupted run(s) started again")
    item = wait_final(work, [run_id])[run_id]

    assert item["status"] == "Succeeded"
    expected = [("interrupted", run_id), ("succeeded", run_id)]
    kinds = [(n.status, n.run_id) for n in notices(work, expect=expected)]
    assert ("interrupted", run_id) in kinds and ("succeeded", run_id) in kinds


def test_kill_9_a_moment_after_an_upload_loses_nothing(processes, tmp_path):
    work = tmp_path / "work"
    dna = tmp_path / "dna.fasta"
    dna.write_text(DNA_FASTA)
    first = serve(processes, work)
    drop(work, dna, "dna.fasta")
    run_id = first.wait_for("uploaded inputs/dna.fasta").rsplit("run ", 1)[1].strip()
    first.stop(signal.SIGKILL)  # no time to save anything else

    serve(processes, work)
    item = wait_final(work, [run_id])[run_id]

    assert item["status"] == "Rejected"
    found = notices(work, expect=[("rejected", run_id)])
    assert [n.run_id for n in found if n.status == "rejected"] == [run_id]


def test_kill_9_mid_run_the_run_is_announced_and_finished(processes, tmp_path):
    work = tmp_path / "work"
    first = serve(processes, work)
    drop(work, EXAMPLE, "xylanase.fasta")
    run_id = first.wait_for("uploaded inputs/xylanase.fasta").rsplit("run ", 1)[1].strip()
    wait_status(work, run_id, runs.EXECUTING)
    first.stop(signal.SIGKILL)

    second = serve(processes, work)
    item = wait_final(work, [run_id])[run_id]

    assert item["status"] == "Succeeded"
    assert "started again" in second.output or "taken up" in second.output
    found = notices(work, expect=[("succeeded", run_id)])
    assert ("succeeded", run_id) in [(n.status, n.run_id) for n in found]


def test_run_beside_serve_on_one_work_folder_is_refused_clearly(processes, tmp_path):
    work = tmp_path / "work"
    first = serve(processes, work)
    state_file = (work / "local-cloud.json").read_text()
    dna = tmp_path / "dna.fasta"
    dna.write_text(DNA_FASTA)

    second = processes("run", str(dna), "--workdir", str(work), cwd=tmp_path)
    code = second.proc.wait(timeout=120)
    second._reader.join(timeout=10)

    assert code == 2
    assert f"work folder {work} is in use by another" in second.output
    assert str(first.proc.pid) in second.output
    assert (work / "local-cloud.json").read_text() == state_file  # the first's, untouched
    assert first.proc.poll() is None
    third = processes("serve", "--workdir", str(work), cwd=tmp_path)
    assert third.proc.wait(timeout=120) == 2 and "in use by another" in third.output
    assert first.stop(signal.SIGINT) == 0
