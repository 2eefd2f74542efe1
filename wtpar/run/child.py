"""A child process whose end comes with its resource usage, awaited on the event loop.

asyncio's subprocess support reaps the child itself and discards what the kernel reports
about it. wtpar's history wants exactly that report (CPU seconds and peak memory, as
`wait4(2)` gives them), so the local executor starts `/bin/sh -c CMD` with `subprocess.Popen`
and reaps it here: a pidfd tells the loop when it exited (Linux), else one thread per child
blocks in `wait4`.
"""

from __future__ import annotations

import asyncio
import os
import resource
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass

# ru_maxrss is in kilobytes on Linux and in bytes on macOS.
_RSS_UNIT = 1 if os.uname().sysname == "Darwin" else 1024


@dataclass(frozen=True)
class ChildExit:
    """How a child ended: its wait status as a return code, and its resource usage."""

    returncode: int  # negative: killed by that signal (as subprocess reports it)
    cpu_seconds: float
    peak_rss: int  # bytes


class Child:
    """A started process group leader; `await wait()` reaps it exactly once."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.returncode: int | None = None
        self._exit: asyncio.Future[ChildExit] | None = None

    def wait(self) -> asyncio.Future[ChildExit]:
        """A future for the child's exit (the same one on every call)."""
        if self._exit is None:
            loop = asyncio.get_running_loop()
            self._exit = loop.create_future()
            self._watch(loop, self._exit)
        return self._exit

    def _watch(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[ChildExit]) -> None:
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            thread = threading.Thread(target=self._wait_in_thread, args=(loop, done), daemon=True)
            thread.start()
            return

        def readable() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._settle(done, os.wait4(self.pid, 0))

        loop.add_reader(pidfd, readable)

    def _wait_in_thread(
        self, loop: asyncio.AbstractEventLoop, done: asyncio.Future[ChildExit]
    ) -> None:
        result = os.wait4(self.pid, 0)
        loop.call_soon_threadsafe(self._settle, done, result)

    def _settle(
        self, done: asyncio.Future[ChildExit], result: tuple[int, int, resource.struct_rusage]
    ) -> None:
        _, status, usage = result
        code = os.waitstatus_to_exitcode(status)
        self.returncode = code
        # Popen must not try to reap a pid that may already belong to another process.
        self._popen.returncode = code
        if not done.done():
            done.set_result(
                ChildExit(code, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * _RSS_UNIT)
            )


def start_child(
    argv: list[str],
    cwd: str,
    env: Mapping[str, str],
    output_fd: int,
    keep_fd: int | None = None,
    stdin_fd: int | None = None,
) -> Child:
    """Start `argv` in its own session with stdout and stderr on `output_fd` (OSError if not),
    inheriting `keep_fd` when given; stdin is `stdin_fd`, else /dev/null (which Popen opens
    and closes for every child: pass one open for many)."""
    popen = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL if stdin_fd is None else stdin_fd,
        stdout=output_fd,
        stderr=output_fd,
        start_new_session=True,
        close_fds=True,
        pass_fds=() if keep_fd is None else (keep_fd,),
    )
    return Child(popen)
