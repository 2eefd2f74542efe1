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
        # Queued or started since the last flush, latest last: a quick task can begin and
        # end within one flush, and the log pane must still turn to it (log_follow.py).
        self._began: dict[TaskKey, None] = {}

    def add(self, event: RunEvent) -> None:
        """Remember what `event` changes in the log (other events change nothing here)."""
        if isinstance(event, (TaskQueued, TaskStarted)):
            self._began.pop(event.key, None)  # to the end: latest last
            self._began[event.key] = None
        if isinstance(event, TaskQueued):
            self._lines.pop(event.key, None)
            self._resets.add(event.key)
        elif isinstance(event, TaskStarted) and event.attempt > 1:
            self._lines.setdefault(event.key, []).append(f"--- attempt {event.attempt} ---")
        elif isinstance(event, TaskOutput):
            self._lines.setdefault(event.key, []).append(event.line)

    def flush(self, log: LogPane) -> list[TaskKey]:
        """Apply the resets, then the lines, to the log pane; start afresh. Returns the task
        instances queued or started since the last flush, latest last."""
        for key in self._resets:
            log.reset(key)
        for key, lines in self._lines.items():
            log.add_lines(key, lines)
        began = list(self._began)
        self._resets.clear()
        self._lines.clear()
        self._began.clear()
        return began
