"""`python -m wtpar` on a pseudo-terminal of its own, what it drew, and the terminal going
away as it does when its window is closed."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tests.conftest import ROOT


class Terminal:
    """wtpar ARGS in CWD on a new pseudo-terminal (ROWS x COLUMNS), in a session of its own;
    a context manager that kills it (by pid) if it is still running at the end."""

    def __init__(
        self,
        args: Sequence[str],
        cwd: Path,
        size: tuple[int, int] = (30, 100),
        env: dict[str, str] | None = None,
    ) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "wtpar", *args],
            cwd=cwd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            start_new_session=True,
        )
        os.close(slave)
        os.set_blocking(self.master, False)
        self.seen = bytearray()

    def read(self) -> bytes:
        """Everything drawn so far."""
        if self.master >= 0:
            with contextlib.suppress(BlockingIOError, OSError):
                self.seen.extend(os.read(self.master, 65536))
        return bytes(self.seen)

    def hang_up(self, timeout: float = 30) -> int:
        """What the kernel does when a terminal goes away: writes to it fail from now on,
        and the foreground process gets SIGHUP, then SIGCONT. The exit status."""
        os.close(self.master)
        self.master = -1
        os.kill(self.proc.pid, signal.SIGHUP)
        os.kill(self.proc.pid, signal.SIGCONT)
        return self.proc.wait(timeout=timeout)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.master >= 0:
            os.close(self.master)
            self.master = -1
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
