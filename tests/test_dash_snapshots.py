"""SVG snapshots of the dashboard's key screens, deterministic across runs.

Commit dates are fixed by the hermetic seal, the clock is injected, paths are shown
relative to the folder holding the repository, and task states come from real
dispatcher event objects with fixed times.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from fixtures.recipes import commit_file
from tests.conftest import Invoke
from tests.dash_helpers import FIXED_NOW, log_text, rows_read, until
from tests.test_spawn import worktree_dir
from wtpar.model import (
    RunStatus,
    TaskFinished,
    TaskKey,
    TaskOutput,
    TaskQueued,
    TaskRun,
    TaskStarted,
)
from wtpar.services import Services
from wtpar.tui.app import WtparApp, make_app

SnapCompare = Callable[..., bool]
SIZE = (150, 36)


@pytest.fixture(autouse=True)
def colours(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snapshots show colours (the hermetic seal sets NO_COLOR for the CLI tests)."""
    monkeypatch.delenv("NO_COLOR")


def mixed_repo(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "api", "docs", "ui").exit_code == 0
    commit_file(worktree_dir(repo, "api"), "api.py", "def handler(): ...\n")
    commit_file(worktree_dir(repo, "ui"), "api.py", "def view(): ...\n")
    (worktree_dir(repo, "docs") / "guide.md").write_text("draft\n")
    (worktree_dir(repo, "ui") / "README.md").write_text("edited\n")


def feed_events(app: WtparApp) -> None:
    t0 = FIXED_NOW - 40
    for branch in ("api", "docs", "ui"):
        for task in ("test", "lint"):
            app.on_run_event(TaskQueued(TaskKey(branch, task), "make " + task, "/wt/" + branch))
    app.on_run_event(TaskStarted(TaskKey("api", "test"), 1, 101, t0))
    app.on_run_event(TaskStarted(TaskKey("api", "lint"), 1, 102, t0 + 5))
    app.on_run_event(TaskStarted(TaskKey("docs", "test"), 1, 103, t0))
    for n in range(1, 6):
        app.on_run_event(
            TaskOutput(TaskKey("api", "test"), f"tests/test_{n}.py ...... [{n * 20}%]")
        )
    finished = [
        ("api", "lint", RunStatus.OK, 0, 3.2),
        ("docs", "test", RunStatus.FAILED, 2, 12.5),
        ("ui", "test", RunStatus.TIMED_OUT, None, 600.0),
    ]
    for branch, task, status, code, took in finished:
        run = TaskRun(
            TaskKey(branch, task),
            "make " + task,
            "/wt/" + branch,
            status,
            code,
            t0,
            t0 + took,
            1,
        )
        app.on_run_event(TaskFinished(run))


def test_main_screen_with_mixed_states(
    repo: Path, wtpar: Invoke, snap_compare: SnapCompare
) -> None:
    mixed_repo(repo, wtpar)
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=4)

    async def setup(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: rows_read(app) == 4, what="rows")
        await pilot.press("k")
        await until(pilot, lambda: app.check_report is not None, what="the readiness check")
        feed_events(app)
        await pilot.press("down")
        await until(pilot, lambda: "api" in str(app.query_one("#log").border_title))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=setup)


def test_remove_dialog(repo: Path, wtpar: Invoke, snap_compare: SnapCompare) -> None:
    mixed_repo(repo, wtpar)
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=4)

    async def setup(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: rows_read(app) == 4, what="rows")
        await until(pilot, lambda: app.check_report is not None, what="the readiness check")
        await pilot.press("down", "down", "d")
        await until(pilot, lambda: app.screen.id is not None or len(app.screen_stack) > 1)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=setup)


RUN_TASKS = """
[tasks.test]
cmd = "echo running the tests of $WTPAR_BRANCH; exec sleep 60"

[tasks.lint]
cmd = "echo lint"
depends_on = ["test"]
"""


class StartedClock:
    """The dashboard's clock for a live run: 5.5 s after the last task started.

    Real tasks start at real times; reading elapsed times against this clock shows
    "5s" on every running task, whatever the machine's speed.
    """

    def __init__(self) -> None:
        self.app: WtparApp | None = None

    def __call__(self) -> float:
        if self.app is None:
            return FIXED_NOW
        started = [t.started for t in self.app.state.tasks.values() if t.started is not None]
        return max(started) + 5.5 if started else FIXED_NOW


def test_run_in_progress(repo: Path, wtpar: Invoke, snap_compare: SnapCompare) -> None:
    """A real dispatcher run: three tests running with output, their lint queued behind."""
    (repo / "wtpar.toml").write_text(RUN_TASKS)
    assert wtpar("spawn", "api", "docs", "ui").exit_code == 0
    clock = StartedClock()
    app = make_app(Services.from_cwd(repo), now=clock, refresh_interval=None, jobs=3)
    clock.app = app

    def running(branch: str) -> bool:
        task = app.state.tasks.get(TaskKey(branch, "test"))
        return task is not None and task.status is RunStatus.RUNNING

    async def setup(pilot: Pilot[Any]) -> None:
        await until(pilot, lambda: rows_read(app) == 4, what="rows")
        await until(pilot, lambda: app.check_report is not None, what="the readiness check")
        await pilot.press("down")
        app.start_run(["api", "docs", "ui"], "lint")
        await until(pilot, lambda: all(running(b) for b in ("api", "docs", "ui")))
        await until(
            pilot,
            lambda: "running the tests of api" in log_text(app),
            what="api's output in the log",
        )
        app.redraw()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=setup)
