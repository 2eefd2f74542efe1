"""The live state of one task instance during a run: status, attempts, its log file, and
the sink its attempts report to (output to the log and out as TaskOutput events, line by
line, whatever size the chunks the executor hands over)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from wtpar import busy
from wtpar.model import (
    RunEvent,
    RunStatus,
    SkipKind,
    TaskOutput,
    TaskRun,
    TaskStarted,
    When,
)
from wtpar.run.executor import AttemptResult, Ending
from wtpar.run.plan import TaskInstance

Subscriber = Callable[[RunEvent], None]

_MAX_LINE = 1 << 20  # a "line" longer than this is emitted in pieces, so memory stays bounded


@dataclass(eq=False)
class LiveTask:
    """The mutable state of one task instance during a run; the sink of its attempts."""

    instance: TaskInstance
    log_path: str
    emit: Subscriber
    status: RunStatus = RunStatus.QUEUED
    attempts: int = 0
    start_time: float | None = None
    end_time: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    skip: SkipKind | None = None
    worker: str | None = None
    infra_retries: int = 0
    task: asyncio.Task[None] | None = None
    running: bool = False  # from taking its slot to the end of the attempt
    began: float = 0.0  # time.monotonic() when the attempt's process started
    on_started: Callable[[], None] | None = None
    cancel_reason: str | None = None
    log: IO[bytes] | None = None
    log_at_line_start: bool = True
    partial: bytearray = field(default_factory=bytearray)
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    busy_record: busy.BusyRecord | None = None  # while an attempt runs: seen by `remove`, `prune`

    @property
    def passed(self) -> bool:
        """Succeeded, or skipped because it already succeeded at this commit."""
        return self.status is RunStatus.OK or self.skip is SkipKind.UNCHANGED

    def write_log(self, data: bytes) -> None:
        if self.log is None:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self.log = open(self.log_path, "ab")  # noqa: SIM115 - open for the task's lifetime
        self.log.write(data)
        self.log.flush()
        self.log_at_line_start = data.endswith(b"\n")

    # -- AttemptSink ---------------------------------------------------------------------

    def started(self, pid: int | None, worker: str | None) -> None:
        now = time.time()
        self.began = time.monotonic()
        if self.start_time is None:
            self.start_time = now
        self.worker = worker
        if self.busy_record is not None and pid is not None and worker is None:
            self.busy_record.started(pid)  # a local process group `remove --force` may stop
        self.status = RunStatus.RUNNING
        self.emit(TaskStarted(self.instance.key, self.attempts, pid, now))
        if self.on_started is not None:
            self.on_started()

    def output(self, data: bytes) -> None:
        """Every byte to the log, every complete line out as a TaskOutput."""
        self.write_log(data)
        self.partial += data
        if b"\n" in data:
            *lines, rest = bytes(self.partial).split(b"\n")
            self.partial = bytearray(rest)
            for line in lines:
                self.emit(TaskOutput(self.instance.key, _text(line), line + b"\n"))
        elif len(self.partial) > _MAX_LINE:
            self.flush_output()

    def note(self, text: str) -> None:
        """A line of wtpar's own in the log (attempts, timeouts), on a line of its own."""
        prefix = b"" if self.log_at_line_start else b"\n"
        self.write_log(prefix + f"wtpar: {text}\n".encode())

    def flush_output(self) -> None:
        """Emit a last line that had no newline."""
        if self.partial:
            data = bytes(self.partial)
            self.emit(TaskOutput(self.instance.key, _text(data), data))
            self.partial.clear()

    def skipped(self, kind: SkipKind, reason: str) -> tuple[RunStatus, str]:
        """Skipped, for this typed reason."""
        self.skip = kind
        return RunStatus.SKIPPED, reason

    def judge(self, result: AttemptResult, stopping: str | None) -> tuple[RunStatus, str | None]:
        """The status of an attempt, from how the executor says it ended (`stopping`: why
        the whole run is stopping, if it is)."""
        self.infra_retries += result.infra_retries
        if result.worker is not None:
            self.worker = result.worker
        if result.ending is Ending.NOT_STARTED:
            detail = result.detail or "cannot start"
            self.note(detail)
            self.emit(TaskOutput(self.instance.key, f"wtpar: {detail}"))
            return RunStatus.FAILED, detail
        self.exit_code = result.exit_code
        if result.ending is Ending.TIMED_OUT:
            return RunStatus.TIMED_OUT, f"timed out after {self.instance.spec.timeout:g}s"
        if result.ending is Ending.CANCELLED:
            return RunStatus.CANCELLED, self.cancel_reason or stopping
        return (RunStatus.OK, None) if result.exit_code == 0 else (RunStatus.FAILED, None)

    def task_run(self) -> TaskRun:
        """What the report says of this task instance."""
        inst = self.instance
        return TaskRun(
            key=inst.key,
            command=inst.command,
            worktree=inst.worktree.path,
            status=self.status,
            exit_code=self.exit_code,
            started=self.start_time,
            ended=self.end_time,
            attempts=self.attempts,
            log_path=self.log_path if self.log is not None else None,
            reason=self.reason,
            skip=self.skip,
            worker=self.worker,
            infra_retries=self.infra_retries,
        )


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").removesuffix("\r")


def fires(when: When, trigger: LiveTask) -> bool:
    """Whether a cascade `when` fires after its trigger ended as it did."""
    if when is When.ALWAYS:
        return True
    if when is When.SUCCESS:
        return trigger.passed
    return trigger.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
