"""The executor seam: how one attempt of one task is run, wherever it runs.

The dispatcher owns the graph and its policies (dependencies, cascades, retries,
fail-fast, cancellation, events, logs, reports). An executor owns the rest: the pool slots
and named locks an attempt holds, starting `/bin/sh -c CMD` in a directory with an
environment, streaming its output, enforcing its timeout, and stopping it on request.

    async with executor.hold(attempt.locks), executor.slot():
        result = await executor.execute(attempt, sink)   # sink.started / output / note
    executor.terminate(key)   # from another coroutine: SIGTERM now, SIGKILL after a grace

`local.LocalExecutor` runs attempts on this machine; a cluster backend is another
implementation of the same class.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from wtpar.errors import WtparError
from wtpar.model import TaskKey


@dataclass(frozen=True)
class Attempt:
    """One attempt of one task instance: what to run, where, with what."""

    key: TaskKey
    number: int
    command: str
    cwd: str
    env: Mapping[str, str]
    timeout: float | None
    branch: str
    head: str | None = None
    locks: tuple[str, ...] = ()
    resources: Mapping[str, float] = field(default_factory=dict)
    # A local process inherits it (the worktree's busy record): should wtpar be killed
    # with the task still running, `remove` still sees the worktree busy.
    keep_fd: int | None = None


class Ending(enum.Enum):
    """How an attempt ended."""

    EXITED = "exited"  # the command ran to its end; see exit_code
    TIMED_OUT = "timed out"  # stopped by the executor when its timeout passed
    CANCELLED = "cancelled"  # stopped on request (terminate/kill)
    NOT_STARTED = "not started"  # the command could not be started; see detail


@dataclass(frozen=True)
class AttemptResult:
    """What an executor reports about a finished attempt."""

    ending: Ending
    exit_code: int | None = None
    detail: str | None = None
    worker: str | None = None
    infra_retries: int = 0
    cpu_seconds: float | None = None  # user + system time of the process and its reaped children
    peak_rss: int | None = None  # bytes: the largest resident set the OS saw among them


class AttemptSink(Protocol):
    """Where an executor reports a running attempt (called on the dispatcher's loop)."""

    def started(self, pid: int | None, worker: str | None) -> None:
        """The command's process started."""

    def output(self, data: bytes) -> None:
        """Bytes of the command's merged stdout and stderr, in order."""

    def note(self, text: str) -> None:
        """A line of wtpar's own for the task's log (a timeout, a lost worker)."""


class Executor(ABC):
    """Runs attempts; one executor serves one dispatcher run."""

    name: str = "executor"

    @abstractmethod
    def slot(self) -> AbstractAsyncContextManager[object]:
        """Hold one of the pool's slots (`-j`) while an attempt runs."""

    @abstractmethod
    def hold(self, locks: Sequence[str]) -> AbstractAsyncContextManager[None]:
        """Hold the named locks, all of them, while an attempt runs."""

    @abstractmethod
    async def execute(self, attempt: Attempt, sink: AttemptSink) -> AttemptResult:
        """Run one attempt to its end; cancelling this coroutine kills the attempt."""

    @abstractmethod
    def terminate(self, key: TaskKey) -> None:
        """Stop the running attempt of `key`: SIGTERM now, SIGKILL after the grace period."""

    @abstractmethod
    def kill(self, key: TaskKey) -> None:
        """Stop the running attempt of `key` at once (SIGKILL)."""

    def start_limit(self, jobs: int) -> int:
        """How many attempts may be in flight now, read before each start: `jobs` (`-j`)
        unless the backend knows its own capacity."""
        return jobs

    @abstractmethod
    def describe(self) -> str:
        """Where attempts run, for a footer or a summary ("4 local slots")."""

    async def start(self) -> None:  # noqa: B027 - optional hook, most executors need none
        """Prepare before the first attempt (connect to a cluster, say)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most executors need none
        """Release what `start` took; called once, after the last attempt."""


async def start_executor(executor: Executor) -> None:
    """`executor.start()`, with whatever a backend raises (a LocalCluster that cannot start,
    say) turned into a one-line WtparError: never a traceback for the user."""
    try:
        await executor.start()
    except WtparError:
        raise
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        what = f"{type(exc).__name__}: {first}".rstrip(": ")
        raise WtparError(f"cannot start the {executor.name} executor: {what}") from exc
