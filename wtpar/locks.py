"""Cross-process locks under `<common-dir>/wtpar/locks/`: the repository lock, named
resources and the shared pool's slots. One FileLock object per path per process.

The locks are the `filelock` package's, process-wide (`thread_local=False`: reentrant, a
second acquire in the same process counts up instead of waiting). Importing it costs about
10 ms, so it is imported when the first lock is taken: `wtpar list` takes none, and a run
without named locks takes its first when it records results (run/cleanliness.py imports it
beforehand, while the tasks run). The pool's slots and the busy records use flock(2)
directly, for reasons given there.
"""

from __future__ import annotations

import enum
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from wtpar.errors import WtparError
from wtpar.names import hash_stable

if TYPE_CHECKING:
    from filelock import FileLock

_QUIET_WAIT = 2.0  # seconds waited for the repository lock before saying so
_registry: dict[str, FileLock] = {}
_registry_guard = threading.Lock()
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def locks_dir(wtpar_dir: str) -> str:
    """The folder holding every lock file of one repository."""
    path = os.path.join(wtpar_dir, "locks")
    os.makedirs(path, exist_ok=True)
    return path


def file_lock(path: str) -> FileLock:
    """The process-wide FileLock for `path` (reentrant within the process)."""
    from filelock import FileLock

    key = os.path.abspath(path)
    with _registry_guard:
        lock = _registry.get(key)
        if lock is None:
            lock = FileLock(key, thread_local=False)
            _registry[key] = lock
        return lock


def try_lock(path: str) -> bool:
    """Take the process-wide lock on `path` if no other process holds it; False if one does."""
    from filelock import Timeout

    try:
        file_lock(path).acquire(blocking=False)
    except Timeout:
        return False
    return True


def lock_file_name(resource: str) -> str:
    """A file name for a named resource (`db`, `feature/x:build`) that is safe on any filesystem."""
    safe = _UNSAFE.sub("_", resource).strip("_") or "resource"
    digest = format(abs(hash_stable(resource)), "x")[:8]
    return f"res-{safe[:60]}-{digest}.lock"


class LockWaitStopped(WtparError):
    """A wait for the repository lock was given up on (`stop()` said so: Ctrl-C)."""


@contextmanager
def repo_lock(
    wtpar_dir: str, timeout: float = 300.0, stop: Callable[[], bool] | None = None
) -> Iterator[None]:
    """Hold the repository lock: taken by everything that changes git metadata. `stop`,
    asked every 0.1 s while it waits (in a thread beside an event loop that sees Ctrl-C),
    ends the wait with LockWaitStopped."""
    from filelock import Timeout

    lock = file_lock(os.path.join(locks_dir(wtpar_dir), "repo.lock"))
    try:
        if stop is None:
            _acquire(lock, timeout)
        else:
            _acquire_unless(lock, timeout, stop)
    except Timeout:
        raise WtparError(
            f"another wtpar process has held the repository lock for {timeout:.0f}s "
            f"({lock.lock_file}); try again when it finishes"
        ) from None
    try:
        yield
    finally:
        lock.release()


def _acquire(lock: FileLock, timeout: float) -> None:
    from filelock import Timeout

    try:
        lock.acquire(timeout=min(_QUIET_WAIT, timeout))
    except Timeout:
        if timeout <= _QUIET_WAIT:
            raise
        _say_waiting()
        lock.acquire(timeout=timeout - _QUIET_WAIT)


def _acquire_unless(lock: FileLock, timeout: float, stop: Callable[[], bool]) -> None:
    from filelock import Timeout

    waited = take_patiently(lock, time.monotonic() + timeout, stop, _say_waiting, _QUIET_WAIT)
    if waited is Waited.STOPPED:
        raise LockWaitStopped("stopped waiting for the repository lock")
    if waited is Waited.TIMED_OUT:
        raise Timeout(lock.lock_file)


class Waited(enum.Enum):
    """How a patient wait for a lock ended."""

    TAKEN = "taken"
    STOPPED = "stopped"  # stop() said so (Ctrl-C)
    TIMED_OUT = "timed out"


def take_patiently(
    lock: FileLock,
    deadline: float,
    stop: Callable[[], bool],
    announce: Callable[[], None],
    quiet: float,
) -> Waited:
    """Take LOCK, trying every 0.1 s until DEADLINE (`time.monotonic()`), unless STOP()
    says to give up; a free lock is taken whatever STOP() says. ANNOUNCE() once the wait
    has lasted QUIET seconds (who waits, for a holder stopped with Ctrl-Z, say)."""
    from filelock import Timeout

    start, said = time.monotonic(), False
    while True:
        try:
            lock.acquire(timeout=max(0.0, min(0.1, deadline - time.monotonic())))
            return Waited.TAKEN
        except Timeout:
            if stop():
                return Waited.STOPPED
            now = time.monotonic()
            if now >= deadline:
                return Waited.TIMED_OUT
            if not said and now - start >= quiet:
                announce()
                said = True


def _say_waiting() -> None:
    from wtpar.notices import warn

    warn("waiting for another wtpar process to finish changing the repository")
