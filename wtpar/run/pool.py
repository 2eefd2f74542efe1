"""The process pool shared by every wtpar process on a repository, and named resource locks.

Slots are lock files `wtpar/locks/slot-<i>.lock`. A process run with `-j N` may use slots
0..N-1, so processes with the same `-j` share exactly N slots between them. When the `-j`
values differ, each process stays within its own `-j` and all of them together stay within
the largest `-j` in use (a process with `-j 2` competes for slots 0 and 1 only).

Named locks are `wtpar/locks/res-*.lock` (see `locks.lock_file_name`). A task takes its named
locks first, in sorted order (so two tasks can never deadlock), and only then a slot, so a task
waiting for a resource never keeps a slot idle.

Within one process every wait is an asyncio primitive (a queue of free slots, one
asyncio.Lock per resource), so there is no polling. Across processes the only primitive is
flock(2), which cannot be awaited: a blocking flock in a thread could not be cancelled when
the user presses Ctrl-C or the dashboard cancels a task. So a file lock is tried without
blocking and, only while another process holds it, re-tried with a short backoff.

A pool keeps each slot's lock file open while it lives and only flocks and unlocks it per
task (two system calls; `filelock` opens and closes the file every time). Locks of flock(2)
belong to an open file, so two pools in one process (two runs in the dashboard) exclude each
other as two processes do.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

from wtpar.locks import file_lock, lock_file_name, locks_dir, try_lock
from wtpar.notices import warn

_BACKOFF_FIRST = 0.002
_BACKOFF_MAX = 0.05


def slot_file(wtpar_dir: str, index: int) -> str:
    """The lock file of slot `index`."""
    return os.path.join(locks_dir(wtpar_dir), f"slot-{index}.lock")


def resource_file(wtpar_dir: str, resource: str) -> str:
    """The lock file of a named resource."""
    return os.path.join(locks_dir(wtpar_dir), lock_file_name(resource))


def slots_held(wtpar_dir: str, jobs: int) -> int:
    """How many of slots 0..jobs-1 some wtpar process (this one too) holds now: each lock
    file is tried without blocking and let go at once (a process taking it in that instant
    retries after its first backoff, 2 ms)."""
    held = 0
    for index in range(jobs):
        try:
            fd = os.open(slot_file(wtpar_dir, index), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # never used
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held += 1
        finally:
            os.close(fd)  # lets go of the lock if it was taken
    return held


def _unlock(path: str) -> None:
    file_lock(path).release()


class SlotPool:
    """`jobs` slots, shared with other wtpar processes on the same repository."""

    def __init__(self, wtpar_dir: str, jobs: int) -> None:
        if jobs < 1:
            raise ValueError("jobs must be at least 1")
        self.jobs = jobs
        self._paths = [slot_file(wtpar_dir, i) for i in range(jobs)]
        self._fds: dict[int, int] = {}  # slot -> its lock file, open until close()
        self._left_out: set[int] = set()  # slots whose lock file cannot be opened (warned)
        self._free: asyncio.Queue[int] = asyncio.Queue()
        for index in range(jobs):
            self._free.put_nowait(index)
        self.busy = 0

    async def acquire(self) -> int:
        """Wait for a slot free in this process and in every other one; return its index."""
        delay = _BACKOFF_FIRST
        while True:
            taken = self.try_acquire()
            if taken is not None:
                return taken
            if self._free.empty():
                self._free.put_nowait(await self._free.get())  # one is free in this process
                continue
            # Every slot this process may use is held by another wtpar process (see module doc).
            await asyncio.sleep(delay)
            delay = min(delay * 2, _BACKOFF_MAX)

    def try_acquire(self) -> int | None:
        """A slot free in this process and in every other one, taken now; None if there is
        none (no waiting: the common case of a slot just given back costs no await)."""
        candidates = []
        while not self._free.empty():
            candidates.append(self._free.get_nowait())
        taken: int | None = None
        try:
            for index in candidates:
                if taken is None and self._try_slot(index):
                    taken = index
        finally:  # every slot not taken goes back, unless left out
            for index in candidates:
                if index != taken and index not in self._left_out:
                    self._free.put_nowait(index)
        if taken is not None:
            self.busy += 1
        return taken

    def _try_slot(self, index: int) -> bool:
        fd = self._fds.get(index)
        if fd is None:
            try:
                fd = os.open(self._paths[index], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as exc:
                # Left out, with a warning: an OSError here failed a task, and the free
                # slots taken out with it went missing (the run hung). With no slot left,
                # every task fails with the error.
                if len(self._left_out) + 1 == self.jobs:
                    raise
                self._left_out.add(index)
                warn(f"{self._paths[index]}: {exc.strerror or exc}; running with one slot fewer")
                return False
            self._fds[index] = fd
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self, index: int) -> None:
        """Give slot `index` back."""
        fcntl.flock(self._fds[index], fcntl.LOCK_UN)
        self.busy -= 1
        self._free.put_nowait(index)

    def close(self) -> None:
        """Close the lock files (releasing any slot still held)."""
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def slot(self) -> _Held:
        """Hold one slot for the duration of an `async with` block."""
        return _Held(self)


class _Held:
    """`async with pool.slot():` without a generator: entered once per task, thousands of
    times a run, and without an await when a slot is free."""

    def __init__(self, pool: SlotPool) -> None:
        self._pool = pool
        self.index = -1

    async def __aenter__(self) -> int:
        taken = self._pool.try_acquire()
        self.index = taken if taken is not None else await self._pool.acquire()
        return self.index

    async def __aexit__(self, *exc: object) -> None:
        self._pool.release(self.index)


class ResourceLocks:
    """Named locks: holders of the same name never overlap, in this process or another."""

    def __init__(self, wtpar_dir: str) -> None:
        self.wtpar_dir = wtpar_dir
        self._local: dict[str, asyncio.Lock] = {}

    async def _acquire_one(self, name: str) -> None:
        local = self._local.setdefault(name, asyncio.Lock())
        await local.acquire()
        path = resource_file(self.wtpar_dir, name)
        delay = _BACKOFF_FIRST
        try:
            # Another wtpar process holds it (see module doc for why this is a retry loop).
            while not try_lock(path):
                await asyncio.sleep(delay)
                delay = min(delay * 2, _BACKOFF_MAX)
        except BaseException:
            local.release()
            raise

    def _release_one(self, name: str) -> None:
        _unlock(resource_file(self.wtpar_dir, name))
        self._local[name].release()

    @asynccontextmanager
    async def hold(self, names: Iterable[str]) -> AsyncIterator[None]:
        """Hold every named lock (taken in sorted order) for the duration of the block."""
        held: list[str] = []
        try:
            for name in sorted(set(names)):
                await self._acquire_one(name)
                held.append(name)
            yield
        finally:
            for name in reversed(held):
                self._release_one(name)
