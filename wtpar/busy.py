"""Which tasks are running in which worktree, visible to every wtpar process on the repository,
so that `remove` and `prune` never delete a worktree under a running task.

Each running task holds one record file, `wtpar/locks/busy/<worktree>/<id>.json`, with an
exclusive flock(2) on it for as long as it runs. A record whose lock can be taken belongs to
a process that died (even by SIGKILL, the kernel drops its locks): it is stale and removed.
The process a record names inherits its locked descriptor (`BusyRecord.fd`): should wtpar
be killed, the record stays held, and the worktree busy, for as long as that process runs.

flock is used directly, not through `filelock`: its locks belong to an open file description,
so a fresh open in the same process conflicts too. The dashboard removes worktrees in the very
process whose tasks run there, and `filelock`'s reentrant per-process lock would see its own
tasks as stale.

The `gate` file closes the race between "no task is running" and the folder being moved
away: a task registers under a shared lock on it, `remove` checks and moves the folder under
an exclusive one. A task registered after that finds no folder and fails to start. The
record folders are never deleted (an empty gate file each): deleting one would race with a
task registering in it.

A run reuses its records (`Registrar`): when a task ends, its record says `idle` and stays
locked, and the next task in that worktree writes itself into it under the gate. Creating
and deleting a file costs more than the whole of wtpar's other work for a task that takes
a millisecond. An idle record is not a running task; its file goes with the run. Each task
gets a descriptor of its own (a new open of the file, locked once the old one is closed): a
process the task left behind (a daemon started with setsid) may still hold the one it
inherited, and then the lock cannot be taken again. That record is deleted, never handed
on: it would stay locked, naming the next task, after wtpar and that task are gone.
A record a task's leftover holds after wtpar died keeps the worktree busy: such a process
may be the task's real work (`timeout`, a job under `set -m`), not only a daemon.
`remove --force` stops it too (busy_stop.py).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import itertools
import json
import os
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass

from wtpar.locks import locks_dir
from wtpar.names import hash_stable


def _machine() -> str:
    """Where a record's pids mean something: the host and its pid namespace (containers may
    share a host name and a repository folder, never their pids)."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        namespace = 0
    return f"{os.uname().nodename}/{namespace}"


_counter = itertools.count()
HOST = _machine()  # this process's: written in its records


@dataclass(frozen=True)
class RunningTask:
    """One task (or hook) running in a worktree: its name, its process (group) id and wtpar's."""

    task: str
    pid: int
    owner_pid: int
    started: float
    kind: str = "task"  # or "hook": a post_create command
    host: str = ""  # where its pids mean something (`HOST`); "" before wtpar wrote it

    def describe(self) -> str:
        """`task test is running in it (pid 123)`."""
        return f"{self.kind} {self.task} is running in it (pid {self.pid})"


def busy_dir(wtpar_dir: str, worktree_path: str) -> str:
    """The folder of one worktree's records (named after the folder, plus a hash of its path)."""
    real = os.path.realpath(worktree_path)
    name = f"{os.path.basename(real)[:40]}-{hash_stable(real):08x}"
    return os.path.join(locks_dir(wtpar_dir), "busy", name)


def _flock(fd: int, how: int) -> bool:
    try:
        fcntl.flock(fd, how)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    return True


def _open_gate(folder: str) -> int:
    return os.open(os.path.join(folder, "gate"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)


@contextlib.contextmanager
def _gate(folder: str, how: int) -> Iterator[None]:
    fd = _open_gate(folder)
    try:
        fcntl.flock(fd, how)
        yield
    finally:
        os.close(fd)


class BusyRecord:
    """The record a running task holds; `started(pid)` names its process once it exists."""

    def __init__(self, fd: int, path: str, task: str, kind: str = "task") -> None:
        self._fd = fd
        self.path = path
        self.kind = kind
        self._size = 0
        self._name(task)
        self._write(os.getpid())

    @property
    def fd(self) -> int:
        """The locked descriptor, for the task's process to inherit (it then holds the record
        even if wtpar dies)."""
        return self._fd

    def started(self, pid: int) -> None:
        """Record the task's process id (its process group id, for `remove --force`)."""
        self._write(pid)

    def _name(self, task: str) -> None:
        self.task = task
        # The record is written three times per task: all but the pid is formatted once.
        self._head = (
            f'{{"task": {json.dumps(task)}, "kind": {json.dumps(self.kind)},'
            f' "host": {json.dumps(HOST)}, "owner_pid": {os.getpid()},'
            f' "started": {time.time()!r}, "pid": '
        )

    def _write(self, pid: int) -> None:
        self._put(f"{self._head}{pid}}}")

    def _put(self, text: str) -> None:
        # Padded over the previous record instead of truncated: JSON allows trailing spaces,
        # and on ext4 a file truncated and then deleted makes its last close wait for a
        # flush (about a millisecond, on every task).
        raw = text.encode("utf-8").ljust(self._size)
        self._size = len(raw)
        os.pwrite(self._fd, raw, 0)

    def reuse(self, folder: str, task: str) -> bool:
        """Name TASK in this idle record, under the gate; False if the record's file is no
        longer where readers look (someone deleted it), which then cannot be reused."""
        gate = _open_gate(folder)  # not `_gate()`: this runs once per task, thousands a run
        try:
            fcntl.flock(gate, fcntl.LOCK_SH)
            try:
                here = os.stat(self.path)
            except FileNotFoundError:
                return False
            mine = os.fstat(self._fd)
            if (here.st_ino, here.st_dev) != (mine.st_ino, mine.st_dev):
                return False
            self._name(task)
            self._write(os.getpid())
        finally:
            os.close(gate)
        return True

    def set_idle(self) -> bool:
        """The task is over: the record says so and stays locked, through a new descriptor,
        for the run's next task. False (the record deleted) if something the task left
        running still holds the old descriptor, or the file is gone."""
        # Not under the gate: a reader that catches it half written sees a task starting,
        # which errs on the side of "busy" for a moment.
        self._put(f'{{"idle": true, "owner_pid": {os.getpid()}}}')
        try:
            fresh = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            self.close()  # deleted by hand: the next task makes a new one
            return False
        os.close(self._fd)
        self._fd = fresh
        # Unlocked for a moment: a reader may take it for stale and delete it, which
        # `reuse` notices (the next task then makes a new one).
        if _flock(fresh, fcntl.LOCK_EX | fcntl.LOCK_NB):
            return True
        self.close()  # held by a leftover of the task: theirs to keep, unnamed
        return False

    def close(self) -> None:
        """Delete the record and let go of its lock."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        os.close(self._fd)


def _register(folder: str, task: str, kind: str) -> BusyRecord:
    """A new record for TASK in `folder`, locked, written, then made visible under the gate."""
    name = f"{os.getpid()}-{next(_counter)}"
    tmp = os.path.join(folder, f".{name}.tmp")
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        record = BusyRecord(fd, os.path.join(folder, f"{name}.json"), task, kind)
        with _gate(folder, fcntl.LOCK_SH):
            # Readers only look at *.json: they never see a record before it is locked.
            os.rename(tmp, record.path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.close(fd)
        raise
    return record


@contextlib.contextmanager
def running_in(
    wtpar_dir: str, worktree_path: str, task: str, kind: str = "task", folder: str | None = None
) -> Iterator[BusyRecord]:
    """Hold a busy record for TASK in the worktree for the duration of the block (`folder`:
    its `busy_dir`, already made, from a caller registering many tasks there)."""
    if folder is None:
        folder = busy_dir(wtpar_dir, worktree_path)
        os.makedirs(folder, exist_ok=True)
    record = _register(folder, task, kind)
    try:
        yield record
    finally:
        record.close()


class Registrar:
    """Registers the tasks of one run: each worktree's folder is found and made once (a real
    path costs a dozen system calls, for every task of thousands), and a record, once made,
    serves the run's next tasks in that worktree (see the module doc). `close()` at the end
    of the run deletes them."""

    def __init__(self, wtpar_dir: str) -> None:
        self.wtpar_dir = wtpar_dir
        self._folders: dict[str, str] = {}
        self._idle: dict[str, list[BusyRecord]] = {}  # folder -> records no task holds

    def running_in(self, worktree_path: str, task: str) -> AbstractContextManager[BusyRecord]:
        """`running_in` for TASK in the worktree."""
        folder = self._folders.get(worktree_path)
        if folder is None:
            folder = self._folders[worktree_path] = busy_dir(self.wtpar_dir, worktree_path)
            os.makedirs(folder, exist_ok=True)
        return self._hold(folder, task)

    def _hold(self, folder: str, task: str) -> _Holding:
        idle = self._idle.setdefault(folder, [])
        while idle:
            record = idle.pop()
            try:
                reused = record.reuse(folder, task)
            except BaseException:
                record.close()
                raise
            if reused:
                return _Holding(record, idle)
            record.close()
        return _Holding(_register(folder, task, "task"), idle)

    def close(self) -> None:
        """Delete the idle records (the run is over)."""
        for records in self._idle.values():
            for record in records:
                record.close()
        self._idle.clear()


class _Holding:
    """A record held for one task of a run (a class, not a generator: one per task): when
    the task ends it goes back to the idle ones, or is deleted if the block failed."""

    def __init__(self, record: BusyRecord, idle: list[BusyRecord]) -> None:
        self._record = record
        self._idle = idle

    def __enter__(self) -> BusyRecord:
        return self._record

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        if kind is not None:
            self._record.close()
        elif self._record.set_idle():
            self._idle.append(self._record)


def running_tasks(wtpar_dir: str, worktree_path: str) -> list[RunningTask]:
    """The tasks running in a worktree now, in any wtpar process; stale records are dropped."""
    return [task for _, task in live_records(busy_dir(wtpar_dir, worktree_path))]


def live_records(folder: str) -> list[tuple[str, RunningTask]]:
    """(path, task) of each record in a worktree's folder held by a live process."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    found: list[tuple[str, RunningTask]] = []
    for name in names:
        task = _live_record(os.path.join(folder, name))
        if task is not None:
            found.append((os.path.join(folder, name), task))
    return found


def tasks_elsewhere(wtpar_dir: str, paths: Iterable[str]) -> dict[str, list[str]]:
    """Path -> the tasks (and hooks) other processes are running in it, for the worktrees
    where there are any."""
    found: dict[str, list[str]] = {}
    me = os.getpid()
    for path in paths:
        names = sorted(t.task for t in running_tasks(wtpar_dir, path) if t.owner_pid != me)
        if names:
            found[path] = names
    return found


def _live_record(path: str) -> RunningTask | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        if _flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB):
            # Nobody holds it: its process died without cleaning up.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return None
        return _parse(os.pread(fd, 4096, 0))
    finally:
        os.close(fd)


def _parse(raw: bytes) -> RunningTask | None:
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("idle"):
            return None  # kept by a run for its next task (see Registrar)
        return RunningTask(
            str(data["task"]),
            int(data["pid"]),
            int(data["owner_pid"]),
            float(data["started"]),
            str(data.get("kind", "task")),
            str(data.get("host", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        # Caught between truncate and write: it is running, its name is not known yet.
        return RunningTask("(starting)", 0, 0, 0.0)


@contextlib.contextmanager
def no_new_tasks(wtpar_dir: str, worktree_path: str) -> Iterator[None]:
    """While held, no task can register in the worktree (hold it to check, then remove)."""
    folder = busy_dir(wtpar_dir, worktree_path)
    os.makedirs(folder, exist_ok=True)
    with _gate(folder, fcntl.LOCK_EX):
        yield

