"""The watchdog of one run: when wtpar dies, however it dies (even SIGKILL, which no handler
sees), the process groups of its running tasks die with it.

wtpar starts the watchdog lazily, with the first task, as a small separate process in its own
session, and keeps the only write end of a pipe to its stdin. It writes `+PGID` when a task's
group starts and `-PGID` when it is gone. End of file on that pipe means wtpar is gone: the
watchdog sends SIGTERM to the groups still recorded, SIGKILL to what is left after a short
grace, and exits. A clean end of the run closes the pipe with no group left.

The watchdog keeps its groups in `wtpar/watch/<its pid>.json` and deletes the file once they
are gone. A file whose watchdog is dead too (both were killed) names groups that may still
run: the next wtpar command reports them (`stray_tasks`), never kills them blindly (a group
id can be reused once its processes are gone).

This file runs as `python -I -S watchdog.py RECORD_DIR`: standard library only, so it starts
in a few milliseconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from typing import IO

GRACE = 2.0  # SIGTERM to SIGKILL, once wtpar is gone
_POLL = 0.05


def live_groups(groups: set[int]) -> set[int]:
    """Those of `groups` that still hold a process that is not a zombie (a zombie nobody
    reaps, as in a container without an init, still answers kill(0))."""
    if not groups:
        return set()
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


def pid_alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(") ", 1)[-1][:1] not in ("Z", "X")
    except OSError:
        return False


def _save(path: str, wtpar_pid: int, groups: set[int]) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump({"wtpar": wtpar_pid, "watchdog": os.getpid(), "groups": sorted(groups)}, fh)
    os.replace(tmp, path)


def _stop(groups: set[int]) -> set[int]:
    """SIGTERM every group, SIGKILL what is left after GRACE; the groups still alive."""
    for pgid in groups:
        _signal(pgid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    left = live_groups(groups)
    while left and time.monotonic() < deadline:
        time.sleep(_POLL)
        left = live_groups(left)
    for pgid in left:
        _signal(pgid, signal.SIGKILL)
    time.sleep(_POLL if left else 0)
    return live_groups(left)


def _signal(pgid: int, sig: int) -> None:
    with contextlib.suppress(OSError):  # gone already, or not ours any more
        os.killpg(pgid, sig)


def watch(record_dir: str, commands: IO[bytes], wtpar_pid: int) -> None:
    """Follow `+PGID` / `-PGID` lines until end of file, then stop what is left."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)  # only the end of the pipe ends the watch
    os.makedirs(record_dir, exist_ok=True)
    path = os.path.join(record_dir, f"{os.getpid()}.json")
    groups: set[int] = set()
    for line in commands:
        try:
            op, pgid = line[:1], int(line[1:])
        except ValueError:
            continue
        if op == b"+":
            groups.add(pgid)
        else:
            groups.discard(pgid)
        _save(path, wtpar_pid, groups)
    left = _stop(groups)
    if left:
        _save(path, wtpar_pid, left)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


class Watchdog:
    """wtpar's end of the pipe: starts the watchdog with the first group, tells it about
    groups, and closes the pipe at the end of the run."""

    def __init__(self, record_dir: str) -> None:
        self.record_dir = record_dir
        self._proc: subprocess.Popen[bytes] | None = None
        self._broken = False

    def track(self, pgid: int) -> None:
        """A task's process group started."""
        self._send(b"+%d\n" % pgid)

    def untrack(self, pgid: int) -> None:
        """A task's process group is gone."""
        self._send(b"-%d\n" % pgid)

    def close(self, wait: float = 2.0) -> None:
        """The run is over: end of file lets the watchdog exit, having nothing left to stop;
        wait (at most `wait` seconds) until it has, so that it writes nothing afterwards."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(wait)

    def _send(self, line: bytes) -> None:
        if self._broken:
            return
        try:
            if self._proc is None:
                self._proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", __file__, self.record_dir],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,  # the terminal's signals are wtpar's to handle
                )
            assert self._proc.stdin is not None
            self._proc.stdin.write(line)
            self._proc.stdin.flush()
        except OSError as exc:
            from wtpar.notices import warn

            self._broken = True
            warn(
                f"no watchdog for this run ({exc.strerror or exc}): if wtpar is killed, "
                "its tasks may keep running"
            )


# -- the next command's look at what earlier runs left ----------------------------------------


def stray_tasks(record_dir: str) -> list[tuple[int, list[int]]]:
    """(wtpar pid, process groups still alive) of runs whose wtpar and watchdog both died;
    records of runs that left nothing running are deleted."""
    try:
        names = [n for n in os.listdir(record_dir) if n.endswith(".json")]
    except OSError:
        return []
    found = []
    for name in names:
        path = os.path.join(record_dir, name)
        try:
            with open(path, encoding="utf-8") as fh:
                record = json.load(fh)
            wtpar_pid, watchdog_pid = int(record["wtpar"]), int(record["watchdog"])
            groups = [int(g) for g in record["groups"]]
        except (OSError, ValueError, KeyError, TypeError):
            _forget(path)  # not a record of ours: nothing to report from it
            continue
        if pid_alive(watchdog_pid) or pid_alive(wtpar_pid):
            continue  # a run still going (or its watchdog still at work)
        alive = sorted(live_groups(set(groups)))
        if alive:
            found.append((wtpar_pid, alive))
        else:
            _forget(path)
    return found


def _forget(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


if __name__ == "__main__":
    watch(sys.argv[1], sys.stdin.buffer, os.getppid())
