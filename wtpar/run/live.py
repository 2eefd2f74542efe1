"""The live state of one task instance during a run: status, attempts, its log file, and
the sink its attempts report to (output to the log and out as TaskOutput events, line by
line, whatever size the chunks the executor hands over).

A run keeps one per task instance from start to end, thousands of them: slots, no event or
buffer until one is needed, and what a finished task no longer needs is dropped."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO

from wtpar import busy
from wtpar.model import (
    RunEvent,
    RunStatus,
    SkipKind,
    TaskKey,
    TaskOutput,
    TaskRun,
    TaskStarted,
    When,
)
from wtpar.run.executor import AttemptResult, Ending
from wtpar.run.plan import TaskInstance

Subscriber = Callable[[RunEvent], None]

_MAX_LINE = 1 << 20  # a "line" longer than this is emitted in pieces, so memory stays bounded


@dataclass(eq=False, slots=True)
class LiveTask:
    """The mutable state of one task instance during a run; the sink of its attempts."""

    instance: TaskInstance
    log_at: Callable[[TaskKey], str]  # where its log goes (shared by every task of the run)
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
    task: asyncio.Task[None] | None = None  # from its start to its end
    running: bool = False  # from taking its slot to the end of the attempt
    began: float = 0.0  # time.monotonic() when the attempt's process started
    on_started: Callable[[LiveTask], None] | None = None
    cancel_reason: str | None = None
    log_path: str | None = None  # once it has a log
    log: IO[bytes] | None = None
    log_at_line_start: bool = True
    partial: bytearray | None = None  # the start of a line not yet complete
    finished: bool = False
    waiting: int = 0  # dependencies and triggers not finished yet
    holds_turn: bool = False  # started by the start gate, whose place it holds (expect.Pacer)
    busy_record: busy.BusyRecord | None = None  # while an attempt runs: seen by `remove`, `prune`

    @property
    def passed(self) -> bool:
        """Succeeded, or skipped because it already succeeded at this commit."""
        return self.status is RunStatus.OK or self.skip is SkipKind.UNCHANGED

    def done(self) -> bool:
        """Finished (for the start gate: it no longer wants its turn)."""
        return self.finished

    def running_for(self, now: float) -> float | None:
        """Seconds since its attempt started, while one runs (for the ETA); else None."""
        if not self.running or self.start_time is None or self.finished:
            return None
        return now - self.start_time

    def write_log(self, data: bytes) -> None:
        if self.log is None:
            self.log_path = path = self.log_at(self.instance.key)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            self.log = open(path, "ab")  # noqa: SIM115 - open until the task ends
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
            self.on_started(self)

    def output(self, data: bytes) -> None:
        """Every byte to the log, every complete line out as a TaskOutput."""
        self.write_log(data)
        if self.partial is None:
            self.partial = bytearray()
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
        self.write_log(prefix + f"wtpar: {text}\n".encode("utf-8", "surrogateescape"))

    def flush_output(self) -> None:
        """Emit a last line that had no newline."""
        if self.partial:
            data = bytes(self.partial)
            self.emit(TaskOutput(self.instance.key, _text(data), data))
        self.partial = None

    def end(self, status: RunStatus, reason: str | None) -> None:
        """The task instance ended: keep its outcome, close its log."""
        self.status = status
        self.reason = reason
        if self.start_time is not None:
            self.end_time = time.time()
        if self.log is not None:
            self.log.close()
        self.finished = True
        self.task = None

    def blocked(self, lives: Mapping[TaskKey, LiveTask]) -> tuple[RunStatus, str] | None:
        """Skipped, and why, when its plan, a dependency or its trigger says so (all of them
        finished, in `lives`); None when it may run."""
        inst = self.instance
        if inst.skip is not None:
            return self.skipped(inst.skip, f"{inst.skip.value}: {inst.skip_reason}")
        for dep_key in inst.deps:
            dep = lives[dep_key]
            if not dep.passed:
                # A dependency skipped by design passes its kind on; any other is a failure.
                inherited = dep.skip in (SkipKind.NOT_APPLICABLE, SkipKind.NOT_TRIGGERED)
                kind = dep.skip if inherited and dep.skip else SkipKind.DEPENDENCY_FAILED
                what = f"dependency {dep_key} {dep.status.value}"
                if inherited and dep.skip:
                    what = f"{dep.skip.value}: {what} ({dep.skip.value})"
                return self.skipped(kind, what)
        if inst.trigger is not None:
            trigger = lives[inst.trigger]
            if not fires(inst.spec.when, trigger):
                return self.skipped(
                    SkipKind.NOT_TRIGGERED,
                    f"not triggered: {inst.trigger} {trigger.status.value} "
                    f"(when = {inst.spec.when.value})",
                )
        return None

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
            log_path=self.log_path,
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
