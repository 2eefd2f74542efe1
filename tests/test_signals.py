"""Signals and kills of real `python -m wtpar` processes: SIGHUP (the terminal closed) and
SIGTERM stop a run like Ctrl-C does, with their own exit status; after a SIGKILL of wtpar,
its tasks are gone within seconds; what still runs is reported by the next command."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.conftest import run_wtpar_process
from tests.run_helpers import (
    alive,
    configure,
    kill_quietly,
    last_report,
    read_pids,
    signal_once_started,
    spawn,
    spawn_in_post_create,
    strand_task,
    wtpar_popen,
)
from wtpar.run.watchdog import Record, read_record

SLEEPER = "echo $$ > {pids}/$WTPAR_BRANCH-$WTPAR_TASK.pid; exec sleep 60"
LABELS: dict[int, str] = {
    signal.SIGINT: "Ctrl-C",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
}


def _record(repo: Path) -> Record | None:
    """The record of the run going on in `repo`, once its watchdog has started."""
    for path in (repo / ".git" / "wtpar" / "watch").glob("*.groups"):
        return read_record(str(path))
    return None


def _watched(repo: Path) -> int:
    """How many process groups the run's record names."""
    record = _record(repo)
    return len(record.groups) if record else 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_stops_the_run_like_ctrl_c(repo: Path, tmp_path: Path, sig: int) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    spawn(repo, "a", "b", "c")
    proc = wtpar_popen(
        "run",
        "-j",
        "2",
        "--output",
        "stream",
        "--",
        SLEEPER.format(pids=pids),
        cwd=repo,
        new_session=True,
    )
    two = "two tasks to start"
    out, err = signal_once_started(proc, pids, lambda p: len(p) == 2, two, sig, 128 + sig)
    assert "Traceback" not in err
    report = last_report(repo)
    assert report["interrupted"] is True and report["signal"] == signal.Signals(sig).name
    assert sorted(t["status"] for t in report["tasks"]) == ["cancelled"] * 3
    assert all(LABELS[sig] in (t["reason"] or "") for t in report["tasks"])
    if sig != signal.SIGINT:
        assert "Ctrl-C" not in out + err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_exec(repo: Path, tmp_path: Path, sig: int) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    spawn(repo, "a")
    proc = wtpar_popen("exec", "a", "--", SLEEPER.format(pids=pids), cwd=repo, new_session=True)
    signal_once_started(proc, pids, bool, "the command to start", sig, 128 + sig)


def test_sigterm_stops_the_check_tasks(repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    configure(
        repo, f'[tasks.test]\ncmd = "{SLEEPER.format(pids=pids)}"\n\n[check]\ntasks = ["test"]\n'
    )
    spawn(repo, "a")
    proc = wtpar_popen("check", cwd=repo, new_session=True)
    _, err = signal_once_started(proc, pids, bool, "the check task to start", signal.SIGTERM, 143)
    assert "Traceback" not in err


def test_sigkill_of_wtpar_leaves_no_task_behind(repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    spawn(repo, "a", "b", "c", "d")
    # Each task also starts a grandchild, which must go with its group.
    command = f"sh -c 'echo $$ > {pids}/$WTPAR_BRANCH-child.pid; exec sleep 60' & " + (
        SLEEPER.format(pids=pids).replace("exec sleep 60", "wait")
    )
    proc = wtpar_popen(
        "run", "-j", "4", "--output", "quiet", "--", command, cwd=repo, new_session=True
    )
    try:
        wait_for(lambda: len(read_pids(pids)) == 8, 30, "four tasks and their children")
        wait_for(lambda: _watched(repo) == 4, 30, "the watchdog to know the four groups")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        everyone = read_pids(pids)
        wait_for(lambda: not any(alive(p) for p in everyone), 5, "the tasks to be killed")
    finally:
        proc.kill()
        kill_quietly(read_pids(pids))
    # Nothing is left to report: the next command says nothing about it.
    listed = run_wtpar_process("list", cwd=repo)
    assert listed.returncode == 0 and "still running" not in listed.stderr


def test_tasks_left_running_are_reported_by_the_next_command(repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    spawn(repo, "a")
    watch = repo / ".git" / "wtpar" / "watch"
    proc, task = strand_task(repo, SLEEPER.format(pids=pids), pids)
    try:
        assert alive(task)
        listed = run_wtpar_process("list", cwd=repo)
        assert listed.returncode == 0
        assert f"still running: process group {task}" in listed.stderr, listed.stderr
        assert f"kill -TERM -{task}" in listed.stderr
    finally:
        proc.kill()
        kill_quietly(read_pids(pids))
    wait_for(lambda: not alive(task), 10, "the test's own clean-up")
    again = run_wtpar_process("list", cwd=repo)
    assert "still running" not in again.stderr
    assert not list(watch.glob("*.groups"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_spawn_stops_post_create(repo: Path, tmp_path: Path, sig: int) -> None:
    pidfile = tmp_path / "post_create.pid"
    proc, pid = spawn_in_post_create(repo, pidfile)
    try:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 128 + sig, out + err
        assert "Traceback" not in err
        wait_for(lambda: not alive(pid), 10, "post_create to stop")
    finally:
        proc.kill()
        with contextlib.suppress(ValueError, FileNotFoundError):
            kill_quietly([int(pidfile.read_text())])


def test_the_end_of_the_loop_never_formats_the_run_s_result() -> None:
    """asyncio.run asks for SIGINT's handler as it ends, and `signal.getsignal` formats the
    repr of that handler, which held the loop's main task and so its result: for a run of
    5000 tasks, the whole report, twice. The result is now handed over outside the task."""
    import signal as signals

    from wtpar.run.runner import run_with_signals

    formatted = []

    class Report:
        def __repr__(self) -> str:
            formatted.append(1)
            return "Report()"

    async def main() -> Report:
        return Report()

    assert signals.getsignal(signals.SIGINT) is signals.default_int_handler
    result = run_with_signals(main, lambda presses, name: None)
    assert isinstance(result, Report)
    assert formatted == []
    assert signals.getsignal(signals.SIGINT) is signals.default_int_handler
