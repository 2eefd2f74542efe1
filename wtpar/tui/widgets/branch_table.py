"""The main table: one row per worktree, updated in place cell by cell."""

from __future__ import annotations

from typing import NamedTuple

from rich.text import Text
from textual.widgets import DataTable

# Room for a task's usual states ("failed 2 12s", "cancelled 4s") so that cells changing
# while a run goes on rarely force a rebuild; a longer one widens its column.
MIN_WIDTHS = {"task": 12, "ready": 7}


class Cell(NamedTuple):
    """One cell's text and its Rich style."""

    text: str
    style: str = ""


class Column(NamedTuple):
    """A column's key (`branch`, `task:test`) and its header."""

    key: str
    title: str


class Row(NamedTuple):
    """A row's key (the worktree's path) and its cells by column key."""

    key: str
    cells: dict[str, Cell]


_EMPTY = Cell("", "")


class BranchTable(DataTable[Text]):
    """Worktrees as rows; `show` rebuilds only what changed."""

    def __init__(self) -> None:
        super().__init__(id="branches", cursor_type="row", zebra_stripes=True)
        self._columns: list[str] = []
        self._titles: list[str] = []
        self._rows: list[str] = []
        self._cells: dict[tuple[str, str], Cell] = {}
        self._widths: dict[str, int] = {}

    def show(
        self,
        columns: list[Column],
        rows: list[Row],
    ) -> None:
        """Draw these rows (key, cells by column) under these columns (key, title)."""
        column_keys = [key for key, _ in columns]
        row_keys = [key for key, _ in rows]
        # Only the shown columns: a row may carry cells of columns not shown (Ports and
        # Services while no worktree has any), which must not rebuild the table each time.
        outgrown = any(
            len(cells.get(column, _EMPTY).text) > self._widths.get(column, 0)
            for _, cells in rows
            for column in column_keys
        )
        # A title changes alone when a sort leaves the order as it was: its ▼ moves all the same.
        titles = [title for _, title in columns]
        changed = column_keys != self._columns or titles != self._titles or row_keys != self._rows
        if changed or outgrown:
            self._rebuild(columns, rows)
            return
        for row_key, cells in rows:
            for column in column_keys:
                value = cells.get(column, _EMPTY)
                if self._cells.get((row_key, column)) != value:
                    self._cells[(row_key, column)] = value
                    self.update_cell(row_key, column, Text(value.text, style=value.style))

    def _rebuild(
        self,
        columns: list[Column],
        rows: list[Row],
    ) -> None:
        selected = self.selected_key()
        self.clear(columns=True)
        self._cells.clear()
        # Explicit widths: auto widths are computed on idle, which a screen under a
        # dialog never gets, so it would be drawn with header-only widths.
        self._widths = {}
        for key, title in columns:
            width = max(
                [len(title), MIN_WIDTHS.get(key.split(":")[0], 0)]
                + [len(cells.get(key, _EMPTY).text) for _, cells in rows]
            )
            self._widths[key] = width
            self.add_column(title, key=key, width=width)
        for row_key, cells in rows:
            values = []
            for key, _ in columns:
                value = cells.get(key, _EMPTY)
                self._cells[(row_key, key)] = value
                values.append(Text(value.text, style=value.style))
            self.add_row(*values, key=row_key)
        self._columns = [key for key, _ in columns]
        self._titles = [title for _, title in columns]
        self._rows = [key for key, _ in rows]
        if selected in self._rows:
            self.move_cursor(row=self._rows.index(selected))

    def selected_key(self) -> str | None:
        """The key of the row under the cursor."""
        if not self._rows or self.cursor_row < 0 or self.cursor_row >= len(self._rows):
            return None
        return self._rows[self.cursor_row]
