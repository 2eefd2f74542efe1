"""The end of a run waits for other wtpar processes' locks on its caches (results, history):
Ctrl-C stops that wait at once, the waits are bounded in all rather than each, and the
notice of a wait has a line of its own, not the end of the progress line."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.conftest import ROOT, Invoke, run_wtpar_process
from tests.run_helpers import wtpar_writing_stderr
from tests.terminal_helpers import Terminal
from wtpar.state import CacheWaits, cache_waits, read_json, update_cache

_HOLDER = (
    "import sys\nfrom filelock import FileLock\n"
    "locks = [FileLock(p) for p in sys.argv[2:]]\n"
    "for lock in locks:\n    lock.acquire()\n"
    "open(sys.argv[1], 'w').close()\n"
    "sys.stdin.read()\n"  # until the test closes the pipe or kills it
)


@contextlib.contextmanager
def held(tmp_path: Path, *locks: Path) -> Iterator[None]:
    """Another process holds these lock files (filelock's, as wtpar's) until the block ends."""
    flag = tmp_path / "holding"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(flag), *map(str, locks)], stdin=subprocess.PIPE
    )
    try:
        wait_for(flag.exists, 30, "the locks to be held")
        yield
    finally:
        holder.kill()
        holder.wait()


def screen_lines(data: bytes) -> list[str]:
    """The lines a terminal shows for DATA: a carriage return goes back to column 0 and
    what follows overwrites; trailing blanks dropped."""
    lines = []
    for raw in data.decode(errors="replace").replace("\r\n", "\n").split("\n"):
        line: list[str] = []
        col = 0
        for ch in raw:
            if ch == "\r":
                col = 0
                continue
            line[col : col + 1] = [ch]
            col += 1
        lines.append("".join(line).rstrip())
    return lines


def test_ctrl_c_while_the_end_of_a_run_waits_for_a_lock_stops_the_wait(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    """The tasks have ended, another process holds the history's lock (stopped with Ctrl-Z,
    say): Ctrl-C ends the run at once (130), its history left as it is, and every line the
    terminal shows starts where it should."""
    assert wtpar("spawn", "a").exit_code == 0
    cache = repo / ".git" / "wtpar" / "cache"
    (cache / "locks").mkdir(parents=True)
    with (
        held(tmp_path, cache / "locks" / "history.json.lock"),
        Terminal(["run", "-b", "a", "--", "echo hi"], repo, (40, 200)) as term,
    ):
        said = b"waiting for another wtpar process"
        wait_for(lambda: said in term.read(), 30, "the notice")
        os.kill(term.proc.pid, signal.SIGINT)
        # Well before the 15 s the run would otherwise wait.
        assert term.proc.wait(timeout=10) == 130
        last = b"wtpar: interrupted (Ctrl-C)\r\n"
        wait_for(lambda: last in term.read(), 10, "the last line")
        seen = term.read()
    lines = screen_lines(seen)
    history = cache / "history.json"
    notice = f"wtpar: warning: waiting for another wtpar process to finish writing {history}"
    assert notice in lines
    assert "wtpar: interrupted (Ctrl-C): not waiting to record results and history" in lines
    assert not history.exists()
    # The task ran to its end: the run's outcome is its own, not the Ctrl-C's.
    assert "1 task: 1 ok" in lines
    waited = run_wtpar_process("wait", "--json", cwd=repo)
    assert waited.returncode == 0, waited.stdout + waited.stderr


def test_a_second_ctrl_c_while_the_end_waits_says_nothing_more(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from wtpar.cli.run_cmds import say_interrupted

    say_interrupted(1, "SIGINT", tasks_ended=True)
    say_interrupted(2, "SIGINT", tasks_ended=True)
    said = capsys.readouterr().err
    assert said.count("not waiting to record results and history") == 1


def test_an_interrupted_run_still_records_what_ended_when_no_lock_is_held(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    """Ctrl-C during the tasks: the attempts that ended before it are remembered."""
    from wtpar.run.history import History

    assert wtpar("spawn", "a").exit_code == 0
    flag = tmp_path / "second-started"
    (repo / "wtpar.toml").write_text(
        '[tasks.first]\ncmd = "true"\n'
        f'[tasks.second]\ncmd = "touch {flag}; exec sleep 60"\ndepends_on = ["first"]\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "wtpar", "run", "-b", "a", "first", "second"],
        cwd=repo,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        wait_for(flag.exists, 30, "the second task to start")
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    history = History(str(repo / ".git" / "wtpar"))
    assert [(t.task, t.branch) for t in history.load()] == [("first", "a")]


def test_two_writers_of_one_file_in_one_process_take_turns(tmp_path: Path) -> None:
    """The lock file is the process's (re-entrant): without more, two threads of one
    process (the dashboard recording two runs' ends) wrote the history at once, and one
    run's history was lost."""
    import threading

    from wtpar.state import update_with

    path = str(tmp_path / "history.json")
    inside: list[str] = []
    overlapped: list[bool] = []
    second_in = threading.Event()

    def first(data: object) -> object:
        inside.append("first")
        second_in.wait(1)  # it must not come in meanwhile: this wait runs out
        inside.remove("first")
        return {"first": 1}

    def second(data: object) -> object:
        overlapped.append("first" in inside)
        second_in.set()
        return {**(data if isinstance(data, dict) else {}), "second": 1}

    reader = lambda p: read_json(p, {})  # noqa: E731
    one = threading.Thread(target=update_with, args=(path, reader, first))
    one.start()
    wait_for(lambda: inside == ["first"], 10, "the first writer inside")
    two = threading.Thread(target=update_with, args=(path, reader, second))
    two.start()
    one.join(10)
    two.join(10)
    assert overlapped == [False]
    assert read_json(path, {}) == {"first": 1, "second": 1}


def _patient(monkeypatch: pytest.MonkeyPatch) -> None:
    import wtpar.state

    monkeypatch.setattr(wtpar.state, "QUIET_WAIT", 0.2)


def test_the_waits_of_one_run_s_end_are_bounded_in_all_not_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the first cache gave up on a lock, the second does not wait again (two waits
    of 17 s each, one after the other, held every run at its end for 34 s)."""
    _patient(monkeypatch)
    first, second = tmp_path / "results.json", tmp_path / "history.json"
    locks = tmp_path / "locks"
    locks.mkdir()
    both = (locks / "results.json.lock", locks / "history.json.lock")
    with held(tmp_path, *both), cache_waits(CacheWaits(patience=0.3)):
        for path in (first, second):
            update_cache(str(path), lambda data: data, {}, lambda data: {"x": 1})
    err = capsys.readouterr().err
    assert err.count("waiting for another wtpar process to finish writing") == 1
    assert f"writing {first}" in err
    assert err.count("in all); not caching this time") == 2
    assert not first.exists() and not second.exists()


def test_a_dispatcher_cancelled_while_recording_stops_waiting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard quitting cancels its runs; its loop's end waits for the recording's
    thread, which then gives up at once instead of after its whole patience."""
    from wtpar.run.expect import Pacer
    from wtpar.run.history import Attempted, History
    from wtpar.run.plan import RunPlan
    from wtpar.run.recording import record_run

    _patient(monkeypatch)
    history = History(str(tmp_path))
    pacer = Pacer(RunPlan(instances=()), history, None)
    pacer.attempted.append(Attempted("t", "a", "cmd", 0.5, 0, 1.0))
    waits = CacheWaits()  # 15 s: the thread would outlast the test's patience

    async def cancelled_while_waiting() -> None:
        task = asyncio.ensure_future(record_run(None, (), None, None, pacer, waits))  # type: ignore[arg-type]
        while "waiting for another" not in capsys.readouterr().err:
            await asyncio.sleep(0.05)  # wait-ok: polling, within asyncio.wait_for's 10 s
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    locks = Path(history.path).parent / "locks"
    locks.mkdir(parents=True)
    with held(tmp_path, locks / "history.json.lock"):
        asyncio.run(asyncio.wait_for(cancelled_while_waiting(), 10))
    assert "interrupted while waiting" in capsys.readouterr().err


def test_check_judges_the_tasks_it_ran_when_their_results_cannot_be_cached(
    repo: Path, wtpar: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the results' lock past the wait: the cache stays as it is,
    but `check` still judges the test it has just run (it said "did not record a result"
    and blocked the branch)."""
    from fixtures.recipes import make_branch
    from tests.check_helpers import add_worktree, branch_of, report_of, write_config
    from wtpar import state

    monkeypatch.setattr(state, "QUIET_WAIT", 0.1)
    monkeypatch.setattr(state, "CACHE_PATIENCE", 0.2)
    write_config(repo, '[tasks.test]\ncmd = "true"\n[check]\ntasks = ["test"]\n')
    make_branch(repo, "feature", {"src/util.py": "better\n"})
    add_worktree(repo, "feature")
    locks = repo / ".git" / "wtpar" / "cache" / "locks"
    locks.mkdir(parents=True)
    with held(tmp_path, locks / "results.json.lock"):
        result = wtpar("check", "--json")
    feature = branch_of(report_of(result), "feature")
    assert feature["checks"] == [{"task": "test", "state": "passed", "detail": ""}]
    assert result.exit_code == 0
    assert "results.json: cannot write it" in result.stderr
    assert not (repo / ".git" / "wtpar" / "cache" / "results.json").exists()


def test_ctrl_c_while_check_waits_to_record_ends_the_check(repo: Path, tmp_path: Path) -> None:
    """It went on to print a verdict and exit 0, as if nothing had been pressed."""
    from fixtures.recipes import make_branch
    from tests.check_helpers import add_worktree, write_config

    write_config(repo, '[tasks.test]\ncmd = "true"\n[check]\ntasks = ["test"]\n')
    make_branch(repo, "feature", {"src/util.py": "better\n"})
    add_worktree(repo, "feature")
    locks = repo / ".git" / "wtpar" / "cache" / "locks"
    locks.mkdir(parents=True)
    err = tmp_path / "stderr"
    with (
        held(tmp_path, locks / "results.json.lock"),
        wtpar_writing_stderr("check", "feature", cwd=repo, stderr=err) as proc,
    ):
        said = "waiting for another wtpar process"
        wait_for(lambda: said in err.read_text(), 30, "the notice")
        os.kill(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 130
    assert b"ready" not in out  # no verdict


async def test_cancelling_all_in_the_dashboard_stops_the_wait_to_record(
    repo: Path, wtpar: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGHUP or SIGTERM to the dashboard cancels every run, then exits once they end: a
    run waiting for another process's cache lock held that exit for its whole wait."""
    from tests.dash_helpers import FIXED_NOW, until
    from wtpar import state
    from wtpar.services import Services
    from wtpar.tui.app import make_app

    monkeypatch.setattr(state, "QUIET_WAIT", 0.2)
    assert wtpar("spawn", "a").exit_code == 0
    locks = repo / ".git" / "wtpar" / "cache" / "locks"
    locks.mkdir(parents=True)

    def said(text: str) -> bool:
        return any(text in str(n.message) for n in app._notifications)

    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    with held(tmp_path, locks / "history.json.lock"):
        async with app.run_test(size=(140, 30)) as pilot:
            app.start_run(["a"], "true")
            await until(pilot, lambda: said("waiting for another wtpar process"), what="a wait")
            app.main.action_cancel_all()
            # Well before the 15 s the wait would otherwise last.
            await until(pilot, lambda: said("interrupted while waiting"), 8, "the wait to stop")
