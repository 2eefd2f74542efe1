"""Helpers for the dispatcher tests: configured repositories, runs, and timestamp analysis."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fixtures.recipes import git
from fixtures.waiting import wait_for
from wtpar.model import RunEvent, RunReport, TaskKey, TaskRun
from wtpar.run.dispatch import Dispatcher
from wtpar.run.plan import RunRequest
from wtpar.run.runner import run_sync
from wtpar.services import Services

STAMP = 'echo "{tag} start $(date +%s.%N)" >> {file}'
STAMP_END = 'echo "{tag} end $(date +%s.%N)" >> {file}'


def configure(repo: Path, toml: str, commit: bool = True) -> None:
    """Write wtpar.toml (committed, so worktrees stay clean)."""
    (repo / "wtpar.toml").write_text(toml)
    if commit:
        git(repo, "add", "wtpar.toml")
        git(repo, "commit", "-q", "-m", "configure tasks")


def spawn(repo: Path, *branches: str) -> dict[str, Path]:
    """Worktrees for `branches`; their paths by branch."""
    results = Services.from_cwd(repo).spawn(list(branches))
    return {r.branch: Path(r.path or "") for r in results}


def stamped(cmd: str, tag: str, file: Path) -> str:
    """`cmd` wrapped so it appends its own start and end times to `file`."""
    start = STAMP.format(tag=tag, file=file)
    end = STAMP_END.format(tag=tag, file=file)
    return f"{start}; {cmd}; rc=$?; {end}; exit $rc"


def intervals(file: Path) -> dict[str, tuple[float, float]]:
    """(start, end) per tag from a stamps file."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for line in file.read_text().splitlines():
        tag, kind, value = line.split()
        (starts if kind == "start" else ends)[tag] = float(value)
    return {tag: (starts[tag], ends[tag]) for tag in starts if tag in ends}


def max_overlap(spans: Iterable[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    points = sorted(
        [(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda p: (p[0], p[1])
    )
    current = best = 0
    for _, delta in points:
        current += delta
        best = max(best, current)
    return best


def run_request(
    repo: Path, request: RunRequest, events: list[RunEvent] | None = None, **options: float
) -> RunReport:
    """Plan and run a request with test-friendly timings (short grace and backoff)."""
    dispatcher = make_dispatcher(repo, request, **options)
    if events is not None:
        dispatcher.subscribe(events.append)
    return run_sync(dispatcher)


def make_dispatcher(repo: Path, request: RunRequest, **options: float) -> Dispatcher:
    """A Dispatcher like Services.make_dispatcher's, with grace/backoff overridable."""
    svc = Services.from_cwd(repo)
    dispatcher = svc.make_dispatcher(request)
    dispatcher.options = replace(
        dispatcher.options,
        grace=options.get("grace", 0.5),
        retry_backoff=options.get("retry_backoff", 0.01),
    )
    return dispatcher


def by_key(report: RunReport) -> dict[TaskKey, TaskRun]:
    """The report's task runs by key."""
    return {t.key: t for t in report.tasks}


def alive(pid: int) -> bool:
    """True while process `pid` exists (and is not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def read_pids(folder: Path) -> list[int]:
    """The pids written by test commands into `folder/*.pid`."""
    return [int(p.read_text().strip()) for p in folder.glob("*.pid") if p.read_text().strip()]


def kill_quietly(pids: Sequence[int]) -> None:
    """Clean up after a test that failed to (SIGKILL, ignoring the gone)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def signal_once_started(
    proc: subprocess.Popen[str],
    pids: Path,
    started: Callable[[list[int]], bool],
    what: str,
    sig: int,
    code: int,
) -> tuple[str, str]:
    """Once `started(the pids written to PIDS)`, send SIG to wtpar (PROC) and check that it
    exits with CODE and that every process that wrote a pid is then gone; its (stdout,
    stderr). Whatever is left is killed."""
    try:
        wait_for(lambda: started(read_pids(pids)), 30, what)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == code, out + err
        everyone = read_pids(pids)
        wait_for(lambda: not any(alive(p) for p in everyone), 10, "no process left behind")
        return out, err
    finally:
        proc.kill()
        kill_quietly(read_pids(pids))


def wtpar_popen(*args: str, cwd: Path, new_session: bool = False) -> subprocess.Popen[str]:
    """`python -m wtpar ARGS` started in the background (in a session of its own, whose
    process group can be killed as a whole, with `new_session`)."""

    from tests.conftest import ROOT

    return subprocess.Popen(
        [sys.executable, "-m", "wtpar", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=new_session,
    )


@contextlib.contextmanager
def wtpar_writing_stderr(*args: str, cwd: Path, stderr: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m wtpar ARGS` in the background, its stderr going to the file STDERR (read
    it as it grows), its stdout piped; killed, by pid, if still running at the end."""
    from tests.conftest import ROOT

    with open(stderr, "w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wtpar", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=sink,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def last_report(repo: Path) -> Any:
    """The latest run's report.json, as JSON."""
    runs = repo / ".git" / "wtpar" / "runs"
    return json.loads((runs / (runs / "last").read_text().strip() / "report.json").read_text())


def spawn_in_post_create(repo: Path, pidfile: Path) -> tuple[subprocess.Popen[str], int]:
    """`wtpar spawn x` in the background, once its post_create command (which writes its
    pid to `pidfile`, then sleeps) runs: the process and the command's pid."""
    from fixtures.waiting import wait_for

    configure(repo, f"[worktrees]\npost_create = ['echo $$ > {pidfile}; exec sleep 300']\n")
    proc = wtpar_popen("spawn", "x", cwd=repo, new_session=True)
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 30, "post_create")
    except BaseException:
        proc.kill()
        raise
    return proc, int(pidfile.read_text())


def strand_task(repo: Path, command: str, pids: Path) -> tuple[subprocess.Popen[str], int]:
    """`wtpar run -- COMMAND` (which writes its pid into `pids`) killed with its watchdog,
    the watchdog first (as if killed with wtpar's whole session): the run's process and
    the task's pid, left running."""
    from fixtures.waiting import wait_for
    from wtpar.run.watchdog import read_record

    watch = repo / ".git" / "wtpar" / "watch"

    def records() -> list[Any]:
        return [r for r in (read_record(str(p)) for p in watch.glob("*.groups")) if r]

    proc = wtpar_popen("run", "--output", "quiet", "--", command, cwd=repo, new_session=True)
    try:
        wait_for(lambda: read_pids(pids), 30, "the task to start")
        wait_for(lambda: [len(r.groups) for r in records()] == [1], 10, "the run's record")
        os.kill(records()[0].watchdog, signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    except BaseException:
        proc.kill()
        kill_quietly(read_pids(pids))
        raise
    (task,) = read_pids(pids)
    return proc, task
