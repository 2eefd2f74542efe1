"""What a killed wtpar leaves running in a worktree keeps it busy: `remove` refuses it (naming
the process), `remove --force` stops it first. Real processes, real SIGKILLs."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

from tests.conftest import run_wtpar_process, wait_for
from tests.run_helpers import alive, configure, kill_quietly, read_pids, spawn, wtpar_popen
from wtpar.run.watchdog import read_record


def _refused_then_forced(repo: Path, branch: str, pid: int, what: str) -> None:
    worktree = repo.parent / f"{repo.name}.worktrees" / branch
    refused = run_wtpar_process("remove", branch, cwd=repo)
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert f"{what} is running in it (pid {pid})" in refused.stdout + refused.stderr
    assert worktree.is_dir() and alive(pid)
    forced = run_wtpar_process("remove", "--force", branch, cwd=repo)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert not worktree.exists()
    wait_for(lambda: not alive(pid), 10, "the process to be stopped by remove --force")


def test_a_post_create_hook_left_by_a_killed_spawn_keeps_its_worktree(
    repo: Path, tmp_path: Path
) -> None:
    pidfile = tmp_path / "hook.pid"
    configure(repo, f"[worktrees]\npost_create = ['echo $$ > {pidfile}; exec sleep 300']\n")
    proc = wtpar_popen("spawn", "a", cwd=repo, new_session=True)
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 30, "post_create")
        pid = int(pidfile.read_text())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert alive(pid)
        _refused_then_forced(repo, "a", pid, "hook post_create")
    finally:
        proc.kill()
        with contextlib.suppress(ValueError, FileNotFoundError):
            kill_quietly([int(pidfile.read_text())])


def test_a_task_left_by_a_killed_run_and_watchdog_keeps_its_worktree(
    repo: Path, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    spawn(repo, "a")
    sleeper = f"echo $$ > {pids}/$WTPAR_BRANCH.pid; exec sleep 300"
    proc = wtpar_popen("run", "-b", "a", "--output", "quiet", "--", sleeper, cwd=repo)
    watch = repo / ".git" / "wtpar" / "watch"

    def record_groups() -> int:
        records = [read_record(str(p)) for p in watch.glob("*.groups")]
        return sum(len(r.groups) for r in records if r is not None)

    try:
        wait_for(lambda: read_pids(pids), 30, "the task to start")
        wait_for(lambda: record_groups() == 1, 10, "the run's watchdog record")
        (record,) = [read_record(str(p)) for p in watch.glob("*.groups")]
        assert record is not None
        os.kill(record.watchdog, signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        (task,) = read_pids(pids)
        assert alive(task)
        _refused_then_forced(repo, "a", task, "task cmd")
    finally:
        proc.kill()
        kill_quietly(read_pids(pids))
