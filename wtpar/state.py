"""wtpar's files under the common git dir, and the one way to change shared ones:
take the lock, re-read, write a temp file in the same folder, `os.replace`."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from wtpar.errors import StateFileError
from wtpar.locks import Waited, file_lock, locks_dir, take_patiently
from wtpar.model import WorktreeRecord
from wtpar.notices import warn
from wtpar.stored import Corrupt, Fields, load_json, read_cache

if TYPE_CHECKING:
    from filelock import FileLock

JsonDict = dict[str, Any]
SCHEMA = 1
_T = TypeVar("_T")
QUIET_WAIT = 2.0  # seconds waited for a file's lock before saying so
CACHE_PATIENCE = 15.0  # seconds more a cache's writer waits, then leaves the cache as it is


class LockWaitTimeout(OSError):
    """Another process held a file's lock for longer than the writer would wait."""


class CacheWaits:
    """The waits of the caches' writers at one run's end (results, then history): they say
    so after QUIET_WAIT, wait QUIET_WAIT + `patience` seconds in all, not each, and stop at
    once when `stop()` is called (Ctrl-C); a cache they give up on stays as it is."""

    def __init__(self, patience: float | None = None) -> None:
        self.patience = CACHE_PATIENCE if patience is None else patience
        self._stopped = threading.Event()
        self._started: float | None = None  # the first wait's start: the bound counts from it

    def stop(self) -> None:
        """No wait, now or later, goes on: a free lock is still taken (from any thread)."""
        self._stopped.set()

    def take(self, lock: FileLock, path: str) -> None:
        """Take LOCK, the lock of PATH, or raise LockWaitTimeout."""
        if self._started is None:
            self._started = time.monotonic()
        first = self._started
        waited = take_patiently(
            lock,
            first + QUIET_WAIT + self.patience,
            self._stopped.is_set,
            lambda: warn(f"waiting for another wtpar process to finish writing {path}"),
            QUIET_WAIT,
        )
        if waited is Waited.STOPPED:
            raise LockWaitTimeout("interrupted while waiting for another wtpar process's lock")
        if waited is Waited.TIMED_OUT:
            spent = f"{time.monotonic() - first:.0f}s"
            raise LockWaitTimeout(f"another wtpar process held its lock; waited {spent} in all")


_cache_waits: ContextVar[CacheWaits | None] = ContextVar("wtpar_cache_waits", default=None)


@contextlib.contextmanager
def cache_waits(waits: CacheWaits) -> Iterator[CacheWaits]:
    """Within this block (this thread or task), caches' writers wait as WAITS says."""
    token = _cache_waits.set(waits)
    try:
        yield waits
    finally:
        _cache_waits.reset(token)


def atomic_write_text(path: str, text: str | Iterable[str], durable: bool = True) -> None:
    """Replace `path` with `text` (or these pieces of it, one after the other) so that
    readers see the old or the new file, never half; `durable`: on disk before it replaces
    the old one (not worth an fsync, 3-8 ms here, for a marker that means nothing after a
    crash anyway)."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = _new_temp_file(folder, os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                fh.writelines(text)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_TEMP_RANDOM = 6  # bytes, in hex: `.tmp-` and 12 characters come before the file's name
_TEMP_EXTRA = len(".tmp-") + 2 * _TEMP_RANDOM


def remove_leftover_temp_files(path: str) -> None:
    """Delete the temporary files that writers of PATH killed mid-write left beside it.
    Only for a file whose every writer holds its lock (`update_with`), with the lock held:
    otherwise another writer's file in progress could go."""
    folder, name = os.path.split(path)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return
    for other in names:
        leftover = len(other) == len(name) + _TEMP_EXTRA and other.startswith(".tmp-")
        if leftover and other.endswith(name):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, other))


def _new_temp_file(folder: str, name: str) -> tuple[int, str]:
    """A new file `.tmp-<random>NAME` in FOLDER, open for writing, as tempfile.mkstemp
    makes it (exclusive, mode 600), without importing tempfile and random (1 ms a run)."""
    while True:
        tmp = os.path.join(folder, f".tmp-{os.urandom(_TEMP_RANDOM).hex()}{name}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), tmp
        except FileExistsError:
            continue


def atomic_write_json(path: str, data: Any, compact: bool = False, durable: bool = True) -> None:
    """Write `data` as indented JSON (or `compact`, for caches nobody reads by eye),
    atomically (`durable`: see atomic_write_text)."""
    # Indented JSON goes through the json module's pure-Python encoder: for a cache of
    # thousands of entries, seconds and a list of millions of small strings. A cache keeps
    # its keys' order: the newest last, for trimming the oldest.
    text = json.dumps(data, separators=(",", ":")) if compact else None
    text = text or json.dumps(data, indent=2, sort_keys=True)
    atomic_write_text(path, text + "\n", durable)


def read_json(path: str, default: Any) -> Any:
    """A JSON file that wtpar can do without: `default` when it is missing, and also when it
    is damaged or its top level is not of `default`'s type (then with one warning)."""
    try:
        data = load_json(path)
    except Corrupt as exc:
        warn(f"{path}: {exc.problem}; ignoring it", about=path)
        return default
    if data is None:
        return default
    if default is not None and not isinstance(data, type(default)):
        warn(f"{path}: not what wtpar writes there; ignoring it", about=path)
        return default
    return data


def update_json(
    path: str,
    change: Callable[[Any], Any],
    default: Any,
    compact: bool = False,
    durable: bool = True,
) -> Any:
    """Under the file's lock: read (as `read_json`), apply `change`, write back atomically
    (`compact`: see atomic_write_json; `durable`: see atomic_write_text); the new data."""
    return update_with(path, lambda p: read_json(p, default), change, compact, durable)


def update_with(
    path: str,
    read: Callable[[str], _T],
    change: Callable[[_T], Any],
    compact: bool = False,
    durable: bool = True,
    encode: Callable[[Any], Iterable[str]] | None = None,
    patience: float | None = None,
) -> Any:
    """Under the file's lock: `read` (which validates), apply `change`, write back
    atomically (`durable`: see atomic_write_text; `encode`: the new data's JSON in pieces,
    for a file of megabytes held once as objects rather than three more times as text,
    its bytes and all); return the new data. `patience` (a cache's writer): seconds to wait
    for the lock once the wait was announced, then LockWaitTimeout, unless a `cache_waits`
    block says otherwise (None: as long as it takes; Ctrl-C still works there)."""
    lock = file_lock(
        os.path.join(locks_dir(os.path.dirname(path)), os.path.basename(path) + ".lock")
    )
    with _writer_in_this_process(path):
        if patience is not None:
            (_cache_waits.get() or CacheWaits(patience)).take(lock, path)
        else:
            from filelock import Timeout

            try:
                lock.acquire(timeout=QUIET_WAIT)
            except Timeout:
                warn(f"waiting for another wtpar process to finish writing {path}")
                lock.acquire()
        try:
            data = change(read(path))
            if encode is not None:
                atomic_write_text(path, encode(data), durable)
            else:
                atomic_write_json(path, data, compact, durable)
            return data
        finally:
            lock.release()


_writers: dict[str, threading.RLock] = {}
_writers_guard = threading.Lock()


@contextlib.contextmanager
def _writer_in_this_process(path: str) -> Iterator[None]:
    """One writer of PATH at a time among this process's threads: the file lock does not
    keep them apart (it is the process's, re-entrant), and the dashboard records two runs'
    ends at once, each in a thread."""
    with _writers_guard:
        guard = _writers.setdefault(os.path.abspath(path), threading.RLock())
    with guard:
        yield


def update_cache(
    path: str, parse: Callable[[Any], _T], empty: _T, change: Callable[[_T], JsonDict]
) -> None:
    """update_json for a cache (written compact): a damaged one is replaced, one that cannot
    be written is left alone; both are warned about, neither stops the command. Not made
    durable: an fsync cost 3-8 ms at the end of every run, and a cache a crash damaged or
    lost is only dropped (with a warning) and learned again."""
    try:
        update_with(
            path,
            lambda p: read_cache(p, parse, empty),
            change,
            compact=True,
            durable=False,
            patience=CACHE_PATIENCE,
        )
    except OSError as exc:
        warn(f"{path}: cannot write it ({exc.strerror or exc}); not caching this time", about=path)


class StateStore:
    """The worktree records in `wtpar/state.json`."""

    def __init__(self, wtpar_dir: str) -> None:
        self.wtpar_dir = wtpar_dir
        self.path = os.path.join(wtpar_dir, "state.json")

    def records(self) -> dict[str, WorktreeRecord]:
        """Records by branch name; StateFileError when the file is damaged."""
        return _parse_state(self._read(self.path))

    @staticmethod
    def _read(path: str) -> JsonDict:
        try:
            data = load_json(path)
            if data is None:
                return {}
            _parse_state(data)
        except Corrupt as exc:
            raise StateFileError(path, exc.problem, exc.newer) from None
        assert isinstance(data, dict)
        return data

    def put(self, records: list[WorktreeRecord]) -> None:
        """Add or replace records."""

        def change(data: JsonDict) -> JsonDict:
            worktrees = data.setdefault("worktrees", {})
            for rec in records:
                worktrees[rec.branch] = {
                    "path": rec.path,
                    "base_ref": rec.base_ref,
                    "base_sha": rec.base_sha,
                    "created": rec.created,
                    "populated": rec.populated,
                }
            data["schema"] = SCHEMA
            return data

        update_with(self.path, self._read, change)

    def drop(self, branches: list[str]) -> None:
        """Forget the records of these branches."""

        def change(data: JsonDict) -> JsonDict:
            worktrees = data.setdefault("worktrees", {})
            for branch in branches:
                worktrees.pop(branch, None)
            data["schema"] = SCHEMA
            return data

        update_with(self.path, self._read, change)


def _parse_state(data: Any) -> dict[str, WorktreeRecord]:
    """The typed loader of state.json: every record checked, or Corrupt."""
    if data == {}:
        return {}
    doc = Fields(data)
    doc.schema(SCHEMA)
    return {
        branch: WorktreeRecord(
            branch=branch,
            path=rec.text("path"),
            base_ref=rec.opt_text("base_ref"),
            base_sha=rec.opt_text("base_sha"),
            created=rec.opt_number("created") or 0.0,
            populated=rec.flag("populated", True),
        )
        for branch, rec in doc.objects("worktrees", optional=True).items()
    }
