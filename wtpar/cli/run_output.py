"""What `wtpar run` prints while tasks run: lines by task in the chosen output mode, a
progress line on a terminal, and each task's outcome."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import IO

import click

from wtpar.model import (
    RunEvent,
    RunStatus,
    TaskFinished,
    TaskKey,
    TaskOutput,
    TaskQueued,
    TaskStarted,
)
from wtpar.text import format_seconds, terminal_safe

_BAD = (RunStatus.FAILED, RunStatus.TIMED_OUT)


class LiveOutput:
    """Turns dispatcher events into what the terminal shows while a run is going."""

    def __init__(
        self,
        mode: str,
        out: IO[str],
        prefix: bool = True,
        eta: Callable[[], float] | None = None,
        holding: Callable[[], str | None] | None = None,
    ) -> None:
        self.mode = mode
        self.eta = eta
        self.holding = holding
        self.out = out
        self.prefix = prefix
        self.total = 0
        self.started: set[TaskKey] = set()
        self.done = 0
        self.failed = 0
        self.t0 = time.monotonic()
        self._drawn = 0
        self._screen = threading.Lock()  # warnings come from threads too (`aside`)

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, TaskQueued):
            self.total += 1
        elif isinstance(event, TaskStarted):
            self.started.add(event.key)
        elif isinstance(event, TaskOutput):
            if self.mode == "stream":
                key = terminal_safe(str(event.key))  # the task's output itself goes as it is
                text = f"[{key}] {event.line}" if self.prefix else event.line
                click.echo(text, file=self.out)
        elif isinstance(event, TaskFinished):
            self.done += 1
            self.started.discard(event.run.key)
            self._finished(event)
        if self.mode == "progress" and not isinstance(event, TaskOutput):
            # Output lines can come by the thousand; the ticker redraws in between.
            self.draw()

    def _finished(self, event: TaskFinished) -> None:
        run = event.run
        bad = run.status in _BAD
        self.failed += bad
        if self.mode == "stream" and self.prefix:
            outcome = task_outcome(run.status, run.exit_code, run.duration, run.reason)
            click.echo(terminal_safe(f"[{run.key}] == {outcome}"), file=self.out)
        elif self.mode == "grouped" or (self.mode == "failures" and bad):
            self._block(run.key, run.status, run.exit_code, run.duration, run.reason, run.log_path)
        elif self.mode == "progress" and (bad or run.status is RunStatus.SKIPPED):
            self.clear()
            what = task_outcome(run.status, run.exit_code, run.duration, run.reason)
            log = f"  log: {run.log_path}" if run.log_path else ""
            click.echo(terminal_safe(f"{run.key}: {what}{log}"), file=self.out)

    def _block(
        self,
        key: TaskKey,
        status: RunStatus,
        exit_code: int | None,
        duration: float | None,
        reason: str | None,
        log_path: str | None,
    ) -> None:
        outcome = task_outcome(status, exit_code, duration, reason)
        click.echo(terminal_safe(f"== {key} {outcome}"), file=self.out)
        if log_path and os.path.exists(log_path):
            with open(log_path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    self.out.write(line if line.endswith("\n") else line + "\n")
            self.out.flush()

    def draw(self) -> None:
        """Redraw the progress line (done/running/queued, failures, elapsed, ETA)."""
        if self.mode != "progress":
            return
        elapsed = time.monotonic() - self.t0
        running = len(self.started)
        queued = max(self.total - self.done - running, 0)
        eta = "?"
        if self.total and self.done == self.total:
            eta = "0s"
        elif self.eta is not None:
            eta = format_seconds(self.eta())
        elif self.done:
            eta = format_seconds(elapsed / self.done * (self.total - self.done))
        held = self.holding() if self.holding is not None else None
        text = (
            f"{self.done}/{self.total} done, {running} running, {queued} queued, "
            f"{self.failed} failed | "
            + (f"holding back: {held} | " if held else "")
            + f"{format_seconds(elapsed)} elapsed | ETA {eta}"
        )
        width = max(20, _terminal_columns() - 1)
        text = text[:width]
        with self._screen:
            self.out.write("\r" + text.ljust(self._drawn))
            self.out.flush()
            self._drawn = len(text)

    def clear(self) -> None:
        """Erase the progress line, so other text starts at column 0."""
        with self._screen:
            self._clear()

    def aside(self, say: Callable[[], None]) -> None:
        """Erase the progress line, then `say()` (a warning, from any thread): on a line of
        its own, not after the progress; the next tick draws the line again."""
        with self._screen:
            self._clear()
            say()

    def _clear(self) -> None:
        if self._drawn:
            self.out.write("\r" + " " * self._drawn + "\r")
            self.out.flush()
            self._drawn = 0


def task_outcome(
    status: RunStatus, exit_code: int | None, duration: float | None, reason: str | None
) -> str:
    """`failed (exit 2, 1.20s, reason)`: how a task ended, in one phrase."""
    details = []
    if exit_code is not None:
        details.append(f"exit {exit_code}")
    if duration is not None:
        details.append(format_seconds(duration))
    if reason:
        details.append(reason)
    return status.value + (f" ({', '.join(details)})" if details else "")


def _terminal_columns() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 80
