"""wtpar's file locks: exclusive between processes (also against the `filelock` package on
the same files), shared and reentrant within one process, with a timeout that names the
file; and `wtpar run` no longer loads a lock library to take them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.conftest import modules_after_cli
from tests.run_helpers import spawn
from tests.test_pool import hold_in_other_process
from wtpar.errors import WtparError
from wtpar.locks import FileLock, Timeout, file_lock, locks_dir, repo_lock


def test_another_process_holding_the_file_makes_us_time_out(tmp_path: Path) -> None:
    path = str(tmp_path / "a.lock")
    other = hold_in_other_process(path)  # the filelock package, in another process
    try:
        with pytest.raises(Timeout) as raised:
            FileLock(path).acquire(blocking=False)
        assert raised.value.lock_file == path
        with pytest.raises(Timeout):
            FileLock(path).acquire(timeout=0.1)
    finally:
        assert other.stdin is not None
        other.stdin.write("\n")
        other.stdin.close()
        other.wait(timeout=30)
    lock = FileLock(path)
    lock.acquire(blocking=False)  # free again once that process let go
    assert lock.is_locked
    lock.release()
    assert not lock.is_locked


def test_within_one_process_the_lock_is_reentrant_and_shared_by_threads(tmp_path: Path) -> None:
    path = str(tmp_path / "b.lock")
    lock = file_lock(path)
    assert file_lock(path) is lock  # one lock object per file per process
    with lock, lock:
        taken = []
        worker = threading.Thread(target=lambda: taken.append(lock.acquire(blocking=False)))
        worker.start()
        worker.join()
        assert taken == [lock]  # as filelock's thread_local=False did: counted, not waited
        lock.release()
        other = FileLock(path)  # a second lock object stands for another process
        with pytest.raises(Timeout):
            other.acquire(blocking=False)
    assert not lock.is_locked
    FileLock(path).acquire(blocking=False).release()  # every acquire was given back


def test_a_held_repository_lock_is_a_one_line_error(tmp_path: Path) -> None:
    held = FileLock(str(Path(locks_dir(str(tmp_path))) / "repo.lock")).acquire()
    try:
        refused = pytest.raises(WtparError, match="held the repository lock for 0s")
        with refused, repo_lock(str(tmp_path), timeout=0.05):
            pass
    finally:
        held.release()
    with repo_lock(str(tmp_path), timeout=0.05):
        pass


def test_run_takes_its_locks_without_a_lock_library(repo: Path) -> None:
    spawn(repo, "a")
    code, printed, loaded = modules_after_cli(["run", "--output", "quiet", "--", "true"], repo)
    assert code == 0, printed
    assert "filelock" not in loaded
