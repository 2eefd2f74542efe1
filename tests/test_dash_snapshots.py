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
from tests.dash_helpers import FIXED_NOW, until
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
        await until(pilot, lambda: app.table.row_count == 4, what="rows")
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
        await until(pilot, lambda: app.table.row_count == 4, what="rows")
        await pilot.press("down", "down", "d")
        await until(pilot, lambda: app.screen.id is not None or len(app.screen_stack) > 1)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=setup)
