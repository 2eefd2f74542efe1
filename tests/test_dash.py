"""The dashboard, driven with Pilot against real repositories and real services."""

from __future__ import annotations

from pathlib import Path

from fixtures.recipes import commit_file, git
from tests.conftest import Invoke
from tests.dash_helpers import (
    FIXED_NOW,
    branches_shown,
    cell,
    column_title,
    panel_text,
    rows_read,
    until,
)
from tests.test_spawn import worktree_dir
from wtpar.services import Services
from wtpar.tui.app import make_app
from wtpar.tui.screens import ConfirmScreen, PromptScreen


async def test_table_shows_every_worktree_with_its_state(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "alpha", "beta").exit_code == 0
    (worktree_dir(repo, "alpha") / "new.txt").write_text("x\n")
    commit_file(worktree_dir(repo, "beta"), "b.txt", "b\n")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3, what="three rows")
        assert branches_shown(app) == ["main", "alpha", "beta"]
        assert cell(app, "alpha", "dirty") == "?1"
        assert cell(app, "beta", "dirty") == "clean"
        assert cell(app, "beta", "base") == "↑1 ↓0"
        assert cell(app, "alpha", "path") == "proj.worktrees/alpha"
        assert cell(app, "beta", "ready") == "-"


async def test_refresh_picks_up_changes_made_outside(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "alpha").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        assert cell(app, "alpha", "dirty") == "clean"
        (worktree_dir(repo, "alpha") / "README.md").write_text("edited\n")
        assert wtpar("spawn", "gamma").exit_code == 0
        await pilot.press("g")
        await until(pilot, lambda: rows_read(app) == 3, what="gamma to appear")
        await until(pilot, lambda: cell(app, "alpha", "dirty") == "~1", what="alpha dirty")


async def test_filter_and_sort(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feat-b", "feat-a", "fix-c").exit_code == 0
    (worktree_dir(repo, "fix-c") / "x.txt").write_text("x\n")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 4)
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"feat", "enter")
        await until(pilot, lambda: rows_read(app) == 2)
        assert sorted(branches_shown(app)) == ["feat-a", "feat-b"]
        await pilot.press("slash")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+a", "ctrl+k", "enter")
        await until(pilot, lambda: rows_read(app) == 4)
        await pilot.press("s")
        assert branches_shown(app) == ["feat-a", "feat-b", "fix-c", "main"]
        await pilot.press("s")
        assert branches_shown(app)[0] == "fix-c"


async def test_the_sort_marker_moves_even_when_the_order_stays(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "a", "b").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3)
        await pilot.press("s", "s")  # branch, then changes: all clean, the listed order
        assert column_title(app, "dirty") == "Changes ▼"
        order = branches_shown(app)
        await pilot.press("s")  # base: all level with it, the same order again
        assert branches_shown(app) == order
        assert (column_title(app, "dirty"), column_title(app, "base")) == ("Changes", "Base ↑↓ ▼")


async def test_spawn_dialog_creates_worktrees(repo: Path) -> None:
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 1)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"new-one new-two", "enter")
        await until(pilot, lambda: rows_read(app) == 3, what="two new rows")
        assert (worktree_dir(repo, "new-one") / "README.md").exists()
        assert "new-two" in git(repo, "branch")


async def test_remove_dialog_confirms_then_removes(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "gone-soon").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        await pilot.press("down", "d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("enter")  # the focused button is No
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert worktree_dir(repo, "gone-soon").exists()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert worktree_dir(repo, "gone-soon").exists()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: rows_read(app) == 1, what="row removed")
        assert not worktree_dir(repo, "gone-soon").exists()


async def test_remove_dialog_refuses_dirty_worktree_with_the_reason(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "dirty").exit_code == 0
    (worktree_dir(repo, "dirty") / "wip.txt").write_text("precious\n")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        await pilot.press("down", "d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        refusal = str(app.screen.query_one("#refusal").render())
        assert "would lose uncommitted changes: 1 untracked" in refusal
        await pilot.press("y")  # a refusal can only be acknowledged
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert (worktree_dir(repo, "dirty") / "wip.txt").read_text() == "precious\n"
        assert app.table.row_count == 2


async def test_marks_toggle_with_space_and_all(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "m1", "m2").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(140, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3)
        await pilot.press("down", "space")
        assert app.state.marked == {"m1"}
        assert cell(app, "m1", "branch").startswith("● ")
        await pilot.press("a")
        assert app.state.marked == {"m1", "m2"}
        await pilot.press("a")
        assert app.state.marked == set()


async def test_check_shows_verdicts_reasons_and_conflicts(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "clean-one", "dirty-one", "left", "right").exit_code == 0
    commit_file(worktree_dir(repo, "clean-one"), "c.txt", "c\n")
    (worktree_dir(repo, "dirty-one") / "wip.txt").write_text("wip\n")
    commit_file(worktree_dir(repo, "dirty-one"), "d.txt", "d\n")
    commit_file(worktree_dir(repo, "left"), "docs/guide.txt", "left version\n")
    commit_file(worktree_dir(repo, "right"), "docs/guide.txt", "right version\n")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 5)
        await pilot.press("k")
        await until(pilot, lambda: app.check_report is not None, what="the check")
        await until(pilot, lambda: cell(app, "dirty-one", "ready") == "blocked")
        assert cell(app, "clean-one", "ready") == "ready"
        assert cell(app, "main", "ready") == "-"
        panel = panel_text(app)
        assert "left" in panel and "right" in panel and "docs/guide.txt" in panel
        while app.selected_branch() != "dirty-one":
            await pilot.press("down")
        await until(pilot, lambda: "uncommitted" in panel_text(app), what="dirty-one's reasons")


async def test_readiness_fills_in_without_a_key_and_after_a_change(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "fresh", "work").exit_code == 0
    commit_file(worktree_dir(repo, "work"), "w.txt", "w\n")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: app.check_report is not None, what="the first check")
        await until(pilot, lambda: cell(app, "work", "ready") == "ready")
        assert cell(app, "fresh", "ready") == "new"  # nothing of its own: not "ready"
        (worktree_dir(repo, "work") / "wip.txt").write_text("wip\n")
        await pilot.press("g")
        await until(pilot, lambda: cell(app, "work", "ready") == "blocked", what="a re-check")
