"""A service's processes, known by its leader's pid and start time: a pid alone could by
now name an unrelated program, and wtpar must never signal one. While any process of a
group lives, the kernel does not hand its id to another process, so a group whose leader
is gone is still recognised by its id."""

from __future__ import annotations

import os
import time

_POLL = 0.05


def group_running(pid: int, start_time: float) -> bool:
    """True while any process of the service lives (the leader alone is checked first,
    so `ps` and `list` need not scan every process of the machine)."""
    import psutil

    try:
        leader = psutil.Process(pid)
        if (
            abs(leader.create_time() - start_time) <= 0.05
            and leader.status() != psutil.STATUS_ZOMBIE
        ):
            return True
    except psutil.Error:
        pass
    return bool(group_members(pid, start_time))


def group_members(pid: int, start_time: float) -> list[int]:
    """Live (non-zombie) pids of the service's process group; empty when it is gone.

    The leader's pid is trusted only with the recorded start time. Once the leader is
    gone its pid cannot be reused while another member of its group lives, so the
    remaining members of group `pid` are the service's.
    """
    import psutil

    try:
        leader = psutil.Process(pid)
        if abs(leader.create_time() - start_time) > 0.05:
            return []  # the pid now belongs to another program
    except psutil.NoSuchProcess:
        pass
    except psutil.Error:
        return []
    members: list[int] = []
    for member in psutil.pids():
        try:
            if os.getpgid(member) != pid:
                continue
            proc = psutil.Process(member)
            if (
                proc.status() != psutil.STATUS_ZOMBIE
                and proc.create_time() >= start_time - 0.05
            ):
                members.append(member)
        except (OSError, psutil.Error):
            continue
    return members


def wait_gone(pid: int, start_time: float, timeout: float) -> bool:
    """Wait until no process of the group is left; False when `timeout` ran out first."""
    deadline = time.monotonic() + timeout
    while group_members(pid, start_time):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True
