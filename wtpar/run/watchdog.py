"""The watchdog of one run: when wtpar dies, however it dies (even SIGKILL, which no handler
sees), the process groups of its running tasks die with it.

With its first task, wtpar starts a tiny `/bin/sh` in a session of its own and keeps the only
write end of a pipe to its stdin; it never writes to it. End of file on that pipe means wtpar
is gone. wtpar records the groups of its tasks in `wtpar/watch/<pid>-<n>.groups`, a line
`+PGID` when one starts and `-PGID` when it is gone (an append, no fsync). At a clean end it
deletes the record, then closes the pipe, and the watchdog exits without doing anything.
Otherwise the watchdog sends SIGTERM to the groups still recorded, SIGKILL to them after a
short grace, and leaves the record for the next command.

The next wtpar command reads records whose wtpar and watchdog are both gone (`stray_tasks`):
one naming groups that still hold a live process is reported, with how to stop them, never
killed blindly (a group id can be reused); one naming none is deleted.

Why a shell and not Python: it costs wtpar a millisecond to start, where an interpreter
took tens of milliseconds of a 2-core machine in the middle of a short run.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
from dataclasses import dataclass

from wtpar.procs import pid_alive

GRACE_SECONDS = 2  # SIGTERM to SIGKILL, once wtpar is gone

# $1: the record. `read` returns at end of file, when wtpar has closed the pipe or died.
_SCRIPT = f"""
trap '' INT HUP PIPE
read -r _
[ -f "$1" ] || exit 0
groups=$(awk '/^\\+/ {{ g[substr($0, 2)] = 1 }} /^-/ {{ delete g[substr($0, 2)] }}
              END {{ for (k in g) print k }}' "$1")
[ -n "$groups" ] || {{ rm -f "$1"; exit 0; }}
for g in $groups; do kill -TERM "-$g" 2>/dev/null; done
sleep {GRACE_SECONDS}
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
"""

_counter = itertools.count(1)


class Watchdog:
    """wtpar's side: starts the watchdog with the first group, records groups, and ends it
    at the end of the run."""

    def __init__(self, record_dir: str) -> None:
        self.record_dir = record_dir
        self.path = os.path.join(record_dir, f"{os.getpid()}-{next(_counter)}.groups")
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._broken = False

    def track(self, pgid: int) -> None:
        """A task's process group started."""
        self._write(f"+{pgid}\n")

    def untrack(self, pgid: int) -> None:
        """A task's process group is gone."""
        self._write(f"-{pgid}\n")

    def close(self) -> None:
        """The run is over, no group left: delete the record, then let the watchdog go."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            os.close(self._fd)
            self._fd = None
        if self._proc is not None and self._proc.stdin is not None:
            with contextlib.suppress(OSError):
                self._proc.stdin.close()
        self._proc = None  # it exits at once; Python reaps it with the next child

    def _write(self, line: str) -> None:
        if self._broken:
            return
        try:
            if self._fd is None:
                self._start()
            assert self._fd is not None
            os.write(self._fd, line.encode())
        except OSError as exc:
            from wtpar.notices import warn

            self._broken = True
            warn(
                f"no watchdog for this run ({exc.strerror or exc}): if wtpar is killed, "
                "its tasks may keep running"
            )

    def _start(self) -> None:
        os.makedirs(self.record_dir, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self._proc = subprocess.Popen(
            ["/bin/sh", "-c", _SCRIPT, "wtpar-watchdog", self.path],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # the terminal's signals are wtpar's to handle
        )
        os.write(self._fd, f"# wtpar {os.getpid()} watchdog {self._proc.pid}\n".encode())


# -- the next command's look at what earlier runs left ----------------------------------------


@dataclass(frozen=True)
class Record:
    """One run's record: who wrote it, who watches it, the groups still recorded."""

    wtpar: int
    watchdog: int
    groups: frozenset[int]


def read_record(path: str) -> Record | None:
    """A record file, or None when it is not one (unreadable, damaged, half written)."""
    try:
        with open(path, encoding="ascii") as fh:
            lines = fh.read().splitlines()
        _, wtpar, _, watchdog = lines[0].split()[1:5] if lines[0].startswith("# ") else [""] * 4
        groups: set[int] = set()
        for line in lines[1:]:
            op, pgid = line[:1], int(line[1:])
            if op == "+":
                groups.add(pgid)
            elif op == "-":
                groups.discard(pgid)
        return Record(int(wtpar), int(watchdog), frozenset(groups))
    except (OSError, ValueError, IndexError):
        return None


def live_groups(groups: frozenset[int]) -> set[int]:
    """Those of `groups` that still hold a process that is not a zombie (a zombie nobody
    reaps, as in a container without an init, still answers kill(0))."""
    if not groups:
        return set()
    if not os.path.isdir("/proc"):
        return {g for g in groups if _group_answers(g)}  # no /proc (macOS): kill(0) it is
    found: set[int] = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="ascii", errors="replace") as fh:
                fields = fh.read().rsplit(") ", 1)[-1].split()
        except OSError:
            continue  # gone meanwhile
        if fields[0] not in ("Z", "X") and int(fields[2]) in groups:
            found.add(int(fields[2]))
    return found


def _group_answers(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_alive(pid: int) -> bool:
    if not os.path.isdir("/proc"):
        return pid_alive(pid)  # no /proc (macOS): zombies count as alive there
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(") ", 1)[-1][:1] not in ("Z", "X")
    except OSError:
        return False


def stray_tasks(record_dir: str) -> list[tuple[int, list[int]]]:
    """(wtpar pid, process groups still alive) of runs whose wtpar and watchdog both died;
    records of runs that left nothing running are deleted."""
    try:
        names = [n for n in os.listdir(record_dir) if n.endswith(".groups")]
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(record_dir, name)
        record = read_record(path)
        if record is None:
            if not _pid_alive(_owner(name)):
                _forget(path)  # damaged, and nobody is writing it any more
            continue
        if _pid_alive(record.wtpar) or _pid_alive(record.watchdog):
            continue  # a run still going, or its watchdog still at work
        alive = sorted(live_groups(record.groups))
        if alive:
            found.append((record.wtpar, alive))
        else:
            _forget(path)
    return found


def _owner(name: str) -> int:
    try:
        return int(name.split("-", 1)[0])
    except ValueError:
        return 0


def _forget(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
