"""`wtpar run` starts its tasks first: before the first task starts it has run one `git
rev-parse` and one `git worktree list`, nothing else, and the reads of `git status` that
only matter for recording results wait until the first wave of tasks has started (counts
of git processes stand for the time); after the last task has ended, recording starts no
git process. It loads no module it does not use."""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import modules_after_cli, python_output
from tests.run_helpers import configure, make_dispatcher, spawn
from wtpar.model import RunEvent, RunReport, RunStatus, TaskFinished, TaskKey, TaskRun, TaskStarted
from wtpar.run.cleanliness import CleanReads
from wtpar.run.dispatch import Dispatcher
from wtpar.run.plan import RunRequest
from wtpar.run.runner import run_sync

_T = TypeVar("_T")


def run_noting_first_start(dispatcher: Dispatcher, note: Callable[[], _T]) -> tuple[_T, RunReport]:
    """Run DISPATCHER; what `note()` said when its first task started, and the report."""
    noted: list[_T] = []

    def first_start(event: RunEvent) -> None:
        if isinstance(event, TaskStarted) and not noted:
            noted.append(note())

    dispatcher.subscribe(first_start)
    report = run_sync(dispatcher)
    assert all(t.status is RunStatus.OK for t in report.tasks)
    assert len(noted) == 1
    return noted[0], report


def test_before_the_first_task_starts_only_two_git_processes_run(
    repo: Path, git_calls: Counter[str]
) -> None:
    configure(repo, '[tasks.test]\ncmd = "true"\n')
    paths = spawn(repo, "a", "b", "c", "d")
    git_calls.clear()
    dispatcher = make_dispatcher(repo, RunRequest(task_names=("test",), jobs=4))
    at_first_start, _ = run_noting_first_start(dispatcher, lambda: Counter(git_calls))
    # Finding the repository and its worktrees; no status, no second worktree list.
    assert at_first_start == Counter({"rev-parse": 1, "worktree": 1})
    assert git_calls["status"] == len(paths)  # read during the run, for recording results


def test_recording_reads_the_trees_during_the_run_not_after_it(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wtpar import procs

    spawn(repo, "a", "b")
    calls: list[tuple[str, bool]] = []  # (git subcommand, on the event loop's thread)
    real = procs.run

    def noting(args: Any, **kwargs: Any) -> procs.Result:
        if "cat-file" in args:
            calls.append(("cat-file", threading.current_thread() is threading.main_thread()))
        return real(args, **kwargs)

    monkeypatch.setattr(procs, "run", noting)
    dispatcher = make_dispatcher(repo, RunRequest(command="true", jobs=2))
    report = run_sync(dispatcher)
    assert all(t.status is RunStatus.OK for t in report.tasks)
    # One batch for both HEADs, read beside the clean reads; recording (on the loop's
    # thread, after the last task) finds the trees already read.
    assert calls == [("cat-file", False)]
    assert dispatcher.results is not None
    assert [r.branch for r in dispatcher.results.all()] in (["a"], ["b"])  # one tree, both


def test_nothing_waits_for_the_disk_before_the_first_task_starts(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawn(repo, "a", "b")
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    dispatcher = make_dispatcher(repo, RunRequest(command="true", jobs=2))
    at_first_start, report = run_noting_first_start(dispatcher, lambda: len(synced))
    assert at_first_start == 0  # the run's active marker is written, not synced
    # At the end only the report waits for the disk; the caches (results, history) do not.
    assert len(synced) == 1
    assert (repo / ".git" / "wtpar" / "runs" / "last").read_text().strip() == report.run_id


class _Reads:
    """A probe that remembers which paths it was asked about."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, path: str) -> bool:
        self.asked.append(path)
        return path != "dirty"


def _started(branch: str) -> TaskStarted:
    return TaskStarted(TaskKey(branch, "t"), attempt=1, pid=None, time=1.0)


def _finished(branch: str) -> TaskFinished:
    return TaskFinished(TaskRun(TaskKey(branch, "t"), "true", branch, RunStatus.OK))


class _Inline(ThreadPoolExecutor):
    """Runs what is submitted at once, in the caller: a read is counted when submitted."""

    def submit(self, fn: Callable[..., _T], /, *args: object, **kwargs: object) -> Future[_T]:
        done: Future[_T] = Future()
        done.set_result(fn(*args, **kwargs))
        return done


def test_reads_start_once_the_first_wave_of_tasks_has_started() -> None:
    async def scenario() -> tuple[list[int], dict[str, bool]]:
        asyncio.get_running_loop().set_default_executor(_Inline())
        probe = _Reads()
        reads = CleanReads(probe, wave=3)
        reads.start(["a", "b", "dirty", "a"])
        counts = []
        for branch in ("a", "b", "dirty"):
            counts.append(len(probe.asked))
            reads(_started(branch))
        results = await reads.results()
        counts.append(len(probe.asked))
        return counts, results

    counts, results = asyncio.run(scenario())
    assert counts == [0, 0, 0, 3]  # nothing before the third start, each path once after
    assert results == {"a": True, "b": True, "dirty": False}


def test_a_task_ending_early_starts_the_reads() -> None:
    async def scenario() -> int:
        probe = _Reads()
        reads = CleanReads(probe, wave=8)  # -j 8, but the others wait for this one
        reads.start(["a", "b"])
        reads(_started("a"))
        reads(_finished("a"))
        await reads.results()
        return len(probe.asked)

    assert asyncio.run(scenario()) == 2


_COLLECTIONS_BEFORE_FIRST_TASK = (
    "import gc, runpy, sys\n"
    "seen, started = [], []\n"
    "def noting(phase, info):\n"
    "    if phase == 'start' and 'wtpar.cli' in sys.modules and not started:\n"
    "        seen.append(gc.get_freeze_count() > 0)  # False: over start-up's objects\n"
    "gc.callbacks.append(noting)\n"
    "def audit(event, args):\n"
    "    if event == 'subprocess.Popen' and 'wtpar-first-task' in str(args[1]):\n"
    "        started.append(True)\n"
    "sys.addaudithook(audit)\n"
    "sys.argv = ['wtpar', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('wtpar', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    "print('COLLECTIONS', len(seen), seen.count(False), bool(started), gc.isenabled())\n"
)


def test_no_collection_runs_before_the_first_task_starts(repo: Path) -> None:
    """From its first import until its tasks start, `wtpar run` allocates objects that live
    as long as it does: collecting them would free nothing (42 collections, about 5 ms,
    before). The collector runs again, over younger objects only, once the tasks start."""
    spawn(repo, "a", "b")
    argv = ["run", "-j", "2", "--output", "quiet", "--", "echo wtpar-first-task"]
    out = python_output(_COLLECTIONS_BEFORE_FIRST_TASK, argv, repo)
    _, total, over_start_up, started, enabled = out.strip().splitlines()[-1].split()
    assert (over_start_up, started, enabled) == ("0", "True", "True")
    assert int(total) <= 1  # at most one, over the loop's young objects, as tasks start


def test_run_loads_no_module_it_does_not_use(repo: Path) -> None:
    spawn(repo, "a")
    code, printed, loaded = modules_after_cli(
        ["run", "-j", "2", "--output", "quiet", "--", "true"], repo
    )
    assert code == 0, printed
    # Neither --csv, --junit, --changed, Dask nor the dashboard is asked for.
    unwanted = (
        "wtpar.run.dask",
        "tempfile",
        "csv",
        "xml",
        "statistics",
        "textual",
        "rich",
        "distributed",
        "wcwidth",
        "wtpar.check",
        "wtpar.notify",  # only --notify sends one
        "wtpar.worktrees.leases",  # a run reads no leases
        "wtpar.worktrees.environment",  # no [env] configured
        "wtpar.git.merge_output",  # nothing is merged
        "ssl",  # asyncio is imported without OpenSSL (wtpar.run.aio)
    )
    assert sorted(m for m in loaded for n in unwanted if m == n or m.startswith(n + ".")) == []


_END_OF_RUN_MODULES = ("wtpar.run.report", "wtpar.run.recording")

# The task waits (30 s at most) for a file the run makes when it starts loading what the
# end of the run needs: it succeeds only if that happens while it runs.
_LOADED_WHILE_THE_TASK_RUNS = (
    "import runpy, sys\n"
    f"watched = {_END_OF_RUN_MODULES!r}\n"
    "flag = sys.argv.pop(1)\n"
    "at_first_start = []\n"
    "def audit(event, args):\n"
    "    if event == 'subprocess.Popen' and 'wtpar-first-task' in str(args[1]):\n"
    "        at_first_start.extend(m for m in watched if m in sys.modules)\n"
    "sys.addaudithook(audit)\n"
    "class Loading:  # told of every import, however it is made\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name == watched[-1]:\n"
    "            open(flag, 'w').close()\n"
    "sys.meta_path.insert(0, Loading())\n"
    "sys.argv = ['wtpar', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('wtpar', run_name='__main__')\nexcept SystemExit as exc:\n"
    "    print('EXIT', exc.code)\n"
    "print('AT-FIRST-START', *at_first_start)\n"
)


def test_what_the_end_of_the_run_needs_is_loaded_while_its_tasks_run(
    repo: Path, tmp_path: Path
) -> None:
    """The report's and recording's modules (about 5 ms) are not loaded before the first
    task starts, nor after the last one ends: beside the running tasks."""
    spawn(repo, "a")
    flag = tmp_path / "loading"
    wait = f"i=0; while [ ! -e {flag} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done"
    command = f"echo wtpar-first-task; {wait}; test -e {flag}"
    argv = [str(flag), "run", "--output", "quiet", "--", command]
    lines = python_output(_LOADED_WHILE_THE_TASK_RUNS, argv, repo).strip().splitlines()
    assert lines[-2:] == ["EXIT 0", "AT-FIRST-START"]  # the task saw the loading begin
    assert flag.exists()


_ASYNCIO_WITHOUT_SSL = (
    "import socket, sys\n"
    "from wtpar.run import aio\n"
    "aio.load()\n"
    "print('asyncio' in sys.modules, 'ssl' in sys.modules)\n"
    "import asyncio, ssl\n"
    "server = socket.create_server(('127.0.0.1', 0))\n"
    "async def connect():\n"
    "    context = ssl.create_default_context()\n"
    "    try:\n"
    "        await asyncio.open_connection(*server.getsockname()[:2], ssl=context)\n"
    "    except RuntimeError as exc:\n"
    "        print(exc)\n"
    "asyncio.run(connect())\n"
    "print(ssl.OPENSSL_VERSION.split()[0])\n"
)


def test_asyncio_is_imported_without_ssl_which_still_loads_when_asked_for(
    tmp_path: Path,
) -> None:
    """Only asyncio's own TLS is off, and it says so; `import ssl` works as before."""
    lines = python_output(_ASYNCIO_WITHOUT_SSL, [], tmp_path).splitlines()
    assert lines == ["True False", "stdlib ssl module not available", "OpenSSL"]


def test_asyncio_keeps_its_tls_when_ssl_was_loaded_first(tmp_path: Path) -> None:
    code = (
        "import ssl\nfrom wtpar.run import aio\naio.load()\n"
        "import asyncio.base_events\nprint(asyncio.base_events.ssl is ssl)\n"
    )
    assert python_output(code, [], tmp_path).split() == ["True"]
