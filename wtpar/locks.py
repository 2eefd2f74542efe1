"""Cross-process locks under `<common-dir>/wtpar/locks/`: the repository lock, named
resources and the shared pool's slots. One FileLock object per path per process.

`FileLock` is flock(2) on the lock file, as the `filelock` package does it on POSIX, and
behaves as its `FileLock(path, thread_local=False)` did here: process-wide and reentrant
(a second acquire in the same process counts up instead of waiting), polled until a
timeout. It is wtpar's own because importing `filelock` cost every `wtpar run` about 8 ms
(pathlib, urllib, ipaddress, decimal come with it) before its first task could start.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from wtpar.errors import WtparError
from wtpar.names import hash_stable

_POLL = 0.05  # seconds between two tries while another process holds the lock


class Timeout(TimeoutError):
    """The lock could not be acquired in time (or at once, when not blocking)."""

    def __init__(self, lock_file: str) -> None:
        super().__init__(f"the lock {lock_file} could not be acquired")
        self.lock_file = lock_file


class FileLock:
    """A lock on one file shared by every thread of this process and exclusive between
    processes (flock(2)); reentrant: each acquire needs one release."""

    def __init__(self, lock_file: str) -> None:
        self.lock_file = lock_file
        self._fd: int | None = None
        self._count = 0
        self._guard = threading.Lock()

    @property
    def is_locked(self) -> bool:
        """True while this process holds the lock."""
        return self._count > 0

    def acquire(self, timeout: float = -1, blocking: bool = True) -> FileLock:
        """Take the lock, waiting up to `timeout` seconds (< 0: for ever); Timeout when it
        is not taken in time, or at once when not `blocking`."""
        deadline = time.monotonic() + timeout if timeout >= 0 else None
        while True:
            with self._guard:
                if self._count or self._take():
                    self._count += 1
                    return self
            if not blocking or (deadline is not None and time.monotonic() >= deadline):
                raise Timeout(self.lock_file)
            time.sleep(_POLL)

    def release(self) -> None:
        """Give one acquire back; the last one unlocks the file."""
        with self._guard:
            if self._count == 0:
                return
            self._count -= 1
            if self._count == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None

    def _take(self) -> bool:
        while True:
            fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            if os.fstat(fd).st_nlink:
                self._fd = fd
                return True
            os.close(fd)  # the file was deleted after we opened it: lock the one there now

    def __enter__(self) -> FileLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


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
    key = os.path.abspath(path)
    with _registry_guard:
        lock = _registry.get(key)
        if lock is None:
            lock = FileLock(key)
            _registry[key] = lock
        return lock


def lock_file_name(resource: str) -> str:
    """A file name for a named resource (`db`, `feature/x:build`) that is safe on any filesystem."""
    safe = _UNSAFE.sub("_", resource).strip("_") or "resource"
    digest = format(abs(hash_stable(resource)), "x")[:8]
    return f"res-{safe[:60]}-{digest}.lock"


@contextmanager
def repo_lock(wtpar_dir: str, timeout: float = 300.0) -> Iterator[None]:
    """Hold the repository lock: taken by everything that changes git metadata."""
    lock = file_lock(os.path.join(locks_dir(wtpar_dir), "repo.lock"))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise WtparError(
            f"another wtpar process has held the repository lock for {timeout:.0f}s "
            f"({lock.lock_file}); try again when it finishes"
        ) from None
    try:
        yield
    finally:
        lock.release()
