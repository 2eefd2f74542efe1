"""How long every task took, and what it used: the memory that orders runs, estimates
their end and sizes the pool.

Each finished attempt is kept (duration, exit code, CPU seconds and peak memory as the OS
reported them) under its (task, branch, command) key, the last `KEEP` per key, in
`wtpar/cache/history.json`, written under the file's lock. A key's attempts are one
string, oldest first: rows apart by ";", fields by "," (floats as repr() writes them, so
they read back exactly; an empty field where the value is unknown):

    {"schema": 3, "entries": {
        "test\x1fmain\x1fpytest -q": "12.5,0,1764600000.0,10.1,8192;9.75,1,1764600100.5,,"}}

(duration, exit code, when it finished, CPU seconds, peak resident bytes). A run turns
only the rows of the tasks it plans into numbers and carries every other key's string
over as it is: a full history (5000 keys of 20 attempts) is 5000 strings, not 100000
lists of 500000 numbers (30 MB and a third of a second in every run). The file has a key
a line and is read and rewritten a line at a time (history_file.py). A row is checked
when it is read: a damaged one is dropped; so is a damaged line, and a damaged file reads
as empty.
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from wtpar.notices import warn
from wtpar.run.history_file import newer_schema, read_entries, rewritten, schema_above
from wtpar.state import CACHE_PATIENCE, remove_leftover_temp_files, update_with

KEEP = 20  # attempts kept per key
MAX_KEYS = 5000  # keys kept in all, the least recently used dropped first
# 2: each attempt a list of five numbers; 1: an object naming every field. Both are still
# read, and written as 3 the next time.
SCHEMA = 3


class Attempted(NamedTuple):
    """One finished attempt of one task instance (a tuple: a run of 5000 tasks reads up to
    100000 of them, which as frozen dataclasses took three times as long to build)."""

    task: str
    branch: str
    command: str
    duration: float
    exit_code: int | None
    finished: float
    cpu_seconds: float | None = None
    peak_rss: int | None = None  # bytes


@dataclass(frozen=True)
class TaskId:
    """What history is keyed by."""

    task: str
    branch: str
    command: str


def _key(task: str, branch: str, command: str) -> str:
    return f"{task}\x1f{branch}\x1f{command}"


# A row: duration (>= 0), exit code (or None), when it finished, CPU seconds (or None), peak
# resident bytes (or None); every float finite.
Row = tuple[float, int | None, float, float | None, int | None]
_INF = float("inf")
_LONGEST = 1e7  # seconds (four months): a longer attempt is a damaged or hand-made row
_SHORTEST_SHARE = 0.05  # seconds: a shorter attempt's CPU share says nothing (Tally.add)


def _text(row: Sequence[Any]) -> str:
    """A row of five numbers as the text of schema 3."""
    return ",".join("" if value is None else repr(value) for value in row)


def _parsed(row: str) -> Row | None:
    """One row of schema 3 as numbers; None when it is damaged."""
    try:
        duration, code, finished, cpu, rss = row.split(",")
        values = (
            float(duration),
            int(code) if code else None,
            float(finished),
            float(cpu) if cpu else None,
            int(rss) if rss else None,
        )
    except ValueError:  # not five fields, or one is not a number
        return None
    seconds, _, when, cpu_seconds, _ = values
    # float() also reads "nan" and "inf" (which JSON never held): every comparison with NaN
    # is False.
    finite = cpu_seconds is None or -_INF < cpu_seconds < _INF
    return values if finite and 0 <= seconds < _LONGEST and -_INF < when < _INF else None


_FIELDS_V1: tuple[str, ...] = ("task", "branch", "command", "duration", "exit_code")
_FIELDS_V1 += ("finished", "cpu_seconds", "peak_rss")
_NUMBER = (int, float)  # by exact type: JSON's true and false are not numbers here


def _valid(row: Any) -> bool:
    """Whether a row of schema 2 (a list of five numbers) is one."""
    if type(row) is not list or len(row) != 5:
        return False
    duration, code, finished, cpu, rss = row
    return (
        type(duration) in _NUMBER
        and duration >= 0
        and (code is None or type(code) is int)
        and type(finished) in _NUMBER
        and (cpu is None or type(cpu) in _NUMBER)
        and (rss is None or type(rss) is int)
    )


def _identity(path: str) -> tuple[int, int, int] | None:
    """What tells one version of the file from another (it is replaced, never rewritten)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class _LeftAlone(Exception):
    """The history file is one that recording must not replace (the reason)."""


def _keep_as_it_is(path: str) -> None:
    """Raise _LeftAlone if the file cannot be read (replacing it would lose every other
    key) or a newer wtpar wrote it (its history is not this one's to drop)."""
    try:
        newer = newer_schema(path, SCHEMA)  # opens it: OSError if it cannot be read
    except OSError as exc:
        raise _LeftAlone(f"cannot read it ({exc.strerror or exc})") from exc
    if newer is not None:
        raise _LeftAlone(f"written by a newer wtpar (schema {newer})")


def _rows_v1(key: str, items: list[Any]) -> list[list[Any]]:
    """The rows of a schema 1 file's entries (objects naming every field)."""
    rows = []
    for e in items:
        named = isinstance(e, dict) and e.keys() == set(_FIELDS_V1)
        if named and _key(e["task"], e["branch"], e["command"]) == key:
            rows.append([e[name] for name in _FIELDS_V1[3:]])
    return rows


def _entries(data: Any) -> dict[str, str]:
    """Each key's rows as the text of schema 3, unchecked (the valid rows of schema 1 and 2,
    converted); ValueError saying why when DATA is no history wtpar wrote."""
    schema = data.get("schema") if isinstance(data, dict) else None
    raw = data.get("entries") if schema in (1, 2, SCHEMA) else None
    if (newer := schema_above(data, SCHEMA)) is not None:
        raise ValueError(f"written by a newer wtpar (schema {newer})")
    if not isinstance(raw, dict):
        raise ValueError("not what wtpar writes there")
    entries: dict[str, str] = {}
    for key, items in raw.items():
        if key.count("\x1f") < 2 or not items:
            continue
        if schema == SCHEMA:
            if isinstance(items, str):
                entries[key] = items
        elif isinstance(items, list):
            rows = _rows_v1(key, items) if schema == 1 else items
            text = ";".join(_text(row) for row in rows if _valid(row))
            if text:
                entries[key] = text
    return entries


class History:
    """`wtpar/cache/history.json`: the recent attempts of every task, by key."""

    def __init__(self, wtpar_dir: str, keep: int = KEEP, max_keys: int = MAX_KEYS) -> None:
        self.path = os.path.join(wtpar_dir, "cache", "history.json")
        self.keep = keep
        self.max_keys = max_keys
        # The file as load() last read it (its identity) and the keys whose rows all proved
        # valid then: if record() at the end of the run finds the same file, it need not
        # check them again (the data itself is not kept: megabytes for 5000 tasks).
        self._loaded: tuple[int, int, int] | None = None
        self._checked: set[str] = set()

    def record(self, attempts: Iterable[Attempted]) -> None:
        """Add these attempts (oldest first), under the file's lock."""
        new: dict[str, list[str]] = {}
        for a in attempts:
            new.setdefault(_key(a.task, a.branch, a.command), []).append(_text(a[3:]))
        if not new:
            return

        trusted: Collection[str] = ()

        def read(path: str) -> str:
            nonlocal trusted  # under the file's lock: nobody replaces it meanwhile
            _keep_as_it_is(path)
            remove_leftover_temp_files(path)  # of runs killed while writing it
            if self._loaded is not None and _identity(path) == self._loaded:
                trusted = self._checked
            return path

        def checked(key: str, text: str) -> list[str]:
            # Every other key's string is carried over as it is (load() drops a damaged row
            # when it reads one), so a run of one task does not pay for a history of
            # thousands; the rows of the keys this run adds to are checked, unless they were
            # when the run loaded the same file.
            rows = text.split(";")
            return rows if key in trusted else [row for row in rows if _parsed(row) is not None]

        def pieces(path: str) -> Iterator[str]:
            # The old file, read while its replacement is written (history_file.py).
            return rewritten(path, _entries, new, self.keep, self.max_keys, checked)

        # Not durable (no fsync at the end of every run): lost history is learned again.
        try:
            update_with(
                self.path, read, lambda p: p, durable=False, encode=pieces, patience=CACHE_PATIENCE
            )
        except _LeftAlone as exc:
            warn(f"{self.path}: {exc}; not recording this run's history", about=self.path)
        except OSError as exc:
            # A full disk, a read-only folder: the run itself went well and says so.
            problem = exc.strerror or str(exc)
            warn(f"{self.path}: cannot write it ({problem}); not recording this run's history")

    def load(self, tasks: Collection[str] | None = None) -> dict[TaskId, list[Attempted]]:
        """Every valid remembered attempt, by key, oldest first (`tasks`: of these tasks
        only; the others are neither parsed nor built)."""
        result: dict[TaskId, list[Attempted]] = {}
        for key, rows in self._valid_rows(tasks):
            task, branch, command = key.split("\x1f", 2)
            result[TaskId(task, branch, command)] = [
                Attempted(task, branch, command, *row) for row in rows
            ]
        return result

    def tallies(self, tasks: Collection[str] | None = None) -> dict[TaskId, Tally]:
        """What `load` gives, added up per key: all an estimate needs, without an object
        per attempt (a run of 5000 tasks has up to 100000)."""
        result: dict[TaskId, Tally] = {}
        for key, rows in self._valid_rows(tasks):
            result[TaskId(*key.split("\x1f", 2))] = found = Tally()
            for duration, _, _, cpu, rss in rows:
                found.add(duration, cpu, rss)
        return result

    def _valid_rows(self, tasks: Collection[str] | None) -> Iterator[tuple[str, list[Row]]]:
        """The valid rows of each key (of `tasks` only), parsed one key at a time."""
        identity = _identity(self.path)  # before the read: if it changes, nothing is trusted
        if identity != self._loaded:
            self._loaded, self._checked = identity, set()
        wanted = None if tasks is None else (lambda key: key.partition("\x1f")[0] in tasks)
        for key, text in read_entries(self.path, _entries, wanted):
            parts = text.split(";")
            rows = [row for row in map(_parsed, parts) if row is not None]
            if len(rows) == len(parts):
                self._checked.add(key)
            if rows:
                yield key, rows


@dataclass(frozen=True)
class Estimate:
    """What history expects of one task instance, and where the figure comes from."""

    seconds: float
    source: str  # "this branch", "other branches", "all tasks", "no history"
    cpu_share: float | None = None
    peak_rss: int | None = None


def _mean(values: Sequence[float]) -> float | None:
    # fsum / len is what statistics.fmean computes; that module brings fractions and decimal
    # with it, 1.5 ms of every run's start.
    return math.fsum(values) / len(values) if values else None


@dataclass(slots=True)
class Tally:
    """The attempts of a key (or of several keys) added up: enough for their means."""

    count: int = 0
    seconds: float = 0.0
    shared: int = 0  # attempts that know their CPU share
    shares: float = 0.0
    peak: int | None = None

    def add(self, duration: float, cpu_seconds: float | None, peak_rss: int | None) -> None:
        """Count one attempt."""
        self.count += 1
        self.seconds += duration
        # Over a few milliseconds, the CPU a process used is mostly its own start (loading
        # the shell: a `true` "used" 1.4 CPUs), not what the task needs while it runs.
        if cpu_seconds is not None and duration >= _SHORTEST_SHARE:
            self.shared += 1
            self.shares += cpu_seconds / duration
        if peak_rss is not None and (self.peak is None or peak_rss > self.peak):
            self.peak = peak_rss

    def merge(self, other: Tally) -> None:
        """Count another tally's attempts too."""
        self.count += other.count
        self.seconds += other.seconds
        self.shared += other.shared
        self.shares += other.shares
        if other.peak is not None and (self.peak is None or other.peak > self.peak):
            self.peak = other.peak

    def estimate(self, source: str) -> Estimate:
        """The mean duration and CPU share, and the highest peak memory."""
        share = self.shares / self.shared if self.shared else None
        return Estimate(self.seconds / self.count, source, share, self.peak)


def estimate(wanted: Sequence[TaskId], known: Mapping[TaskId, Tally]) -> dict[TaskId, Estimate]:
    """Expected durations: the mean of the key's own attempts; a task never seen on this
    branch takes its mean on other branches (same command first); else the mean of all."""
    by_task_cmd: dict[tuple[str, str], Tally] = {}
    by_task: dict[str, Tally] = {}
    for tid, found in known.items():
        by_task_cmd.setdefault((tid.task, tid.command), Tally()).merge(found)
        by_task.setdefault(tid.task, Tally()).merge(found)
    result: dict[TaskId, Estimate] = {}
    missing: list[TaskId] = []
    for tid in wanted:
        for source, seen in (
            ("this branch", known.get(tid)),
            ("other branches", by_task_cmd.get((tid.task, tid.command))),
            ("other branches", by_task.get(tid.task)),
        ):
            if seen is not None and seen.count:
                result[tid] = seen.estimate(source)
                break
        else:
            missing.append(tid)
    if missing:
        fallback = _mean([e.seconds for e in result.values()])
        if fallback is None:
            everything = Tally()
            for found in known.values():
                everything.merge(found)
            fallback = everything.seconds / everything.count if everything.count else None
        for tid in missing:
            if fallback is None:
                result[tid] = Estimate(1.0, "no history")
            else:
                result[tid] = Estimate(fallback, "all tasks")
    return result
