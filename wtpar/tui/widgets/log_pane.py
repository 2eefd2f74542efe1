"""The log pane: follows the selected branch's running or last task output."""

from __future__ import annotations

from collections import deque

from rich.text import Text
from textual.widgets import RichLog

from wtpar.model import TaskKey
from wtpar.text import output_safe

KEEP_LINES = 2000


class LogPane(RichLog):
    """Shows one task's output; the app chooses which and feeds it lines."""

    def __init__(self) -> None:
        super().__init__(id="log", max_lines=KEEP_LINES, wrap=False, markup=False, highlight=False)
        self.border_title = "Log"
        self.following: TaskKey | None = None
        self.buffers: dict[TaskKey, deque[str]] = {}

    def add_lines(self, key: TaskKey, lines: list[str]) -> None:
        """Keep these lines of KEY's output, and draw them if KEY is followed."""
        buffer = self.buffers.setdefault(key, deque(maxlen=KEEP_LINES))
        buffer.extend(lines)
        if key == self.following:
            for line in lines:
                self.write(_shown(line))

    def reset(self, key: TaskKey) -> None:
        """Forget KEY's earlier output (a new attempt starts)."""
        self.buffers[key] = deque(maxlen=KEEP_LINES)
        if key == self.following:
            self.clear()

    def follow(self, key: TaskKey | None, title: str, fallback: list[str] | None = None) -> None:
        """Switch to KEY's output (or `fallback` lines read from its last log file)."""
        self.following = key
        self.border_title = title
        self.clear()
        lines = list(self.buffers.get(key, ())) if key else []
        for line in lines or fallback or []:
            self.write(_shown(line))


def _shown(line: str) -> Text:
    """A line of a task's output: its colours kept, and nothing else in it (a title, a
    clipboard write, a bidi override) reaches the terminal."""
    return Text.from_ansi(output_safe(line))
