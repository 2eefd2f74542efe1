"""The local executor: each attempt is `/bin/sh -c CMD` on this machine, in its own process
group (session), on the dispatcher's event loop.

stdout and stderr are merged into one pipe that wtpar owns and read as they come. When the
command exits, whatever it left running in its group is terminated, and the pipe is
drained for a short bound and closed: a grandchild that escaped its group and still holds
the pipe cannot make wtpar wait. Slots and named locks are lock files shared by every wtpar
process on the repository (pool.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from wtpar.model import TaskKey
from wtpar.procs import group_alive, signal_group
from wtpar.run.child import Child, start_child
from wtpar.run.executor import Attempt, AttemptResult, AttemptSink, Ending, Executor
from wtpar.run.pool import ResourceLocks, SlotPool
from wtpar.run.watchdog import Watchdog

SHELL = "/bin/sh"
_GROUP_POLL_FIRST = 0.005
_GROUP_POLL_MAX = 0.05


_READ_SIZE = 256 * 1024


class _Output:
    """Forwards the task's merged output to the sink as it comes: the pipe's read end,
    non-blocking, watched by the loop's selector (lighter than a transport and a file
    object per task)."""

    def __init__(self, fd: int, sink: AttemptSink, loop: asyncio.AbstractEventLoop) -> None:
        self._fd = fd
        self._sink = sink
        self._loop = loop
        self.closed: asyncio.Future[None] = loop.create_future()
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        try:
            self._sink.output(data)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop reading (at end of file, or when the attempt is over) and close the pipe."""
        if self._fd >= 0:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1
        if not self.closed.done():
            self.closed.set_result(None)


@dataclass(eq=False)
class _Running:
    proc: Child
    signalled: bool = False  # we sent SIGTERM/SIGKILL before the process exited
    kill_timer: asyncio.TimerHandle | None = None


class LocalExecutor(Executor):
    """Runs attempts as process groups on this machine, through the repository's pool."""

    name = "local"

    def __init__(self, wtpar_dir: str, jobs: int, grace: float = 5.0, drain: float = 0.25):
        self.jobs = jobs
        self.grace = grace
        self.drain = drain
        self._pool = SlotPool(wtpar_dir, jobs)
        self._locks = ResourceLocks(wtpar_dir)
        self._running: dict[TaskKey, _Running] = {}
        self._watchdog = Watchdog(os.path.join(wtpar_dir, "watch"))
        self._devnull: int | None = None  # every task's stdin, opened once

    def slot(self) -> AbstractAsyncContextManager[object]:
        return self._pool.slot()

    def hold(self, locks: Sequence[str]) -> AbstractAsyncContextManager[None]:
        return self._locks.hold(locks)

    def describe(self) -> str:
        return f"{self.jobs} local slot{'s' if self.jobs != 1 else ''}"

    async def execute(self, attempt: Attempt, sink: AttemptSink) -> AttemptResult:
        loop = asyncio.get_running_loop()
        if self._devnull is None:
            self._devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        read_fd, write_fd = os.pipe()
        try:
            proc = start_child(
                [SHELL, "-c", attempt.command],
                attempt.cwd,
                attempt.env,
                write_fd,
                keep_fd=attempt.keep_fd,
                stdin_fd=self._devnull,
            )
        except OSError as exc:
            os.close(read_fd)
            return AttemptResult(Ending.NOT_STARTED, detail=f"cannot start: {exc}")
        finally:
            os.close(write_fd)
        running = _Running(proc)
        self._running[attempt.key] = running
        self._watchdog.track(proc.pid)  # its group id: the shell leads a new session
        try:
            return await self._follow(attempt, running, sink, read_fd, loop)
        finally:
            del self._running[attempt.key]
            self._watchdog.untrack(proc.pid)

    async def aclose(self) -> None:
        self._watchdog.close()
        self._pool.close()
        if self._devnull is not None:
            os.close(self._devnull)
            self._devnull = None

    async def _follow(
        self,
        attempt: Attempt,
        running: _Running,
        sink: AttemptSink,
        read_fd: int,
        loop: asyncio.AbstractEventLoop,
    ) -> AttemptResult:
        proc = running.proc
        output = _Output(read_fd, sink, loop)  # read from the loop's next turn on
        exited = proc.wait()
        timed_out = False
        try:
            sink.started(proc.pid, None)
            if attempt.timeout is not None:
                done, _ = await asyncio.wait({exited}, timeout=attempt.timeout)
                if not done:
                    timed_out = True
                    sink.note(f"timed out after {attempt.timeout:g}s; terminating")
                    self._terminate(running)
            ended = await exited
            await self._reap_group(proc.pid, already_signalled=running.signalled)
            if not output.closed.done():
                await asyncio.wait({output.closed}, timeout=self.drain)
        except asyncio.CancelledError:
            signal_group(proc.pid, signal.SIGKILL)
            raise
        finally:
            if running.kill_timer is not None:
                # Once the group is gone its id may be reused: never signal it late.
                running.kill_timer.cancel()
                running.kill_timer = None
            output.close()
        returncode = ended.returncode
        exit_code = returncode if returncode >= 0 else 128 - returncode
        ending = Ending.EXITED
        if timed_out:
            ending = Ending.TIMED_OUT
        elif running.signalled:
            ending = Ending.CANCELLED
        return AttemptResult(
            ending, exit_code, cpu_seconds=ended.cpu_seconds, peak_rss=ended.peak_rss
        )

    def terminate(self, key: TaskKey) -> None:
        running = self._running.get(key)
        if running is not None:
            self._terminate(running)

    def kill(self, key: TaskKey) -> None:
        running = self._running.get(key)
        if running is not None:
            running.signalled = running.signalled or running.proc.returncode is None
            signal_group(running.proc.pid, signal.SIGKILL)

    def _terminate(self, running: _Running) -> None:
        if running.signalled:
            return
        proc = running.proc
        running.signalled = proc.returncode is None
        if signal_group(proc.pid, signal.SIGTERM):
            running.kill_timer = asyncio.get_running_loop().call_later(
                self.grace, signal_group, proc.pid, signal.SIGKILL
            )

    async def _reap_group(self, pgid: int, already_signalled: bool) -> None:
        """Terminate what the task left running in its process group (background children).

        There is no way to be notified when a process group empties (pidfds exist per process,
        and the members are not our children), so this polls, briefly, and only when
        something was left behind.
        """
        if not group_alive(pgid):
            return
        if not already_signalled:
            signal_group(pgid, signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        delay = _GROUP_POLL_FIRST
        while group_alive(pgid):
            if loop.time() >= deadline:
                signal_group(pgid, signal.SIGKILL)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _GROUP_POLL_MAX)
