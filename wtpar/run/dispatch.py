"""The dispatcher: runs a plan's task instances through an executor, on one event loop.

The dispatcher owns the graph and its policies: dependencies, cascades (`after`/`when`),
retries with backoff, fail-fast, cancellation, the stagger between starts, events, logs,
reports and recorded results. Running one attempt (slots, named locks, the process, its
timeout, stopping it) is the executor's (executor.py; local.py on this machine).

Subscribers (the CLI, the dashboard) receive events synchronously, in order, on the loop.
The dashboard drives a Dispatcher inside Textual's own loop:

    dispatcher = services.make_dispatcher(RunRequest(command="make test", branches=("a",)))
    dispatcher.subscribe(on_event)          # called with each RunEvent, on the loop
    report = await dispatcher.run()         # cancel(key) / cancel_all() at any time

The CLI uses `runner.run_sync`, which adds Ctrl-C handling.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from wtpar import busy
from wtpar.errors import WtparError, signal_label
from wtpar.model import (
    RunEvent,
    RunFinished,
    RunReport,
    RunStatus,
    TaskFinished,
    TaskKey,
    TaskQueued,
)
from wtpar.procs import clean_env
from wtpar.run.attempts import make_attempt
from wtpar.run.cleanliness import CleanReads
from wtpar.run.executor import Executor, start_executor
from wtpar.run.expect import Pacer
from wtpar.run.history import History
from wtpar.run.live import LiveTask, Subscriber
from wtpar.run.plan import RunPlan
from wtpar.run.results import ResultStore
from wtpar.run.runstore import RunStore, new_run_id
from wtpar.run.waits import Waits
from wtpar.state import CacheWaits


@dataclass(frozen=True)
class DispatchOptions:
    """How a run is driven: pool size and the policies around attempts."""

    jobs: int = 1
    stagger: float = 0.0  # seconds between two starts
    fail_fast: bool = False
    grace: float = 5.0  # SIGTERM to SIGKILL
    retry_backoff: float = 0.5  # first pause between attempts, doubled each time
    drain: float = 0.25  # how long to read output left in the pipe after the exit
    max_memory_percent: float | None = None  # no new start while used memory is above it
    jobs_note: str | None = None  # how `jobs` was chosen (-j auto), for the summary


class Dispatcher:
    """Runs one plan through an executor; drive it with `await run()` (or `run_sync`)."""

    def __init__(
        self,
        plan: RunPlan,
        wtpar_dir: str,
        options: DispatchOptions,
        *,
        executor: Executor | None = None,
        run_id: str | None = None,
        results: ResultStore | None = None,
        env: dict[str, str] | None = None,
        clean_reads: CleanReads | None = None,
        history: History | None = None,
        memory_percent: Callable[[], float] | None = None,
    ) -> None:
        if options.jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.plan = plan
        self.wtpar_dir = wtpar_dir
        self.options = options
        self.executor = executor
        self.run_id = run_id or new_run_id()
        self.results = results
        self.clean_reads = clean_reads  # read while the run goes on (cleanliness.py)
        self.store = RunStore(wtpar_dir)
        self.interrupted = False
        self.signal: str | None = None
        self.report: RunReport | None = None
        self.start_failed = False  # the executor could not start: no task ran (the error says why)
        self._base_env = env if env is not None else clean_env()
        self._subscribers: list[Subscriber] = []
        self._stopping: str | None = None
        self._started_run = False
        # One LiveTask per instance, thousands of them: what they share is made once.
        log_at = functools.partial(self.store.log_path, self.run_id)
        emit, started = self._emit, self._after_start
        self._lives = {i.key: LiveTask(i, log_at, emit, on_started=started) for i in plan.instances}
        self._waits = Waits(self._lives.values(), self._ready)
        self._tasks: set[asyncio.Task[None]] = set()  # the instances started, until they end
        self._busy = busy.Registrar(wtpar_dir)  # every wtpar process sees a worktree busy
        self._unfinished = len(self._lives)
        self._all_finished: asyncio.Future[None] | None = None  # once tasks may start
        self.pacer = Pacer(plan, history, memory_percent)
        self.recording = CacheWaits()  # the end's waits for the caches' locks

    @property
    def jobs(self) -> int:
        """The number of pool slots of this run."""
        return self.options.jobs

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
        if live is None or live.finished:
            return
        if live.cancel_reason is None:
            live.cancel_reason = reason
        self._cancel_live(live)

    def cancel_all(self, reason: str = "cancelled") -> None:
        """Stop starting tasks, terminate the running ones; the end waits for no cache lock."""
        self._stop(reason)
        self.recording.stop()

    def interrupt(self, signal_name: str = "SIGINT") -> None:
        """The first Ctrl-C (or SIGTERM, SIGHUP): like cancel_all, and the report says the
        run was interrupted, and by what."""
        self.interrupted = True
        self.signal = self.signal or signal_name
        self.cancel_all(f"interrupted ({signal_label(self.signal)})")

    def kill_now(self, signal_name: str = "SIGINT") -> None:
        """The second Ctrl-C: SIGKILL every running process group at once."""
        self.interrupt(signal_name)
        if self.executor is not None:
            for live in self._lives.values():
                if live.running:
                    self.executor.kill(live.instance.key)

    async def run(self) -> RunReport:
        """Run every task instance; return the report (also written to report.json)."""
        if self._started_run:
            raise RuntimeError("a Dispatcher runs once")
        self._started_run = True
        if self.executor is None:
            from wtpar.run.local import LocalExecutor

            opts = self.options
            self.executor = LocalExecutor(self.wtpar_dir, opts.jobs, opts.grace, opts.drain)
        self._loop = asyncio.get_running_loop()
        self.started = time.time()
        os.makedirs(self.store.run_dir(self.run_id), exist_ok=True)
        for live in self._lives.values():
            inst = live.instance
            self._emit(TaskQueued(inst.key, inst.command, inst.worktree.path))
        limit = functools.partial(self.executor.start_limit, self.options.jobs)
        self.pacer.open_gate(limit, self.options.max_memory_percent, start=self._started_by_gate)
        try:
            await start_executor(self.executor)
        except (WtparError, asyncio.CancelledError) as exc:
            # Nothing can run (an unreachable Dask scheduler, say): every queued task ends
            # with the one-line reason and the run ends with its report; nothing stays queued.
            if isinstance(exc, WtparError):
                await self._end_unstarted(self.executor, RunStatus.FAILED, exc.message)
            else:
                await self._end_unstarted(self.executor, RunStatus.CANCELLED, self._stopping)
            raise
        if self.clean_reads is not None:
            self.clean_reads.start(live.instance.worktree.path for live in self._lives.values())
        # An instance starts once ready (waits.py) and its turn comes (the start gate): a
        # task for each of thousands up front would only wait.
        self._all_finished = self._loop.create_future()
        self._waits.ready([live for live in self._lives.values() if not live.waiting])
        try:
            if self._unfinished:
                await self._all_finished
            if self._tasks:
                await asyncio.wait(self._tasks)
        except asyncio.CancelledError:
            # run() itself was cancelled (the dashboard is quitting): leave nothing behind.
            self.kill_now()
            if self._tasks:
                await asyncio.wait(self._tasks)
            raise
        finally:
            await self.executor.aclose()
            self._busy.close()
            report = self._save_report()
            from wtpar.run.recording import record_run  # loaded as the tasks ran

            parts = (self.plan.instances, self.results, self.clean_reads, self.pacer)
            await record_run(report, *parts, self.recording)
        self._emit(RunFinished(report))
        return report

    async def _end_unstarted(
        self, executor: Executor, status: RunStatus, reason: str | None
    ) -> None:
        self.start_failed = True
        for live in self._lives.values():
            if not live.finished:
                self._finish(live, status, reason)
        with contextlib.suppress(Exception):
            # Release what a half-done start took; the report below matters more.
            await executor.aclose()
        self._emit(RunFinished(self._save_report()))

    # -- one task instance -------------------------------------------------------------------

    def _ready(self, live: LiveTask) -> None:
        # What it waited for has finished: skip it, or start it (now, to take its locks
        # first: pool.py), or queue it for its turn.
        if live.finished:
            return
        if self._stopping or live.cancel_reason:
            self._finish(live, RunStatus.CANCELLED, live.cancel_reason or self._stopping)
        elif (blocked := live.blocked(self._lives)) is not None:
            self._finish(live, *blocked)
        elif live.instance.locks:
            self._start_task(live)
        else:
            self.pacer.queue(live.instance.key, live)

    def _started_by_gate(self, live: LiveTask) -> None:
        live.holds_turn = True  # a queued instance's turn came: it holds the gate's place
        self._start_task(live)

    def _start_task(self, live: LiveTask) -> None:
        task = self._loop.create_task(self._drive(live), name=str(live.instance.key))
        live.task = task
        self._tasks.add(task)
        task.add_done_callback(functools.partial(self._task_ended, live))

    def _task_ended(self, live: LiveTask, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._leave_turn(live)
        # A task cancelled before its first step never runs _drive: finish it here, so its
        # dependents do not wait for it forever.
        if not live.finished:
            self._finish(live, RunStatus.CANCELLED, live.cancel_reason or self._stopping)

    def _leave_turn(self, live: LiveTask) -> None:
        if live.holds_turn:
            live.holds_turn = False
            self.pacer.leave()

    async def _drive(self, live: LiveTask) -> None:
        try:
            status, reason = await self._execute(live)
        except asyncio.CancelledError:
            status, reason = RunStatus.CANCELLED, live.cancel_reason or self._stopping
        except OSError as exc:
            # The log folder cannot be written, say: fail this task, never leave its
            # dependents waiting for an instance that will not finish.
            status, reason = RunStatus.FAILED, f"wtpar: {exc}"
        except Exception as exc:  # noqa: BLE001 - any failure of wtpar itself fails the task
            # A bug or a broken install (an executor that raises): the task fails with the
            # error, and the run goes on and ends instead of waiting forever.
            status, reason = RunStatus.FAILED, f"wtpar: internal error: {type(exc).__name__}: {exc}"
        self._finish(live, status, reason)

    async def _execute(self, live: LiveTask) -> tuple[RunStatus, str | None]:
        inst = live.instance
        attempts = inst.spec.retries + 1
        status, reason = RunStatus.CANCELLED, None
        for attempt in range(1, attempts + 1):
            if self._stopping or live.cancel_reason:
                return RunStatus.CANCELLED, live.cancel_reason or self._stopping
            status, reason = await self._attempt(live, attempt, attempts)
            if status not in (RunStatus.FAILED, RunStatus.TIMED_OUT) or attempt == attempts:
                break
            await asyncio.sleep(self.options.retry_backoff * 2 ** (attempt - 1))
        return status, reason

    async def _attempt(
        self, live: LiveTask, attempt: int, attempts: int
    ) -> tuple[RunStatus, str | None]:
        inst = live.instance
        executor = self.executor
        assert executor is not None
        # The first attempt of a queued instance already has its turn (the gate started it).
        turn = self.pacer.turn(inst.key) if not live.holds_turn else contextlib.nullcontext()
        locks = executor.hold(inst.locks) if inst.locks else contextlib.nullcontext()
        try:
            async with locks, turn, executor.slot():
                await self.pacer.stagger(self.options.stagger)
                if self._stopping or live.cancel_reason:
                    return RunStatus.CANCELLED, live.cancel_reason or self._stopping
                if attempt > 1:
                    live.note(f"attempt {attempt} of {attempts}")
                live.attempts = attempt
                live.running = True
                live.began = time.monotonic()  # until the process starts (LiveTask.started)
                try:
                    with self._busy.running_in(inst.worktree.path, inst.key.task) as record:
                        live.busy_record = record  # the task's process holds it too (busy.py)
                        made = make_attempt(self._base_env, self.run_id, inst, attempt, record.fd)
                        result = await executor.execute(made, live)
                finally:
                    live.running = False
                    live.busy_record = None
                    live.flush_output()
        finally:
            self._leave_turn(live)
        # From the process's start: a cluster may have queued the attempt before it ran.
        self.pacer.remember(inst, result, time.monotonic() - live.began)
        return live.judge(result, self._stopping)

    # -- history, ETA and hold-back (expect.Pacer) -------------------------------------------

    @property
    def holding_back(self) -> str | None:
        """Why no new task starts now (`[run] max_memory_percent`), or None."""
        return self.pacer.holding_back

    def eta(self, now: float | None = None) -> float:
        """Seconds left, from history (see expect.Pacer.eta)."""
        now = time.time() if now is None else now
        lives = self._lives.items()
        running = {k: t for k, live in lives if (t := live.running_for(now)) is not None}
        finished = [key for key, live in self._lives.items() if live.finished]
        return self.pacer.eta(finished, running, self.jobs)

    def _after_start(self, live: LiveTask) -> None:
        if self._stopping or live.cancel_reason:
            self._terminate(live)

    def _terminate(self, live: LiveTask) -> None:
        if self.executor is not None:
            self.executor.terminate(live.instance.key)

    def _finish(self, live: LiveTask, status: RunStatus, reason: str | None) -> None:
        live.end(status, reason)
        self._unfinished -= 1
        if not self._unfinished and self._all_finished and not self._all_finished.done():
            self._all_finished.set_result(None)
        try:
            self._emit(TaskFinished(live.task_run()))
            if self.options.fail_fast and status in (RunStatus.FAILED, RunStatus.TIMED_OUT):
                self._stop(f"--fail-fast: {live.instance.key} {status.value}")
        finally:
            ready = self._waits.finished(live.instance.key)
            if ready and self._all_finished is not None:
                self._waits.ready(ready)

    def _cancel_live(self, live: LiveTask) -> None:
        if live.running:
            self._terminate(live)
        elif live.task is not None:
            live.task.cancel()
        elif self._all_finished is not None:  # waiting for what it depends on, or its turn
            self._finish(live, RunStatus.CANCELLED, live.cancel_reason or self._stopping)

    def _stop(self, reason: str) -> None:
        if self._stopping:
            return
        self._stopping = reason
        for live in self._lives.values():
            if not live.finished:
                self._cancel_live(live)

    # -- results -----------------------------------------------------------------------------

    def _emit(self, event: RunEvent) -> None:
        for callback in self._subscribers:
            callback(event)

    def _save_report(self) -> RunReport:
        self.report = RunReport(
            run_id=self.run_id,
            started=self.started,
            ended=time.time(),
            jobs=self.jobs,
            tasks=tuple(live.task_run() for live in self._lives.values()),
            interrupted=self.interrupted,
            signal=self.signal,
            jobs_note=self.options.jobs_note,
        )
        self.store.save(self.report)  # report.json
        return self.report
