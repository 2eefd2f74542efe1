"""The dashboard's land actions, driven with Pilot on real repositories: the diff pane, a
land confirmed from its plan with the train shown live, and update of the selected branch."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from textual.widgets import DataTable, Static

from fixtures.recipes import commit_file, git
from tests.dash_helpers import FIXED_NOW, rows_read, until
from tests.land_helpers import is_ancestor, train_repo, tree_files
from wtpar.services import Services
from wtpar.tui.app import WtparApp, make_app
from wtpar.tui.screens import ConfirmScreen
from wtpar.tui.train_screen import TrainScreen
from wtpar.tui.widgets.diff_view import DiffScreen, line_style


def new_app(repo: Path) -> WtparApp:
    return make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)


def shown(app: WtparApp, selector: str) -> str:
    """A Static's content as drawn text."""
    console = Console(width=120, record=True, file=io.StringIO())
    console.print(app.screen.query_one(selector, Static).content)
    return console.export_text()


def train_rows(app: WtparApp) -> dict[str, list[str]]:
    table = app.screen.query_one(DataTable)
    rows = [[str(c) for c in table.get_row(key)] for key in table.rows]
    return {row[1]: row for row in rows}


async def select(pilot: object, app: WtparApp, branch: str) -> None:
    while app.selected_branch() != branch:
        await pilot.press("down")  # type: ignore[attr-defined]


async def test_the_diff_pane_shows_files_with_counts_then_the_colored_patch(repo: Path) -> None:
    worktrees = train_repo(repo)
    commit_file(worktrees["a"], "src/new.py", "one\ntwo\n", "a: a new module")
    app = new_app(repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: rows_read(app) == 4, what="four rows")
        await select(pilot, app, "a")
        await pilot.press("v")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen), what="the diff pane")
        text = shown(app, "#diff-body")
        assert "a against main: 2 files, +3 -0" in text
        assert "+1 -0  flag_a" in text and "+2 -0  src/new.py" in text
        assert text.index("src/new.py") < text.index("diff --git a/flag_a b/flag_a")
        assert "+two" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, DiffScreen), what="back")


def test_patch_lines_are_colored_by_kind() -> None:
    assert line_style("+added") == "green" and line_style("-gone") == "red"
    assert line_style("@@ -1 +1,2 @@") == "cyan" and line_style("+++ b/x") == "bold"
    assert line_style(" context") == ""


async def test_land_from_the_dashboard_confirms_the_plan_and_shows_the_train(
    repo: Path,
) -> None:
    train_repo(repo)
    app = new_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: rows_read(app) == 4, what="four rows")
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 60, "the plan")
        body = str(app.screen.query_one(".dialog-body", Static).content)
        assert "1. a\n  2. b\n  3. c" in body and "base+a, base+a+b, base+a+b+c" in body
        await pilot.press("y")
        await until(pilot, lambda: isinstance(app.screen, TrainScreen), what="the train")
        assert isinstance(app.screen, TrainScreen)
        screen: TrainScreen = app.screen
        await until(pilot, lambda: not screen.running, 60, "the train to end")
        rows = train_rows(app)
        assert rows["a"][4] == "landed" and rows["b"][4] == "landed"
        assert rows["c"][3] == "test failed"
        assert "moved main from" in shown(app, "#train-status")
        assert "| b and c break each other" in shown(app, "#train-result")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, TrainScreen), what="back")
    assert set(tree_files(repo, "main")) >= {"flag_a", "flag_b"}
    assert "flag_c" not in tree_files(repo, "main")


async def test_a_land_can_be_stopped_and_leaves_the_base(repo: Path, tmp_path: Path) -> None:
    gate, started = tmp_path / "gate", tmp_path / "started"
    train_repo(repo, prelude=f"if [ -e {gate} ]; then touch {started}; exec sleep 60; fi\n")
    before = git(repo, "rev-parse", "main")
    app = new_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: rows_read(app) == 4, what="four rows")
        await pilot.press("L")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), 60, "the plan")
        gate.write_text("")
        await pilot.press("y")
        await until(pilot, started.exists, 30, "a check running in the train")
        assert isinstance(app.screen, TrainScreen)
        screen: TrainScreen = app.screen
        await pilot.press("escape")  # refused while running: the train must be stopped first
        assert app.screen is screen
        await pilot.press("c")
        await until(pilot, lambda: not screen.running, 30, "the train to stop")
        assert "interrupted: main left at" in shown(app, "#train-status")
    assert git(repo, "rev-parse", "main") == before
    assert not list((repo / ".git" / "wtpar" / "land").iterdir())


async def test_update_rebases_the_selected_branch(repo: Path) -> None:
    train_repo(repo)
    commit_file(repo, "other.txt", "main moves on\n")
    app = new_app(repo)
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: rows_read(app) == 4, what="four rows")
        await select(pilot, app, "b")
        await pilot.press("b")
        main = git(repo, "rev-parse", "main").strip()
        await until(
            pilot,
            lambda: (
                is_ancestor(repo, main, "b")
                and git(repo, "rev-list", "--count", "main..b").strip() == "1"
            ),
            what="b rebased onto main",
        )
    assert not is_ancestor(repo, main, "a")
