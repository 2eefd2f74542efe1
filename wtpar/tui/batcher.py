"""Coalescing dispatcher events for the dashboard: output lines and resets pile up here
between two redraws, so a burst of thousands of lines costs one flush."""

from __future__ import annotations

from wtpar.model import RunEvent, TaskKey, TaskOutput, TaskQueued, TaskStarted
from wtpar.tui.widgets.log_pane import LogPane


class EventBatcher:
    """Collects what the log pane must show since the last flush."""

    def __init__(self) -> None:
        self._resets: set[TaskKey] = set()
        self._lines: dict[TaskKey, list[str]] = {}

    def add(self, event: RunEvent) -> None:
        """Remember what `event` changes in the log (other events change nothing here)."""
        if isinstance(event, TaskQueued):
            self._lines.pop(event.key, None)
            self._resets.add(event.key)
        elif isinstance(event, TaskStarted) and event.attempt > 1:
            self._lines.setdefault(event.key, []).append(f"--- attempt {event.attempt} ---")
        elif isinstance(event, TaskOutput):
            self._lines.setdefault(event.key, []).append(event.line)

    def flush(self, log: LogPane) -> None:
        """Apply the resets, then the lines, to the log pane; start afresh."""
        for key in self._resets:
            log.reset(key)
        for key, lines in self._lines.items():
            log.add_lines(key, lines)
        self._resets.clear()
        self._lines.clear()
