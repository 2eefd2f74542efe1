"""Warnings from the core reach the dashboard as notifications, never as text written
under the interface."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from fixtures.recipes import commit_file
from tests.conftest import Invoke, run_wtpar_process
from tests.dash_helpers import FIXED_NOW, until
from tests.test_spawn import worktree_dir
from wtpar.services import Services
from wtpar.tui.app import make_app


async def test_a_damaged_cache_is_a_notification(
    repo: Path, wtpar: Invoke, capfd: pytest.CaptureFixture[str]
) -> None:
    assert wtpar("spawn", "alpha").exit_code == 0
    commit_file(worktree_dir(repo, "alpha"), "a.txt", "a\n")
    merge_cache = repo / ".git" / "wtpar" / "cache" / "merge.json"
    merge_cache.parent.mkdir(parents=True, exist_ok=True)
    merge_cache.write_bytes(b"\xff\x00 not json")
    capfd.readouterr()
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(
            pilot,
            lambda: any("merge.json" in str(n.message) for n in app._notifications),
            what="the warning, as a notification",
        )
    assert "merge.json" not in capfd.readouterr().err


async def test_odd_folder_names_are_shown_as_text(tmp_path: Path) -> None:
    """A folder's name with an escape sequence or what looks like markup: the title, the
    Path column and a warning naming it show it as it is (escapes as escapes), and a
    warning with `[/]` in it no longer stops the dashboard."""
    from fixtures.recipes import make_repo
    from tests.dash_helpers import cell, rows_read
    from wtpar import notices

    repo = make_repo(tmp_path / "re[/]po[bold\x1b[2J")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 1, what="the main row")
        assert app.sub_title == "]po[bold\\x1b[2J"  # the folder "]po[bold…" inside "re["
        assert cell(app, "main", "path") == "]po[bold\\x1b[2J"
        notices.warn(f"{repo}/.git/wtpar/cache/results.json: cannot write it")
        await until(
            pilot,
            lambda: any("po[bold" in str(n.message) for n in app._notifications),
            what="the warning, as a notification",
        )
        await pilot.pause()
        assert app.is_running
        # Every notification shows a name as the table does (it showed "ux" for u\u2028x).
        notices.warn("removed u\u2028x\x1b[2J")
        await until(
            pilot,
            lambda: any("u\\u2028x\\x1b[2J" in str(n.message) for n in app._notifications),
            what="the name, with its escapes",
        )


def test_the_diff_view_shows_escape_sequences_as_text() -> None:
    """A branch's file named, or filled, with escape sequences: the `v` view set the
    terminal's title and cleared the screen."""
    from rich.console import Console

    from wtpar.land.diff import BranchDiff, FileChange
    from wtpar.tui.widgets.diff_view import diff_text

    evil = "\x1b]2;PWNED\x07\x1b[2Jevil.txt"
    patch = f"diff --git a/{evil} b/{evil}\n+\x1b]2;PWNED2\x07 content\n"
    diff = BranchDiff("b\u202e", "main", (FileChange(evil, 1, 0),), patch)
    console = Console(width=200, record=True, file=io.StringIO(), color_system=None)
    console.print(diff_text(diff))
    shown = console.export_text()
    assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
    assert "\\x1b]2;PWNED\\x07\\x1b[2Jevil.txt" in shown
    assert "+\\x1b]2;PWNED2\\x07 content" in shown


async def test_the_readiness_panel_shows_escape_sequences_as_text(
    repo: Path, wtpar: Invoke
) -> None:
    from fixtures.recipes import make_branch
    from tests.check_helpers import add_worktree
    from tests.dash_helpers import panel_text

    evil = "\x1b]2;PWNED\x07\x1b[2Jevil.txt"
    make_branch(repo, "e1", {evil: "one\n"})
    make_branch(repo, "e2", {evil: "two\n"})
    add_worktree(repo, "e1")
    add_worktree(repo, "e2")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(160, 40)) as pilot:
        await until(pilot, lambda: "evil.txt" in panel_text(app), what="the conflict")
        shown = panel_text(app)
        assert "\x1b" not in shown and "\\x1b]2;PWNED" in shown


async def test_a_dialog_shows_a_path_with_brackets_as_it_is(tmp_path: Path) -> None:
    """The remove dialog's path went through Textual markup: `[b]` in it made bold text
    and vanished."""
    from textual.widgets import Label

    from fixtures.recipes import make_repo
    from tests.dash_helpers import rows_read
    from wtpar.tui.screens import ConfirmScreen

    repo = make_repo(tmp_path / "re[b]po")
    assert run_wtpar_process("spawn", "feat", cwd=repo).returncode == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2, what="two rows")
        await pilot.press("down", "d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the dialog")
        body = app.screen.query_one(".dialog-body", Label)
        assert "re[b]po.worktrees" in str(body.render())


async def test_a_task_s_escape_sequences_keep_their_colours_and_nothing_else(
    repo: Path, wtpar: Invoke
) -> None:
    """A task that prints an OSC (a window title, a clipboard write) or a bidi override:
    the log pane wrote it to the terminal as it was."""
    from tests.dash_helpers import log_text, rows_read
    from wtpar.tui.widgets.log_pane import LogPane

    assert wtpar("spawn", "one").exit_code == 0
    printed = r"printf 'o \033]0;PWNED\007\033[31mred\033[0m \342\200\256rlo\n'"
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2, what="the rows")
        await pilot.press("down")
        app.start_run(["one"], printed)
        await until(pilot, lambda: "rlo" in log_text(app), what="the task's output")
        shown = log_text(app)
        assert "\x1b" not in shown and "\x07" not in shown and "\u202e" not in shown
        assert "red \\u202erlo" in shown
        (line,) = [s for s in app.query_one(LogPane).lines if "red" in s.text]
        assert any(seg.style and seg.style.color for seg in line if "red" in seg.text)
