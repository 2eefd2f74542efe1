"""Helpers shared by the command modules: finding the services, JSON, tables, completion."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
import shutil
import sys
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any, cast

import click

from wtpar.cli import EARLY_DISCOVERY
from wtpar.errors import UsageError
from wtpar.git.parse import output_lines
from wtpar.services import Services
from wtpar.text import terminal_safe

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from wtpar.worktrees.environment import EnvView


def services_from(ctx: click.Context) -> Services:
    """The Services for the repository wtpar was started in (cached on the context)."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    svc = obj.get("services")
    if svc is None:
        start = obj.get("repo_dir", ".")
        where, early = root.meta.pop(EARLY_DISCOVERY, (None, None))
        if early is not None and where != os.path.abspath(start):
            early = None
        svc = Services.from_cwd(start, early)
        svc.report_stray_tasks()
        obj["services"] = svc
        root.obj = obj
    assert isinstance(svc, Services)
    return svc


def say(text: str) -> None:
    """One line on stderr, if there is still someone to read it (after SIGHUP, maybe not)."""
    with contextlib.suppress(OSError):
        click.echo(terminal_safe(text), err=True)


def echo(text: str, err: bool = False, file: IO[str] | None = None) -> None:
    """One line of wtpar's own that names branches, paths or tasks: what in them could
    steer the terminal (an escape sequence, a carriage return) shown as escapes."""
    click.echo(terminal_safe(text), err=err, file=file)


def echo_json(data: Any) -> None:
    """Print `data` as JSON on stdout (NaN/Infinity, which JSON has not, as null)."""
    click.echo(json.dumps(_finite(data), indent=2, sort_keys=False, allow_nan=False))


def _finite(data: Any) -> Any:
    # A damaged file may still bring a non-finite float through; strict JSON readers choke on it
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def check_writable(option: str, path: str | None) -> None:
    """Refuse (exit 2) an output file that cannot be written, before any work is done."""
    if not path:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        problem = "is a folder"
    elif not os.path.isdir(folder):
        problem = f"its folder {folder} does not exist"
    elif not os.access(path if os.path.exists(path) else folder, os.W_OK):
        problem = "not writable (permission denied)"
    else:
        return
    raise UsageError(f"{option} {path}: {problem}")


def use_color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def terminal_width() -> int:
    """Columns of the terminal (80 when unknown)."""
    return shutil.get_terminal_size((80, 24)).columns


def complete_worktree_branch(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion: branches that have a worktree."""
    try:
        svc = services_from(ctx)
        names = [wt.branch for wt in svc.worktrees.worktrees() if wt.branch and not wt.is_main]
    except Exception:
        return []
    return _completions(names, incomplete)


def _completions(names: Iterable[str], incomplete: str) -> list[CompletionItem]:
    # Imported here: only completion needs it, and click.shell_completion is 0.4 ms of every
    # command's start otherwise.
    from click.shell_completion import CompletionItem

    return [CompletionItem(n) for n in names if n.startswith(incomplete)]


def complete_any_branch(
    ctx: click.Context, param: click.Parameter, incomplete: str
) -> list[CompletionItem]:
    """Shell completion: local and remote-tracking branch names."""
    try:
        svc = services_from(ctx)
        out = svc.git.run(
            "for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads", "refs/remotes"
        ).stdout
    except Exception:
        return []
    names: dict[str, None] = {}
    for line in output_lines(out):
        if line.endswith("/HEAD"):
            continue
        names[line] = None
        if "/" in line:
            names[line.split("/", 1)[1]] = None
    return _completions(names, incomplete)


_GONE = (errno.EPIPE, errno.EIO)  # the reader went away; the terminal was closed


class _PipeSafe(io.TextIOBase):
    """Writes to `stream` until its reader goes away (EPIPE: `wtpar run | head`; EIO: the
    terminal was closed), then nothing: a closed output stops the printing, never the work
    (nor the exit status it ends with: 129 after SIGHUP)."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__()
        self._stream = stream
        self.gone = False

    def write(self, text: str, /) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except OSError as exc:
                self._reader_gone(exc)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError as exc:
                self._reader_gone(exc)

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    def _reader_gone(self, exc: OSError) -> None:
        if exc.errno not in _GONE:
            raise exc
        self.gone = True
        stdout_gone(self._stream)


def pipe_safe(stream: IO[str]) -> IO[str]:
    """`stream`, made to stop printing quietly when its reader goes away."""
    return cast(IO[str], _PipeSafe(stream))


def stdout_gone(stream: IO[str] | None = None) -> None:
    """The reader of `stream` (stdout) went away: point its descriptor at /dev/null, so the
    flushes still to come (at the latest when Python exits) cannot fail."""
    target = stream or sys.stdout
    try:
        fd = target.fileno()
    except (OSError, ValueError):
        return  # not a real file (a test's capture): nothing will flush it at exit
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def env_view_json(view: EnvView | None) -> dict[str, Any]:
    """A worktree's environment for `list --json`: variables, ports, services."""
    if view is None:
        return {"env": {}, "ports": {}, "services": []}
    return {
        "env": dict(view.variables),
        "ports": dict(view.ports),
        "services": [
            {
                "service": s.record.service,
                "state": s.state.value,
                "pid": s.record.pid,
                "port": s.record.port,
            }
            for s in view.services
        ],
    }
