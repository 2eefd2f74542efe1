"""wtpar's file locks: exclusive between processes, shared and reentrant within one process,
with a timeout that names the file; and a run that takes no named lock does not load the
lock library."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from tests.run_helpers import make_dispatcher, spawn
from tests.test_pool import hold_in_other_process
from tests.test_startup_run import run_noting_first_start
from wtpar.errors import WtparError
from wtpar.locks import file_lock, locks_dir, repo_lock, try_lock
from wtpar.run.plan import RunRequest


def test_a_lock_another_process_holds_is_refused_until_it_lets_go(tmp_path: Path) -> None:
    path = str(tmp_path / "a.lock")
    other = hold_in_other_process(path)
    try:
        assert not try_lock(path)
        assert not file_lock(path).is_locked
    finally:
        assert other.stdin is not None
        other.stdin.write("\n")
        other.stdin.close()
        other.wait(timeout=30)
    assert try_lock(path)  # free again once that process let go
    assert file_lock(path).is_locked
    file_lock(path).release()
    assert not file_lock(path).is_locked


def test_within_one_process_the_lock_is_reentrant_and_shared_by_threads(tmp_path: Path) -> None:
    path = str(tmp_path / "b.lock")
    lock = file_lock(path)
    assert file_lock(path) is lock  # one lock object per file per process
    with lock, lock:
        taken = []
        worker = threading.Thread(target=lambda: taken.append(lock.acquire(blocking=False).lock))
        worker.start()
        worker.join()
        assert taken == [lock]  # thread_local=False: counted, not waited
        lock.release()
        other = FileLock(path)  # a second lock object stands for another process
        with pytest.raises(Timeout):
            other.acquire(blocking=False)
    assert not lock.is_locked
    other.acquire(blocking=False)  # every acquire was given back
    other.release()


def test_a_held_repository_lock_is_a_one_line_error(tmp_path: Path) -> None:
    held = FileLock(str(Path(locks_dir(str(tmp_path))) / "repo.lock"))
    held.acquire()
    try:
        refused = pytest.raises(WtparError, match="held the repository lock for 0s")
        with refused, repo_lock(str(tmp_path), timeout=0.05):
            pass
    finally:
        held.release()
    with repo_lock(str(tmp_path), timeout=0.05):
        pass


def test_a_run_loads_the_lock_library_only_after_its_tasks_started(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Importing filelock costs about 10 ms: not in front of the first task.
    spawn(repo, "a", "b")
    for name in [m for m in sys.modules if m == "filelock" or m.startswith("filelock.")]:
        monkeypatch.delitem(sys.modules, name)
    dispatcher = make_dispatcher(repo, RunRequest(command="true", jobs=2))
    loaded_at_start, _ = run_noting_first_start(dispatcher, lambda: "filelock" in sys.modules)
    assert not loaded_at_start
    assert "filelock" in sys.modules  # the results were recorded under its lock


def test_waiting_for_the_repository_lock_is_said(repo: Path, tmp_path: Path) -> None:
    """`spawn` waiting for another process's repository lock says so after a moment (it
    waited without a word), and goes on once the lock is free."""
    import os
    import subprocess

    from fixtures.waiting import wait_for
    from tests.conftest import ROOT
    from wtpar.locks import locks_dir

    lock = os.path.join(locks_dir(str(repo / ".git" / "wtpar")), "repo.lock")
    holder = hold_in_other_process(lock)
    err = tmp_path / "stderr"
    try:
        with open(err, "w") as err_file:
            spawning = subprocess.Popen(
                [sys.executable, "-m", "wtpar", "spawn", "waiting"],
                cwd=repo,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        said = "waiting for another wtpar process to finish changing the repository"
        wait_for(lambda: said in err.read_text(), 30, "spawn to say it waits")
        assert spawning.poll() is None
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait()
    assert spawning.wait(timeout=60) == 0
    assert (repo.parent / f"{repo.name}.worktrees" / "waiting").is_dir()
