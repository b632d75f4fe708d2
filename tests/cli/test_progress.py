"""The one progress display (foldline.cli.progress) as both commands draw it."""

from __future__ import annotations

import io

from rich.console import Console

from foldline.cli import progress
from foldline.spec.statuses import STEP_SKIPPED

RUN = "t1030-0123456789abcdef0123456789abcdef"
T0 = "2026-11-26T10:00:00+00:00"


def _item(**steps):
    return {
        "run_id": RUN,
        "status": "Executing",
        "started_at": T0,
        "steps": {name: {"status": s, "started_at": T0} for name, s in steps.items()},
    }


def _draw(item, skipped=frozenset(), width=80):
    console = Console(width=width, no_color=True, record=True, file=io.StringIO())
    console.print(progress.board([progress.run_state("T1030.fasta", RUN, item, skipped)]))
    return console.export_text().rstrip("\n").splitlines()


def test_the_board_keeps_its_columns_while_the_run_moves_on():
    """From queued to both engines running to done, at 80 columns: the same header, the
    same column starts, no line over 80."""
    states = [
        None,
        _item(RunMSA="Executing"),
        _item(RunMSA="Succeeded", RunAlphaFold="Executing", RunOpenFold="Executing"),
        _item(RunMSA="Succeeded", RunAlphaFold="Succeeded", RunOpenFold="Succeeded"),
    ]
    boards = [_draw(s, frozenset({"RunOpenFold"}) if s and len(s["steps"]) == 3 else frozenset())
              for s in states]  # fmt: skip
    headers = {b[0] for b in boards}
    assert len(headers) == 1 and all(len(line) <= 80 for b in boards for line in b)
    header = boards[0][0]
    starts = [header.index(name) for name in ("Status", "MSA", "AlphaFold", "OpenFold")]
    running = boards[2][2]
    assert [running[i : i + 9].split()[0] for i in starts] == ["Executing", "✓", "…", "…"]
    done = boards[3][2]
    assert done[starts[3] :].split()[0] == STEP_SKIPPED  # not a tick
    assert done[starts[2] :].split()[0] == "✓"


def test_the_piped_line_has_no_times_and_changes_only_with_the_run():
    log = progress.ChangeLog()
    item = _item(RunMSA="Succeeded", RunAlphaFold="Executing", RunOpenFold="Executing")
    (line,) = log.lines([progress.run_state("T1030.fasta", RUN, item)])
    assert line.split(" ", 1)[1] == (
        f"T1030.fasta {RUN}: Executing (RunMSA ✓, RunAlphaFold …, RunOpenFold …)"
    )
    assert log.lines([progress.run_state("T1030.fasta", RUN, item)]) == []  # time passed only
    finished = {**item, "status": "Succeeded", "analysis_status": None}
    for step in finished["steps"].values():
        step["status"] = "Succeeded"
    (line,) = log.lines(
        [progress.run_state("T1030.fasta", RUN, finished, frozenset({"RunOpenFold"}))]
    )
    assert line.endswith(": Analysing (RunMSA ✓, RunAlphaFold ✓, RunOpenFold skipped)")


def test_a_skip_is_asked_once_per_finished_step():
    asked = []

    def status_of(run_id, step):
        asked.append(step.name)
        return STEP_SKIPPED if step.name == "RunOpenFold" else "succeeded"

    probe = progress.SkipProbe(status_of)
    running = _item(RunMSA="Succeeded", RunAlphaFold="Executing", RunOpenFold="Succeeded")
    assert probe(RUN, running) == {"RunOpenFold"}
    done = _item(RunMSA="Succeeded", RunAlphaFold="Succeeded", RunOpenFold="Succeeded")
    assert probe(RUN, done) == {"RunOpenFold"} and probe(RUN, done) == {"RunOpenFold"}
    assert asked == ["RunOpenFold", "RunAlphaFold"]  # the MSA step never skips


def test_a_succeeded_pipeline_shows_every_step_done_before_the_steps_last_events():
    """EventBridge keeps no order: the pipeline's "Succeeded" and the report can come
    before OpenFold's own "Succeeded"; the last line must not show it still running."""
    late = {
        **_item(RunMSA="Succeeded", RunAlphaFold="Succeeded", RunOpenFold="Executing"),
        "status": "Succeeded",
        "analysis_status": "Succeeded",
    }
    asked = []
    probe = progress.SkipProbe(lambda run_id, step: asked.append(step.name) or "succeeded")
    state = progress.run_state("T1030.fasta", RUN, late, probe(RUN, late))
    assert state.line().endswith(": Succeeded (RunMSA ✓, RunAlphaFold ✓, RunOpenFold ✓)")
    assert asked == ["RunAlphaFold", "RunOpenFold"]
    openfold = state.steps[-1]
    assert openfold.seconds is None  # its end is unknown: no clock that keeps running
    # a failed pipeline settles nothing: a step without its last event is not guessed at
    failed = {**late, "status": "Failed", "analysis_status": None}
    assert progress.run_state("T1030.fasta", RUN, failed).line().endswith("RunOpenFold …)")
