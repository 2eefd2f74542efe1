"""The dashboard for a fleet of agents: who holds each worktree, and the flash of a row
whose run just finished, in another process or in the dashboard itself."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Invoke, run_wtpar_process
from tests.dash_helpers import FIXED_NOW, branches_shown, cell, column_title, rows_read, until
from wtpar.services import Services
from wtpar.tui.app import WtparApp, make_app
from wtpar.tui.fleet_view import FLASH_STYLES


def branch_style(app: WtparApp, branch: str) -> str:
    """The style of a row's branch cell (where a finished run flashes)."""
    for row_key in app.table.rows:
        text = app.table.get_cell(row_key, "branch")
        if str(text).strip().lstrip("● ").split(" (")[0] == branch:
            return str(text.style)
    raise AssertionError(f"no row for {branch}")


async def test_holders_are_shown_and_finished_runs_flash(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "alpha", "beta", "--claim", "agent-1").exit_code == 0
    assert wtpar("release", "beta").exit_code == 0
    clock = [FIXED_NOW]
    app = make_app(Services.from_cwd(repo), now=lambda: clock[0], refresh_interval=None, jobs=2)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3, what="three rows")
        assert cell(app, "alpha", "holder").startswith("agent-1 ")
        assert cell(app, "beta", "holder") == "-"
        # A run in another process (an agent's `wtpar run`) ends: its row flashes red.
        result = run_wtpar_process("run", "-b", "beta", "--", "false", cwd=repo)
        assert result.returncode == 1
        await pilot.press("g")
        ran = FLASH_STYLES[False]
        await until(pilot, lambda: branch_style(app, "beta") == ran, what="beta to flash")
        assert branch_style(app, "alpha") not in FLASH_STYLES.values()
        # The flash is brief.
        clock[0] += 5
        app.redraw()
        assert branch_style(app, "beta") not in FLASH_STYLES.values()
        # A run the dashboard starts itself flashes green when it succeeds.
        app.start_run(["alpha"], "true")
        ok = FLASH_STYLES[True]
        await until(pilot, lambda: branch_style(app, "alpha") == ok, what="alpha to flash")
        # A new claim shows up with the next refresh.
        assert wtpar("claim", "beta", "--by", "agent-2").exit_code == 0
        await pilot.press("g")
        await until(pilot, lambda: cell(app, "beta", "holder").startswith("agent-2 "))


async def test_sorting_cycles_through_the_holder_column_while_it_is_shown(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "alpha", "beta").exit_code == 0
    assert wtpar("claim", "beta", "--by", "agent-1").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(160, 30)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3, what="three rows")
        assert branches_shown(app)[0] != "beta"
        # branch, changes, base, then Holder: held rows first.
        for _ in range(4):
            await pilot.press("s")
        assert column_title(app, "holder") == "Holder ▼"
        assert branches_shown(app)[0] == "beta"
