"""The function a Dask worker runs for one task attempt.

Dask cannot stop a running function: cancelling its future leaves the thread (and the
subprocess it started) running. So this runner owns the process group itself, as the local
executor does: `/bin/sh -c CMD` in a new session, output read as it comes and published in
bounded chunks on the run's event topic, and a loop that checks the attempt's timeout and
its two cancel flags (`distributed.Event`s set by the coordinator: terminate, kill now),
and whether the scheduler still wants the task (a coordinator that was killed or lost its
connection has its tasks dropped: they are terminated too).
A stop sends SIGTERM to the group, then SIGKILL after the grace period; whatever the task
left in its group is ended too, so no process outlives its task on the worker.

This module is imported on workers (by unpickling `run_attempt`) and only on the Dask path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import selectors
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from typing import Any

from wtpar.procs import clean_env, group_alive, signal_group
from wtpar.run.dask.checkout import CheckoutError, cache_root, checked_out
from wtpar.run.dask.protocol import (
    CHUNK_BYTES,
    NOTE,
    OUTPUT,
    START,
    RemoteAttempt,
    RemoteResult,
    cancel_event,
    end_message,
)
from wtpar.run.executor import Ending

SHELL = "/bin/sh"
_TICK = 0.05  # how often the loop wakes without output: timeout, kill timer
_CANCEL_CHECK = 0.1  # how often the cancel flags are read (answers come one check later)
_FLUSH_AFTER = 0.05  # output waits at most this long before it is published
_GROUP_POLL = 0.02

Publish = Callable[[dict[str, Any]], None]
Flag = Callable[[], bool]


def run_attempt(job: RemoteAttempt) -> RemoteResult:
    """Check out the attempt's commit on this worker and run its command there (Dask task)."""
    from distributed import get_worker

    worker = get_worker()
    epoch = uuid.uuid4().hex
    sent = [0]

    def publish(message: dict[str, Any]) -> None:
        worker.log_event(job.topic, {**message, "token": job.token, "epoch": epoch})
        sent[0] += 1

    def ask(name: str) -> concurrent.futures.Future[Any]:
        """Is the distributed.Event `name` set? Asked on the worker's own loop, over its
        own connection to the scheduler, so the supervising loop never waits for it."""
        request = worker.scheduler.event_is_set(name=name)
        return asyncio.run_coroutine_threadsafe(request, worker.loop.asyncio_loop)

    from distributed.worker import thread_state

    key = thread_state.key

    def unwanted() -> bool:
        """The scheduler dropped this task: its coordinator is gone (killed, disconnected)."""
        task = worker.state.tasks.get(key)
        return task is None or task.state in ("cancelled", "released", "forgotten")

    asked = _Flag(cancel_event(job.token), ask)
    kill = _Flag(cancel_event(job.token, kill=True), ask)
    ending, exit_code, detail = _run(job, publish, lambda: unwanted() or asked(), kill)
    resources = tuple(sorted(worker.state.total_resources.items()))
    result = RemoteResult(ending, exit_code, detail, worker.address, epoch, sent[0], resources)
    publish(end_message(result))
    return result


class _Flag:
    """A cancel flag read without blocking: each call collects the answer to the previous
    question and asks again, so a flag is seen one check interval after it is set."""

    def __init__(self, name: str, ask: Callable[[str], concurrent.futures.Future[Any]]) -> None:
        self.name = name
        self.ask = ask
        self.pending: concurrent.futures.Future[Any] | None = None
        self.seen = False

    def __call__(self) -> bool:
        if self.seen:
            return True
        if self.pending is not None and self.pending.done():
            with contextlib.suppress(Exception):  # the scheduler is unreachable: ask again
                self.seen = bool(self.pending.result())
            self.pending = None
        if self.pending is None and not self.seen:
            self.pending = self.ask(self.name)
        return self.seen


def _run(
    job: RemoteAttempt, publish: Publish, terminate: Flag, kill: Flag
) -> tuple[Ending, int | None, str | None]:
    try:
        with checked_out(job.source, job.ref, job.commit, cache_root(), job.keep_worktrees) as root:
            return _start(job, root, publish, terminate, kill)
    except CheckoutError as exc:
        return Ending.NOT_STARTED, None, exc.message


def _start(
    job: RemoteAttempt, root: str, publish: Publish, terminate: Flag, kill: Flag
) -> tuple[Ending, int | None, str | None]:
    cwd = os.path.join(root, job.subdir) if job.subdir else root
    env = clean_env(dict(job.env))
    env["WTPAR_WORKTREE"] = root
    try:
        proc = subprocess.Popen(
            [SHELL, "-c", job.command],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Ending.NOT_STARTED, None, f"cannot start: {exc}"
    publish({"kind": START, "pid": proc.pid})
    return _Supervisor(job, proc, publish, terminate, kill).run()


class _Supervisor:
    """Streams one process's output and enforces its timeout and cancel flags."""

    def __init__(
        self,
        job: RemoteAttempt,
        proc: subprocess.Popen[bytes],
        publish: Publish,
        terminate: Flag,
        kill: Flag,
    ) -> None:
        self.job = job
        self.proc = proc
        self.publish = publish
        self.terminate_flag = terminate
        self.kill_flag = kill
        self.pending = bytearray()
        self.pending_since = 0.0
        self.signalled = False
        self.kill_at: float | None = None
        self.timed_out = False
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.fd, selectors.EVENT_READ)
        self.eof = False

    def run(self) -> tuple[Ending, int | None, str | None]:
        started = time.monotonic()
        deadline = started + self.job.timeout if self.job.timeout else None
        next_check = started + _CANCEL_CHECK
        try:
            while self.proc.poll() is None:
                self._read(_TICK)
                now = time.monotonic()
                if deadline is not None and now >= deadline and not self.timed_out:
                    self.timed_out = True
                    self._note(f"timed out after {self.job.timeout:g}s; terminating")
                    self._terminate(now)
                if now >= next_check:
                    next_check = now + _CANCEL_CHECK
                    self._check_flags(now)
                if self.kill_at is not None and now >= self.kill_at:
                    signal_group(self.proc.pid, signal.SIGKILL)
                    self.kill_at = None
            self._reap_group()
            self._drain()
        finally:
            self.selector.close()
            assert self.proc.stdout is not None
            self.proc.stdout.close()
            self._flush()
        code = self.proc.returncode
        exit_code = code if code >= 0 else 128 - code
        if self.timed_out:
            return Ending.TIMED_OUT, exit_code, f"timed out after {self.job.timeout:g}s"
        if self.signalled:
            return Ending.CANCELLED, exit_code, None
        return Ending.EXITED, exit_code, None

    def _check_flags(self, now: float) -> None:
        # The coordinator sets the terminate flag with the kill flag, so one round trip a
        # check is enough until a stop has begun.
        if not self.signalled:
            if self.terminate_flag():
                self._terminate(now)
        elif self.kill_at is not None and self.kill_flag():
            signal_group(self.proc.pid, signal.SIGKILL)
            self.kill_at = None

    def _terminate(self, now: float) -> None:
        if self.signalled:
            return
        self.signalled = True
        if signal_group(self.proc.pid, signal.SIGTERM):
            self.kill_at = now + self.job.grace

    def _reap_group(self) -> None:
        """End what the task left running in its group (background children)."""
        pgid = self.proc.pid
        if not group_alive(pgid):
            return
        if not self.signalled:
            signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + self.job.grace
        while group_alive(pgid):
            if time.monotonic() >= deadline:
                signal_group(pgid, signal.SIGKILL)
                return
            self._read(_GROUP_POLL)

    def _drain(self) -> None:
        """Read what is left in the pipe, for a short bound: a grandchild that escaped the
        group and holds the pipe cannot make the task wait."""
        deadline = time.monotonic() + self.job.drain
        while not self.eof and time.monotonic() < deadline:
            self._read(max(0.0, deadline - time.monotonic()))

    def _read(self, wait: float) -> None:
        if self.eof:
            if self.proc.returncode is None:
                # The pipe is closed: wait for the process itself, waking for the checks.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(wait)
            else:
                time.sleep(wait)  # wait-ok: polling the group's last members (see _reap_group)
            return
        if self.selector.select(wait):
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                data = None
            if data == b"":
                self.eof = True
                self.selector.unregister(self.fd)
            elif data:
                if not self.pending:
                    self.pending_since = time.monotonic()
                self.pending += data
        if self.pending and (
            len(self.pending) >= CHUNK_BYTES
            or time.monotonic() - self.pending_since >= _FLUSH_AFTER
        ):
            self._flush()

    def _flush(self) -> None:
        data = bytes(self.pending)
        self.pending.clear()
        for at in range(0, len(data), CHUNK_BYTES):
            self.publish({"kind": OUTPUT, "data": data[at : at + CHUNK_BYTES]})

    def _note(self, text: str) -> None:
        """A line of wtpar's own for the task's log, after the output so far."""
        self._flush()
        self.publish({"kind": NOTE, "text": text})
