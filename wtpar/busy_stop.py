"""`remove --force` and `pool drain`: stop what runs in a worktree, then let it go.

A task's record names its process group, which is terminated (SIGTERM, SIGKILL after a
grace). What the task moved out of its group (`timeout` does, a job under `set -m`, a
daemon started with setsid) still holds the record's descriptor it inherited, and keeps
the worktree busy: those holders are found by that descriptor in /proc and stopped with the
group. Only records written on this machine, in this pid namespace, are acted on: another
container's pids are different processes here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable

from wtpar.busy import HOST, RunningTask, busy_dir, live_records

_STOP_GRACE = 5.0


def stop_tasks(
    wtpar_dir: str,
    worktree_path: str,
    grace: float = _STOP_GRACE,
    wait: Callable[[float], None] = time.sleep,
) -> list[RunningTask]:
    """Terminate the tasks running in a worktree (SIGTERM to each process group and to what
    holds their records, SIGKILL after `grace` seconds) and wait until their records are
    released; return those stopped.

    A `spawn`, a task on a remote worker, or a record of another machine or pid namespace
    is never stopped this way (the caller then finds it still running).
    """
    folder = busy_dir(wtpar_dir, worktree_path)
    here = [(path, t) for path, t in live_records(folder) if t.host in ("", HOST)]
    stoppable = [t for _, t in here if 0 < t.pid != t.owner_pid]
    paths = [path for path, t in here if t in stoppable]
    spared = {os.getpid(), *(t.owner_pid for _, t in here)}  # never a wtpar process
    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = _left(folder, stoppable)
        if not left:
            break
        for task in left:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(task.pid, sig)
        for pid in holders(paths) - spared:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        delay = 0.01
        # The owning wtpar process releases a record once it has reaped the task's group.
        while _left(folder, stoppable):
            if time.monotonic() > deadline:
                break
            wait(delay)
            delay = min(delay * 2, 0.2)
    return stoppable


def holders(paths: Iterable[str]) -> set[int]:
    """The processes that have one of these files open (Linux: /proc; elsewhere none)."""
    wanted = set()
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            wanted.add((st.st_dev, st.st_ino))
    found: set[int] = set()
    if not wanted:
        return found
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return found
    for pid in pids:
        folder = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(folder)
        except OSError:
            continue  # gone, or not ours to look at
        for fd in fds:
            try:
                st = os.stat(os.path.join(folder, fd))
            except OSError:
                continue
            if (st.st_dev, st.st_ino) in wanted:
                found.add(int(pid))
                break
    return found


def _left(folder: str, stoppable: list[RunningTask]) -> list[RunningTask]:
    running = {task for _, task in live_records(folder)}
    return [t for t in stoppable if t in running]
