"""The one wrapper every synchronous subprocess goes through, so a failure always shows
the command, its exit code and its output, and children never inherit stray GIT_* state."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TypeVar, cast

from wtpar.errors import CommandError

_T = TypeVar("_T")

# Variables that would point a child git at another repository or index than the one we chose.
_GIT_SCRUB = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_PREFIX",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
)


@functools.cache
def executable(name: str) -> str:
    """The full path of a program, looked up once (saves a PATH search per git call)."""
    return shutil.which(name) or name


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without repository-selecting GIT_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_SCRUB}
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class Result:
    """What a finished command returned."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str


def run(
    args: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    check: bool = True,
    ok_codes: tuple[int, ...] = (0,),
    timeout: float | None = None,
    detached: bool = False,
) -> Result:
    """Run `args`, capture text output, raise CommandError unless the exit code is in `ok_codes`
    (and when it runs longer than `timeout` seconds: it is killed, exit code 124). With
    `detached`, in a session of its own: a Ctrl-C at the terminal does not reach it (what
    must not stop half-way, such as a rebase, finishes, and wtpar then stops)."""
    argv = [str(a) for a in args]
    argv[0] = executable(argv[0])
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=clean_env(env),
            input=None if input is None else input.encode("utf-8", "surrogateescape"),
            capture_output=True,
            stdin=None if input is not None else subprocess.DEVNULL,
            timeout=timeout,
            start_new_session=detached,
        )
    except FileNotFoundError as exc:
        raise CommandError(argv, 127, str(exc)) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandError(argv, 124, f"took over {timeout:g}s and was stopped") from exc
    result = Result(argv, proc.returncode, _text(proc.stdout), _text(proc.stderr))
    if check and proc.returncode not in ok_codes:
        raise CommandError(argv, proc.returncode, (result.stderr + result.stdout).strip())
    return result


def _text(output: bytes) -> str:
    """A command's output as text: undecodable bytes kept (surrogateescape), and no newline
    translation, which text mode does (a "\r" in a path became a line break)."""
    return output.decode("utf-8", "surrogateescape")


class Started:
    """A command started now and waited for later (`result`), so that it runs beside what
    this process does meanwhile; its Result and error are `run`'s."""

    def __init__(self, args: Sequence[str], *, cwd: str | os.PathLike[str] | None = None) -> None:
        self.argv = [str(a) for a in args]
        self.argv[0] = executable(self.argv[0])
        self._proc = subprocess.Popen(
            self.argv,
            cwd=cwd,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._result: Result | None = None

    def result(self, check: bool = True) -> Result:
        """Wait for the command (once); CommandError when `check` and it failed."""
        if self._result is None:
            stdout, stderr = self._proc.communicate()
            self._result = Result(self.argv, self._proc.returncode, _text(stdout), _text(stderr))
        res = self._result
        if check and res.returncode != 0:
            raise CommandError(res.args, res.returncode, (res.stderr + res.stdout).strip())
        return res


def signal_group(pgid: int, sig: int) -> bool:
    """Signal a process group; False when no process is left in it."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # A member changed its credentials (setuid helper): nothing more we can do.
        return False
    return True


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process of group `pgid` exists.

    A member that exited after its parent stays a zombie until init reaps it, which some
    inits do only every few seconds: it runs nothing, so it does not count.
    """
    if not signal_group(pgid, 0):
        return False
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return True  # no /proc: trust the signal
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def workers(n: int) -> int:
    """How many threads to use for `n` independent git calls."""
    return max(1, min(n, 2 * (os.cpu_count() or 2), 16))


def in_threads(calls: Sequence[Callable[[], _T]], threads: int) -> list[_T]:
    """Every call's result, in order, with at most `threads` running at once (this thread
    is one of them); the first exception any call raised is raised. Plain threads: a
    ThreadPoolExecutor's imports (logging among them) cost `wtpar list` 3 ms."""
    results: list[_T | None] = [None] * len(calls)
    errors: list[BaseException] = []
    todo = iter(range(len(calls)))
    lock = threading.Lock()

    def work() -> None:
        while not errors:
            with lock:
                index = next(todo, None)
            if index is None:
                return
            try:
                results[index] = calls[index]()
            except BaseException as exc:  # noqa: BLE001 - raised again in the caller
                errors.append(exc)

    helpers = [
        threading.Thread(target=work, daemon=True) for _ in range(min(threads, len(calls)) - 1)
    ]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]
    return cast("list[_T]", results)


def pid_alive(pid: object) -> bool:
    """True while process `pid` exists (records naming a dead process count for nothing)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


# -- commands in their own process groups (post_create), stopped when wtpar is ----------------

_groups: set[int] = set()
_groups_guard = threading.Lock()
_stopping = False


class Signalled(BaseException):
    """SIGTERM or SIGHUP arrived (a run handles its own; this is for every other command).
    A BaseException, like KeyboardInterrupt, so that no `except Exception` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, frame: object) -> None:
    raise Signalled(signum)


def raise_on_termination() -> None:
    """Make SIGTERM and SIGHUP raise Signalled in the main thread, so that clean-up runs
    (process groups terminated, locks released) as it does for Ctrl-C."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_signalled)


def run_in_group(
    command: str,
    *,
    cwd: str,
    env: Mapping[str, str],
    output: IO[str] | None = None,
    keep_fd: int | None = None,
    on_start: Callable[[int], None] | None = None,
) -> int:
    """Run a shell command in a process group of its own, stdout and stderr to `output`;
    its exit status. `terminate_groups` stops it (Ctrl-C in a terminal no longer reaches it).
    The command inherits `keep_fd` (a busy record); `on_start` gets its process group id."""
    with _groups_guard:
        if _stopping:
            return 128 + signal.SIGTERM  # wtpar is stopping: start nothing new
        proc = subprocess.Popen(
            command,
            shell=True,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=() if keep_fd is None else (keep_fd,),
        )
        _groups.add(proc.pid)
    if on_start is not None:
        on_start(proc.pid)
    # Interrupted while waiting (Ctrl-C, SIGTERM), the group stays registered, so that
    # terminate_groups() on the way out stops it.
    code = proc.wait()
    with _groups_guard:
        _groups.discard(proc.pid)
    return code


def terminate_groups(grace: float = 2.0) -> None:
    """Stop every group `run_in_group` started that still runs: SIGTERM, SIGKILL after
    `grace`; and start no more."""
    global _stopping
    with _groups_guard:
        _stopping = True
        groups = set(_groups)
    for pgid in groups:
        _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while groups and time.monotonic() < deadline:
        time.sleep(0.02)  # a group cannot be waited for; wtpar is on its way out anyway
        groups = {g for g in groups if _signal_group(g, 0)}
    for pgid in groups:
        _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
    except OSError:
        return False
    return True
