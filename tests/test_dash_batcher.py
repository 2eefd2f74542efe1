"""The dashboard's event batcher: what reaches the log pane after one flush."""

from __future__ import annotations

from wtpar.model import TaskKey, TaskOutput, TaskQueued, TaskStarted
from wtpar.tui.batcher import EventBatcher
from wtpar.tui.widgets.log_pane import LogPane

KEY = TaskKey("feature", "test")


class RecordingLog(LogPane):
    """A log pane that records what it is told, without a screen."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, TaskKey, list[str]]] = []

    def reset(self, key: TaskKey) -> None:
        self.calls.append(("reset", key, []))

    def add_lines(self, key: TaskKey, lines: list[str]) -> None:
        self.calls.append(("lines", key, list(lines)))


def test_a_burst_of_lines_is_one_call_and_a_new_run_resets_first() -> None:
    batcher = EventBatcher()
    batcher.add(TaskOutput(KEY, "old"))
    batcher.add(TaskQueued(KEY, "make test", "/wt"))  # a new run drops what came before
    for n in range(500):
        batcher.add(TaskOutput(KEY, f"line {n}"))
    batcher.add(TaskStarted(KEY, 2, None, 0.0))
    log = RecordingLog()
    batcher.flush(log)
    assert log.calls[0] == ("reset", KEY, [])
    assert len(log.calls) == 2
    lines = log.calls[1][2]
    assert lines[0] == "line 0" and lines[-1] == "--- attempt 2 ---" and len(lines) == 501
    batcher.flush(log)
    assert len(log.calls) == 2  # nothing new: nothing drawn


def test_a_flush_tells_which_tasks_began_since_the_last_one_latest_last() -> None:
    other = TaskKey("feature", "lint")
    batcher = EventBatcher()
    batcher.add(TaskQueued(KEY, "make test", "/wt"))
    batcher.add(TaskQueued(other, "make lint", "/wt"))
    batcher.add(TaskStarted(KEY, 1, None, 0.0))  # started after lint was queued
    batcher.add(TaskOutput(KEY, "done"))
    log = RecordingLog()
    assert batcher.flush(log) == [other, KEY]
    batcher.add(TaskOutput(KEY, "more"))
    assert batcher.flush(log) == []  # nothing began since
