"""The dispatcher: runs a plan's task instances through the shared pool, on one event loop.

Every task is `/bin/sh -c CMD` in its own process group (session), stdout and stderr merged
into one pipe that wtpar owns, read as it comes: every byte goes to the task's log file and
every line is emitted as a TaskOutput event. When the task's process exits, whatever it left
running in its group is terminated, the pipe is drained for a short bound and then closed:
a grandchild that escaped its group and still holds the pipe cannot make wtpar wait.

Subscribers (the CLI, the dashboard) receive events synchronously, in order, on the loop.
The dashboard drives a Dispatcher inside Textual's own loop:

    dispatcher = services.make_dispatcher(RunRequest(command="make test", branches=("a",)))
    dispatcher.subscribe(on_event)          # called with each RunEvent, on the loop
    report = await dispatcher.run()         # cancel(key) / cancel_all() at any time

The CLI uses `run_sync`, which adds Ctrl-C handling: the first Ctrl-C stops starting tasks
and terminates the running ones, the second kills them at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from wtpar.model import (
    RunEvent,
    RunFinished,
    RunReport,
    RunStatus,
    TaskFinished,
    TaskKey,
    TaskOutput,
    TaskQueued,
    TaskRun,
    TaskStarted,
    When,
)
from wtpar.pool import ResourceLocks, SlotPool
from wtpar.procs import clean_env
from wtpar.results import RecordedResult, ResultStore
from wtpar.runstore import RunStore, new_run_id
from wtpar.tasks import UNCHANGED_PREFIX, RunPlan, TaskInstance

Subscriber = Callable[[RunEvent], None]

SHELL = "/bin/sh"
_MAX_LINE = 1 << 20  # a "line" longer than this is emitted in pieces, so memory stays bounded
_GROUP_POLL_FIRST = 0.005
_GROUP_POLL_MAX = 0.05


@dataclass(eq=False)
class _Live:
    """The mutable state of one task instance during a run."""

    instance: TaskInstance
    log_path: str
    status: RunStatus = RunStatus.QUEUED
    attempts: int = 0
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    task: asyncio.Task[None] | None = None
    proc: asyncio.subprocess.Process | None = None
    running: bool = False  # from just before spawning to after the pipe is closed
    signalled: bool = False  # we sent SIGTERM/SIGKILL before the process exited
    cancel_reason: str | None = None
    kill_timer: asyncio.TimerHandle | None = None
    log: IO[bytes] | None = None
    log_at_line_start: bool = True
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def passed(self) -> bool:
        """Succeeded, or skipped because it already succeeded at this commit."""
        return self.status is RunStatus.OK or (
            self.status is RunStatus.SKIPPED and (self.reason or "").startswith(UNCHANGED_PREFIX)
        )

    def write_log(self, data: bytes) -> None:
        if self.log is None:
            os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
            self.log = open(self.log_path, "ab")  # noqa: SIM115 - open for the task's lifetime
        self.log.write(data)
        self.log.flush()
        self.log_at_line_start = data.endswith(b"\n")

    def note(self, text: str) -> None:
        """A line of wtpar's own in the log (attempts, timeouts), on a line of its own."""
        prefix = b"" if self.log_at_line_start else b"\n"
        self.write_log(prefix + f"wtpar: {text}\n".encode())


class _OutputProtocol(asyncio.Protocol):
    """Reads the task's merged output: every byte to the log, every complete line out."""

    def __init__(self, live: _Live, on_line: Callable[[str], None]) -> None:
        self._live = live
        self._on_line = on_line
        self._partial = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self._live.write_log(data)
        self._partial += data
        if b"\n" in data:
            *lines, rest = bytes(self._partial).split(b"\n")
            self._partial = bytearray(rest)
            for line in lines:
                self._on_line(_text(line))
        elif len(self._partial) > _MAX_LINE:
            self._on_line(_text(bytes(self._partial)))
            self._partial.clear()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.flush()
        if not self.closed.done():
            self.closed.set_result(None)

    def flush(self) -> None:
        """Emit a last line that had no newline."""
        if self._partial:
            self._on_line(_text(bytes(self._partial)))
            self._partial.clear()


def _text(line: bytes) -> str:
    return line.decode("utf-8", "replace").removesuffix("\r")


def _signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member changed its credentials (setuid helper): nothing more we can do.
        return False
    return True


class Dispatcher:
    """Runs one plan through the pool; drive it with `await run()` (or `run_sync`)."""

    def __init__(
        self,
        plan: RunPlan,
        wtpar_dir: str,
        *,
        jobs: int,
        stagger: float = 0.0,
        fail_fast: bool = False,
        run_id: str | None = None,
        grace: float = 5.0,
        retry_backoff: float = 0.5,
        drain: float = 0.25,
        results: ResultStore | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.plan = plan
        self.wtpar_dir = wtpar_dir
        self.jobs = jobs
        self.stagger = stagger
        self.fail_fast = fail_fast
        self.run_id = run_id or new_run_id()
        self.grace = grace
        self.retry_backoff = retry_backoff
        self.drain = drain
        self.results = results
        self.store = RunStore(wtpar_dir)
        self.interrupted = False
        self.report: RunReport | None = None
        self._base_env = env if env is not None else clean_env()
        self._subscribers: list[Subscriber] = []
        self._stopping: str | None = None
        self._next_start = 0.0
        self._started_run = False
        self._lives = {
            i.key: _Live(i, self.store.log_path(self.run_id, i.key)) for i in plan.instances
        }

    # -- the API the CLI and the dashboard use ---------------------------------------------

    def subscribe(self, callback: Subscriber) -> None:
        """Call `callback(event)` for every event, on the loop, in order."""
        self._subscribers.append(callback)

    @property
    def keys(self) -> list[TaskKey]:
        """Every task instance of the run, dependencies first."""
        return list(self._lives)

    def cancel(self, key: TaskKey, reason: str = "cancelled") -> None:
        """Cancel one task instance: if queued it will not start; if running, its process
        group gets SIGTERM, then SIGKILL after the grace period. Dependents are skipped."""
        live = self._lives.get(key)
        if live is None or live.finished.is_set():
            return
        if live.cancel_reason is None:
            live.cancel_reason = reason
        if live.running:
            self._terminate(live)
        elif live.task is not None:
            live.task.cancel()

    def cancel_all(self, reason: str = "cancelled") -> None:
        """Stop starting tasks, terminate the running ones; the rest end cancelled."""
        self._stop(reason)

    def interrupt(self) -> None:
        """The first Ctrl-C: like cancel_all, and the report says the run was interrupted."""
        self.interrupted = True
        self._stop("interrupted (Ctrl-C)")

    def kill_now(self) -> None:
        """The second Ctrl-C: SIGKILL every running process group at once."""
        self.interrupted = True
        self._stop("interrupted (Ctrl-C)")
        for live in self._lives.values():
            if live.proc is not None:
                live.signalled = live.signalled or live.proc.returncode is None
                _signal_group(live.proc.pid, signal.SIGKILL)

    async def run(self) -> RunReport:
        """Run every task instance; return the report (also written to report.json)."""
        if self._started_run:
            raise RuntimeError("a Dispatcher runs once")
        self._started_run = True
        self._pool = SlotPool(self.wtpar_dir, self.jobs)
        self._locks = ResourceLocks(self.wtpar_dir)
        self._loop = asyncio.get_running_loop()
        self.started = time.time()
        os.makedirs(self.store.run_dir(self.run_id), exist_ok=True)
        for live in self._lives.values():
            inst = live.instance
            self._emit(TaskQueued(inst.key, inst.command, inst.worktree.path))
        tasks = []
        for live in self._lives.values():
            live.task = asyncio.create_task(self._drive(live), name=str(live.instance.key))
            tasks.append(live.task)
        try:
            if tasks:
                await asyncio.wait(tasks)
        except asyncio.CancelledError:
            # run() itself was cancelled (the dashboard is quitting): leave nothing behind.
            self.kill_now()
            await asyncio.wait(tasks)
            raise
        finally:
            self.report = self._make_report()
            self.store.save(self.report)
            self._record_results()
        self._emit(RunFinished(self.report))
        return self.report

    # -- one task instance -------------------------------------------------------------------

    async def _drive(self, live: _Live) -> None:
        try:
            status, reason = await self._execute(live)
        except asyncio.CancelledError:
            status, reason = RunStatus.CANCELLED, live.cancel_reason or self._stopping
        except OSError as exc:
            # The log folder cannot be written, say: fail this task, never leave its
            # dependents waiting for an instance that will not finish.
            status, reason = RunStatus.FAILED, f"wtpar: {exc}"
        self._finish(live, status, reason)

    async def _execute(self, live: _Live) -> tuple[RunStatus, str | None]:
        inst = live.instance
        if inst.skip_reason:
            return RunStatus.SKIPPED, inst.skip_reason
        for dep_key in inst.deps:
            dep = self._lives[dep_key]
            await dep.finished.wait()
            if not dep.passed:
                return RunStatus.SKIPPED, f"dependency {dep_key} {dep.status.value}"
        if inst.trigger is not None:
            trigger = self._lives[inst.trigger]
            await trigger.finished.wait()
            if not _fires(inst.spec.when, trigger):
                return (
                    RunStatus.SKIPPED,
                    f"not triggered: {inst.trigger} {trigger.status.value} "
                    f"(when = {inst.spec.when.value})",
                )
        attempts = inst.spec.retries + 1
        status, reason = RunStatus.CANCELLED, None
        for attempt in range(1, attempts + 1):
            if self._stopping or live.cancel_reason:
                return RunStatus.CANCELLED, live.cancel_reason or self._stopping
            status, reason = await self._attempt(live, attempt, attempts)
            if status not in (RunStatus.FAILED, RunStatus.TIMED_OUT) or attempt == attempts:
                break
            await asyncio.sleep(self.retry_backoff * 2 ** (attempt - 1))
        return status, reason

    async def _attempt(
        self, live: _Live, attempt: int, attempts: int
    ) -> tuple[RunStatus, str | None]:
        inst = live.instance
        async with self._locks.hold(inst.locks), self._pool.slot():
            await self._stagger_gate()
            if self._stopping or live.cancel_reason:
                return RunStatus.CANCELLED, live.cancel_reason or self._stopping
            live.running = True
            try:
                return await self._spawn_and_wait(live, attempt, attempts)
            finally:
                live.running = False
                live.proc = None

    async def _spawn_and_wait(
        self, live: _Live, attempt: int, attempts: int
    ) -> tuple[RunStatus, str | None]:
        inst = live.instance
        key = inst.key
        if attempt > 1:
            live.note(f"attempt {attempt} of {attempts}")
        live.attempts = attempt
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                SHELL,
                "-c",
                inst.command,
                cwd=inst.worktree.path,
                env=self._env(inst, attempt),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                start_new_session=True,
            )
        except OSError as exc:
            os.close(read_fd)
            live.note(f"cannot start: {exc}")
            self._emit(TaskOutput(key, f"wtpar: cannot start: {exc}"))
            return RunStatus.FAILED, f"cannot start: {exc}"
        finally:
            os.close(write_fd)
        live.proc = proc
        live.signalled = False
        now = time.time()
        if live.started is None:
            live.started = now
        live.status = RunStatus.RUNNING
        self._emit(TaskStarted(key, attempt, proc.pid, now))
        if self._stopping or live.cancel_reason:
            self._terminate(live)
        pipe = os.fdopen(read_fd, "rb", buffering=0)
        transport, protocol = await self._loop.connect_read_pipe(
            lambda: _OutputProtocol(live, lambda line: self._emit(TaskOutput(key, line))), pipe
        )
        exited = asyncio.ensure_future(proc.wait())
        timed_out = False
        try:
            done, _ = await asyncio.wait({exited}, timeout=inst.spec.timeout)
            if not done:
                timed_out = True
                live.note(f"timed out after {inst.spec.timeout:g}s; terminating")
                self._terminate(live)
            returncode = await exited
            await self._reap_group(proc.pid, already_signalled=live.signalled)
            await asyncio.wait({protocol.closed}, timeout=self.drain)
        except asyncio.CancelledError:
            _signal_group(proc.pid, signal.SIGKILL)
            raise
        finally:
            if live.kill_timer is not None:
                # Once the group is gone its id may be reused: never signal it late.
                live.kill_timer.cancel()
                live.kill_timer = None
            transport.close()
            protocol.flush()
        live.exit_code = returncode if returncode >= 0 else 128 - returncode
        if timed_out:
            return RunStatus.TIMED_OUT, f"timed out after {inst.spec.timeout:g}s"
        if live.signalled:
            return RunStatus.CANCELLED, live.cancel_reason or self._stopping
        return (RunStatus.OK, None) if returncode == 0 else (RunStatus.FAILED, None)

    def _terminate(self, live: _Live) -> None:
        proc = live.proc
        if proc is None or live.signalled:
            return
        live.signalled = proc.returncode is None
        if _signal_group(proc.pid, signal.SIGTERM):
            live.kill_timer = self._loop.call_later(
                self.grace, _signal_group, proc.pid, signal.SIGKILL
            )

    async def _reap_group(self, pgid: int, already_signalled: bool) -> None:
        """Terminate what the task left running in its process group (background children).

        There is no way to be notified when a process group empties (pidfds exist per process,
        and the members are not our children), so this polls, briefly, and only when
        something was left behind.
        """
        if not _signal_group(pgid, 0):
            return
        if not already_signalled:
            _signal_group(pgid, signal.SIGTERM)
        deadline = self._loop.time() + self.grace
        delay = _GROUP_POLL_FIRST
        while _signal_group(pgid, 0):
            if self._loop.time() >= deadline:
                _signal_group(pgid, signal.SIGKILL)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _GROUP_POLL_MAX)

    async def _stagger_gate(self) -> None:
        if self.stagger <= 0:
            return
        now = self._loop.time()
        start = max(now, self._next_start)
        self._next_start = start + self.stagger
        if start > now:
            await asyncio.sleep(start - now)

    def _env(self, inst: TaskInstance, attempt: int) -> dict[str, str]:
        env = dict(self._base_env)
        env.update(inst.spec.env)
        env.update(
            WTPAR_BRANCH=inst.worktree.branch,
            WTPAR_TASK=inst.key.task,
            WTPAR_WORKTREE=inst.worktree.path,
            WTPAR_RUN_ID=self.run_id,
            WTPAR_ATTEMPT=str(attempt),
        )
        return env

    def _finish(self, live: _Live, status: RunStatus, reason: str | None) -> None:
        live.status = status
        live.reason = reason
        if live.started is not None:
            live.ended = time.time()
        if live.log is not None:
            live.log.close()
        live.finished.set()
        self._emit(TaskFinished(self._task_run(live)))
        if self.fail_fast and status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
            self._stop(f"--fail-fast: {live.instance.key} {status.value}")

    def _stop(self, reason: str) -> None:
        if self._stopping:
            return
        self._stopping = reason
        for live in self._lives.values():
            if live.finished.is_set():
                continue
            if live.running:
                self._terminate(live)
            elif live.task is not None:
                live.task.cancel()

    # -- results -----------------------------------------------------------------------------

    def _emit(self, event: RunEvent) -> None:
        for callback in self._subscribers:
            callback(event)

    def _task_run(self, live: _Live) -> TaskRun:
        inst = live.instance
        return TaskRun(
            key=inst.key,
            command=inst.command,
            worktree=inst.worktree.path,
            status=live.status,
            exit_code=live.exit_code,
            started=live.started,
            ended=live.ended,
            attempts=live.attempts,
            log_path=live.log_path if live.log is not None else None,
            reason=live.reason,
        )

    def _make_report(self) -> RunReport:
        return RunReport(
            run_id=self.run_id,
            started=self.started,
            ended=time.time(),
            jobs=self.jobs,
            tasks=tuple(self._task_run(live) for live in self._lives.values()),
            interrupted=self.interrupted,
        )

    def _record_results(self) -> None:
        if self.results is None or self.report is None:
            return
        final = (RunStatus.OK, RunStatus.FAILED, RunStatus.TIMED_OUT)
        records = [
            RecordedResult(
                task=run.key.task,
                command=run.command,
                branch=run.key.branch,
                head=live.instance.worktree.head or "",
                status=run.status.value,
                exit_code=run.exit_code,
                finished=run.ended or self.report.ended,
                run_id=self.run_id,
            )
            for run, live in zip(self.report.tasks, self._lives.values(), strict=True)
            if run.status in final and live.instance.worktree.clean and live.instance.worktree.head
        ]
        self.results.record(records)


def _fires(when: When, trigger: _Live) -> bool:
    if when is When.ALWAYS:
        return True
    if when is When.SUCCESS:
        return trigger.passed
    return trigger.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)


def run_sync(
    dispatcher: Dispatcher,
    on_tick: Callable[[], None] | None = None,
    tick_interval: float = 0.25,
    on_interrupt: Callable[[int], None] | None = None,
) -> RunReport:
    """Run a dispatcher on a new event loop, blocking; Ctrl-C once interrupts it (partial
    report, `report.interrupted`), twice kills every task at once. `on_tick` is called
    every `tick_interval` seconds (the CLI's progress line), `on_interrupt` with the number
    of Ctrl-C presses so far."""

    async def main() -> RunReport:
        loop = asyncio.get_running_loop()
        handled: list[signal.Signals] = []
        if threading.current_thread() is threading.main_thread():
            presses = [0]

            def interrupted() -> None:
                presses[0] += 1
                if presses[0] == 1:
                    dispatcher.interrupt()
                else:
                    dispatcher.kill_now()
                if on_interrupt is not None:
                    on_interrupt(presses[0])

            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, interrupted)
                handled.append(sig)
        ticker = asyncio.create_task(_tick(on_tick, tick_interval)) if on_tick else None
        try:
            return await dispatcher.run()
        finally:
            if ticker is not None:
                ticker.cancel()
            for sig in handled:
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


async def _tick(callback: Callable[[], None], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        callback()
