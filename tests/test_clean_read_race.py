"""A worktree's cleanliness is read while its tasks run (cleanliness.py); a worktree that was
dirty when the run began and clean when read (a task, or its user, committed the work) must
not have its results recorded for the commit it started from: that tree was never tested."""

from __future__ import annotations

from pathlib import Path

from fixtures.recipes import git
from tests.conftest import Invoke
from tests.run_helpers import configure, spawn


def test_work_committed_by_a_task_is_not_recorded_for_the_commit_before(
    wtpar: Invoke, repo: Path
) -> None:
    # t passes only with the work in progress, then commits it. The lock makes the second
    # worktree's task wait for the first one's end, so the reads (started by the first
    # task's end, not by a wave of starts) come after the first worktree was committed.
    wip = "grep -q work-in-progress README.md && git commit -qam wip"
    configure(repo, f'[tasks.t]\ncmd = "{wip}"\nlocks = ["one-at-a-time"]\n')
    paths = spawn(repo, "a", "b")
    for path in paths.values():
        (path / "README.md").write_text("work-in-progress\n")
    assert wtpar("run", "t", "-j", "2").exit_code == 0
    for path in paths.values():
        assert git(path, "status", "--porcelain") == ""  # both committed their work
    # main is still at the commit a and b started from: t fails there, it never passed.
    again = wtpar("run", "t", "--changed", "-b", "main")
    assert "unchanged" not in again.output
    assert again.exit_code == 1, again.output
