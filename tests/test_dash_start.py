"""The dashboard's start with many worktrees: the rows come from one `git worktree list`,
drawn before any worktree's status is read and before the readiness check; closing its
terminal ends it (a dashboard left running with no terminal would use CPU for ever)."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fixtures.waiting import wait_for
from tests.conftest import Invoke
from tests.dash_helpers import FIXED_NOW, cell, rows_read, until
from tests.terminal_helpers import Terminal
from wtpar import procs
from wtpar.services import Services
from wtpar.tui import readiness_view
from wtpar.tui.app import make_app
from wtpar.tui.widgets.branch_table import BranchTable


class HeldGit:
    """Counts the git subcommands wtpar starts; `git status` waits until released."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started: Counter[str] = Counter()
        self.release = threading.Event()
        real = procs.run

        def counting(args: Any, **kwargs: Any) -> procs.Result:
            argv = [str(a) for a in args]
            if argv and argv[0].endswith("git"):
                sub = [a for a in argv[1:] if not a.startswith("-") and "=" not in a]
                self.started[sub[0] if sub else "?"] += 1
                if sub[:1] == ["status"]:
                    self.release.wait(30)
            return real(args, **kwargs)

        monkeypatch.setattr(procs, "run", counting)


def _calls(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[tuple[Any, ...]]:
    """The arguments of every call of `owner.name` from now on (the calls go through)."""
    seen: list[tuple[Any, ...]] = []
    real = getattr(owner, name)

    def recording(*args: Any) -> Any:
        seen.append(args)
        return real(*args)

    monkeypatch.setattr(owner, name, recording)
    return seen


async def test_rows_are_drawn_before_any_status_is_read(
    repo: Path, wtpar: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    branches = [f"b{i}" for i in range(6)]
    assert wtpar("spawn", *branches).exit_code == 0
    held = HeldGit(monkeypatch)
    checks = _calls(monkeypatch, readiness_view, "run_check")
    rebuilds = _calls(monkeypatch, BranchTable, "_rebuild")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: app.table.row_count == 7, what="seven rows")
        # Every row is on screen while every `git status` still waits: one `worktree list`
        # was all the rows needed (before: the rows waited for 7 status reads).
        assert held.started["worktree"] == 1
        assert cell(app, "b3", "dirty") == "…" and cell(app, "b3", "base") == "…"
        assert cell(app, "b3", "path") == "proj.worktrees/b3"
        assert checks == []  # nor did they wait for the readiness check
        held.release.set()
        await until(pilot, lambda: rows_read(app) == 7, what="the statuses")
        assert cell(app, "b3", "dirty") == "clean" and cell(app, "b3", "base") == "↑0 ↓0"
        await until(pilot, lambda: cell(app, "b3", "ready") == "new", what="the readiness")
    # The statuses and the verdicts changed cells in place: the table was built once.
    assert len(rebuilds) == 1


def test_closing_the_terminal_ends_the_dashboard(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", *(f"b{i}" for i in range(12))).exit_code == 0
    args = ["dash", "--refresh", "0.5"]
    with Terminal(args, repo, (40, 120), {"TERM": "xterm-256color"}) as term:
        wait_for(lambda: b"b11" in term.read(), timeout=30, what="the dashboard's rows")
        assert term.hang_up() == 128 + signal.SIGHUP
