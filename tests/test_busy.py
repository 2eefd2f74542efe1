"""The per-worktree busy records: seen across processes and within one, gone with their owner."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from fixtures.waiting import wait_for
from tests.conftest import ROOT
from wtpar import busy, busy_stop
from wtpar.procs import group_alive, pid_alive


def test_a_record_is_seen_in_the_same_process_and_released_after(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    assert busy.running_tasks(wtpar_dir, worktree) == []
    with busy.running_in(wtpar_dir, worktree, "test") as record:
        record.started(4242)
        with busy.running_in(wtpar_dir, worktree, "lint"):
            seen = busy.running_tasks(wtpar_dir, worktree)
            assert sorted((t.task, t.pid) for t in seen) == [("lint", os.getpid()), ("test", 4242)]
        assert [t.describe() for t in busy.running_tasks(wtpar_dir, worktree)] == [
            "task test is running in it (pid 4242)"
        ]
        assert busy.running_tasks(wtpar_dir, str(tmp_path / "other")) == []
    assert busy.running_tasks(wtpar_dir, worktree) == []


@contextlib.contextmanager
def _holder(tmp_path: Path, hold: str) -> Iterator[subprocess.Popen[bytes]]:
    """A Python process that runs `hold` (with `busy`, `wtpar_dir` and `worktree`), says so
    and waits; SIGKILLed when the block ends."""
    ready = tmp_path / "ready"
    code = (
        "import sys, time\n"
        "from wtpar import busy\n"
        "wtpar_dir, worktree = sys.argv[1], sys.argv[2]\n"
        f"{hold}\n"
        "open(sys.argv[3], 'w').close()\n"
        "time.sleep(600)\n"  # wait-ok: a holder the test kills
    )
    argv = [sys.executable, "-c", code, str(tmp_path / "wtpar"), str(tmp_path / "wt"), str(ready)]
    proc = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(ready.exists, 30, "the holder to be ready")
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def test_the_record_of_a_killed_process_is_stale(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    hold = "held = busy.running_in(wtpar_dir, worktree, 'build')\nheld.__enter__()"
    with _holder(tmp_path, hold) as proc:
        [task] = busy.running_tasks(wtpar_dir, worktree)
        assert (task.task, task.owner_pid) == ("build", proc.pid)
    assert busy.running_tasks(wtpar_dir, worktree) == []
    assert not [n for n in os.listdir(busy.busy_dir(wtpar_dir, worktree)) if n.endswith(".json")]


def test_a_task_registering_during_a_removal_waits_then_succeeds(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    folder = busy.busy_dir(wtpar_dir, worktree)
    errors: list[BaseException] = []
    registered = threading.Event()

    def register() -> None:
        try:
            with busy.running_in(wtpar_dir, worktree, "late"):
                registered.set()
        except BaseException as exc:  # any failure is the test's finding
            errors.append(exc)

    thread = threading.Thread(target=register)
    with busy.no_new_tasks(wtpar_dir, worktree):
        thread.start()
        wait_for(lambda: any(n.endswith(".tmp") for n in os.listdir(folder)), 10, "a record")
        assert busy.running_tasks(wtpar_dir, worktree) == []
        assert not registered.is_set()
    thread.join(10)
    assert errors == [] and registered.is_set()
    assert busy.running_tasks(wtpar_dir, worktree) == []


def _records(wtpar_dir: str, worktree: str) -> list[str]:
    return sorted(n for n in os.listdir(busy.busy_dir(wtpar_dir, worktree)) if n.endswith(".json"))


def test_a_run_reuses_one_record_per_worktree_and_an_idle_one_is_not_busy(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    registrar = busy.Registrar(wtpar_dir)
    seen: list[list[str]] = []
    for task in ("build", "test", "lint"):
        with registrar.running_in(worktree, task) as record:
            record.started(4242)
            assert [(t.task, t.pid) for t in busy.running_tasks(wtpar_dir, worktree)] == [
                (task, 4242)
            ]
            seen.append(_records(wtpar_dir, worktree))
        # Between tasks the record stays, locked by this process, and says nothing runs.
        assert busy.running_tasks(wtpar_dir, worktree) == []
        assert _records(wtpar_dir, worktree) == seen[-1]
    assert seen[0] == seen[1] == seen[2] and len(seen[0]) == 1  # one file for three tasks
    registrar.close()
    assert _records(wtpar_dir, worktree) == []


def test_a_reused_record_deleted_by_hand_is_made_again(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    registrar = busy.Registrar(wtpar_dir)
    with registrar.running_in(worktree, "build"):
        pass
    [name] = _records(wtpar_dir, worktree)
    os.unlink(os.path.join(busy.busy_dir(wtpar_dir, worktree), name))
    with registrar.running_in(worktree, "test"):
        [task] = busy.running_tasks(wtpar_dir, worktree)
        assert task.task == "test" and _records(wtpar_dir, worktree) != [name]
    registrar.close()


def test_the_idle_records_of_a_killed_run_are_stale(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    hold = "with busy.Registrar(wtpar_dir).running_in(worktree, 'build'):\n    pass"
    with _holder(tmp_path, hold):
        assert len(_records(wtpar_dir, worktree)) == 1
        assert busy.running_tasks(wtpar_dir, worktree) == []
    assert busy.running_tasks(wtpar_dir, worktree) == []
    assert _records(wtpar_dir, worktree) == []


def test_a_record_that_a_task_s_leftover_process_holds_is_not_reused(tmp_path: Path) -> None:
    """A process that outlives its task (a daemon started with setsid) keeps the record's
    descriptor it inherited. Handed to the run's next task, the record would stay locked,
    naming that task, after wtpar and the task are gone: `remove` refused, even --force."""
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    daemon_pid = tmp_path / "daemon.pid"
    sleeper = "import time; time.sleep(600)"  # wait-ok: a daemon the test kills
    hold = (
        "import os, subprocess\n"
        "registrar = busy.Registrar(wtpar_dir)\n"
        "with registrar.running_in(worktree, 'build') as record:\n"
        f"    daemon = subprocess.Popen([sys.executable, '-c', {sleeper!r}],\n"
        "                              pass_fds=(record.fd,), start_new_session=True)\n"
        f"    open({str(daemon_pid)!r}, 'w').write(str(daemon.pid))\n"
        "registrar.running_in(worktree, 'test').__enter__().started(os.getpid())\n"
    )
    try:
        with _holder(tmp_path, hold):
            assert [t.task for t in busy.running_tasks(wtpar_dir, worktree)] == ["test"]
        # The run is killed: its task `test` is not running, whatever `build` left behind.
        assert busy.running_tasks(wtpar_dir, worktree) == []
    finally:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            os.kill(int(daemon_pid.read_text()), signal.SIGKILL)


def test_remove_force_stops_what_a_killed_run_s_task_left_outside_its_group(
    tmp_path: Path,
) -> None:
    """wtpar is SIGKILLed while its task runs; the task had moved a process out of its group
    (a daemon started with setsid; `timeout` does the same), which inherited the record's
    descriptor. The worktree stays busy once the task's group is gone: that process may be
    the task's work. `remove --force` finds it by the descriptor and stops it."""
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    daemon_pid, task_pid = tmp_path / "daemon.pid", tmp_path / "task.pid"
    task = f"setsid sleep 600 </dev/null >/dev/null 2>&1 & echo $! > {daemon_pid}; exec sleep 600"
    hold = (
        "import os, subprocess\n"
        "held = busy.running_in(wtpar_dir, worktree, 'build')\n"
        "record = held.__enter__()\n"
        f"task = subprocess.Popen(['sh', '-c', {task!r}], pass_fds=(record.fd,),\n"
        "                        start_new_session=True)\n"
        "record.started(task.pid)\n"
        f"open({str(task_pid)!r}, 'w').write(str(task.pid))\n"
    )
    try:
        with _holder(tmp_path, hold):
            wait_for(daemon_pid.exists, 30, "the daemon to start")
        pgid = int(task_pid.read_text())
        os.killpg(pgid, signal.SIGKILL)  # as the watchdog does
        wait_for(lambda: not group_alive(pgid), 30, "the task's group to be gone")
        # wtpar and the task's group are gone; what the task moved out still runs: busy.
        assert [t.task for t in busy.running_tasks(wtpar_dir, worktree)] == ["build"]
        daemon = int(daemon_pid.read_text())
        records = Path(busy.busy_dir(wtpar_dir, worktree)).glob("*.json")
        assert busy_stop.holders(str(p) for p in records) == {daemon}
        [stopped] = busy_stop.stop_tasks(wtpar_dir, worktree, grace=5)
        assert stopped.task == "build"
        assert busy.running_tasks(wtpar_dir, worktree) == []
        wait_for(lambda: not pid_alive(daemon), 30, "the daemon to be stopped")
    finally:
        for pid_file in (daemon_pid, task_pid):
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)


def _foreign_record(wtpar_dir: str, worktree: str, owner_pid: int, pid: int) -> str:
    """A record another machine's wtpar wrote in the worktree's folder; holder code that
    keeps it locked, as that wtpar would."""
    folder = busy.busy_dir(wtpar_dir, worktree)
    os.makedirs(folder, exist_ok=True)
    record = os.path.join(folder, "remote-1.json")
    fields = {"task": "t", "kind": "task", "host": "another-machine", "started": 1.0}
    Path(record).write_text(json.dumps({**fields, "owner_pid": owner_pid, "pid": pid}))
    locking = "fcntl.flock(fd, fcntl.LOCK_EX)"
    return f"import fcntl, os\nfd = os.open({record!r}, os.O_RDONLY)\n{locking}"


def test_a_held_record_from_another_machine_stays_busy(tmp_path: Path) -> None:
    """On a folder shared by several machines, a record's pids are its machine's: that they
    are not running here says nothing, so a held record of another host stays busy."""
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that runs nothing here
    with _holder(tmp_path, _foreign_record(wtpar_dir, worktree, gone.pid, gone.pid)):
        assert [t.task for t in busy.running_tasks(wtpar_dir, worktree)] == ["t"]


def test_remove_force_never_signals_another_machine_s_process_group(tmp_path: Path) -> None:
    """The group id in another host's record may be a different process group here."""
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    here = subprocess.Popen(["sleep", "600"], start_new_session=True)  # a group of this host
    try:
        with _holder(tmp_path, _foreign_record(wtpar_dir, worktree, 1, here.pid)):
            assert busy_stop.stop_tasks(wtpar_dir, worktree, grace=0.1) == []
            assert here.poll() is None  # not signalled
    finally:
        here.kill()
        here.wait()
