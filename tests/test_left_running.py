"""What a killed wtpar leaves running in a worktree keeps it busy: `remove` refuses it (naming
the process), `remove --force` stops it first. Real processes, real SIGKILLs."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

from fixtures.waiting import wait_for
from tests.conftest import run_wtpar_process
from tests.run_helpers import (
    alive,
    kill_quietly,
    read_pids,
    spawn,
    spawn_in_post_create,
    strand_task,
)


def _refused_then_forced(repo: Path, branch: str, pid: int, what: str) -> None:
    worktree = repo.parent / f"{repo.name}.worktrees" / branch
    refused = run_wtpar_process("remove", branch, cwd=repo)
    assert refused.returncode != 0, refused.stdout + refused.stderr
    assert f"{what} is running in it (pid {pid})" in refused.stdout + refused.stderr
    assert worktree.is_dir() and alive(pid)
    forced = run_wtpar_process("remove", "--force", branch, cwd=repo)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    assert f"stopped {what} (pid {pid})" in forced.stdout
    assert not worktree.exists()
    wait_for(lambda: not alive(pid), 10, "the process to be stopped by remove --force")


def test_a_post_create_hook_left_by_a_killed_spawn_keeps_its_worktree(
    repo: Path, tmp_path: Path
) -> None:
    pidfile = tmp_path / "hook.pid"
    proc, pid = spawn_in_post_create(repo, pidfile)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert alive(pid)
        _refused_then_forced(repo, "x", pid, "hook post_create")
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
    proc, task = strand_task(repo, sleeper, pids)
    try:
        assert alive(task)
        _refused_then_forced(repo, "a", task, "task cmd")
    finally:
        proc.kill()
        kill_quietly(read_pids(pids))
