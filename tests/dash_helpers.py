"""Helpers for driving the dashboard with Pilot: wait for conditions, never sleep."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets.data_table import ColumnKey

from wtpar.tui.app import WtparApp

# Commits in tests are dated 2026-01-01T12:00:00Z; the dashboard's clock is fixed an hour later.
FIXED_NOW = 1767268800.0 + 3600


async def until(
    pilot: Pilot[int], condition: Callable[[], object], timeout: float = 15.0, what: str = ""
) -> None:
    """Let the app run until `condition()` holds, or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not _holds(condition):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        await pilot.pause(0.02)


def _holds(condition: Callable[[], object]) -> bool:
    try:
        return bool(condition())
    except NoMatches:  # the screen is still being composed
        return False


def rows_read(app: WtparApp) -> int:
    """The rows drawn once their statuses are read (-1 while the first rows, drawn from
    the worktree list alone, wait for theirs)."""
    return -1 if app.state.pending else app.table.row_count


def cell(app: WtparApp, branch: str, column: str) -> str:
    """The text of one cell of the branch table, by branch name and column key."""
    table = app.table
    for row_key in table.rows:
        text = str(table.get_cell(row_key, "branch"))
        name = text.strip().lstrip("● ").split(" (")[0]
        if name == branch:
            if column not in table.columns:
                return ""  # the column appears with the first event of its task
            return str(table.get_cell(row_key, column))
    raise AssertionError(f"no row for {branch}")


def column_title(app: WtparApp, column: str) -> str:
    """The title of one column of the branch table, by its key (`Elsewhere ▼` when sorted)."""
    return str(app.table.columns[ColumnKey(column)].label)


def branches_shown(app: WtparApp) -> list[str]:
    """Branch names in table order."""
    names = []
    for row_key in app.table.rows:
        text = str(app.table.get_cell(row_key, "branch"))
        names.append(text.strip().lstrip("● ").split(" (")[0])
    return names


def log_text(app: WtparApp) -> str:
    """The log pane's text, as drawn."""
    from wtpar.tui.widgets.log_pane import LogPane

    return "\n".join(strip.text for strip in app.query_one(LogPane).lines)


def panel_text(app: WtparApp) -> str:
    """The readiness panel's text, as drawn."""
    from rich.console import Console

    console = Console(width=80, record=True, file=io.StringIO())
    console.print(app.query_one("#readiness", Static).content)
    return console.export_text()
