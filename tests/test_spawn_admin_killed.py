"""A spawn killed or interrupted while it writes a worktree's git metadata (admin_files.py)
never leaves the repository in a state git refuses, nor a folder a later spawn refuses: git
reads every folder under `.git/worktrees/`, and an empty `commondir` there stops
`git branch`, `gc` and `fsck` in every worktree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixtures.recipes import git
from tests.test_spawn import worktree_dir
from wtpar.git import admin_files
from wtpar.model import SpawnOutcome
from wtpar.services import Services

# Runs write_worktree in a child that dies (as by SIGKILL: no clean-up) right after its
# STOP-th call of os.open, os.write, os.rename or os.replace.
_CHILD = """
import os, sys
from wtpar.git import Git
from wtpar.git.repo import discover

stop, calls = int(sys.argv[2]), [0]

def dying(real):
    def call(*args, **kwargs):
        result = real(*args, **kwargs)
        calls[0] += 1
        if calls[0] == stop:
            os._exit(9)
        return result
    return call

git = Git(discover(sys.argv[1]))
for name in ("open", "write", "rename", "replace"):
    setattr(os, name, dying(getattr(os, name)))
git.write_worktree(sys.argv[3], "killed")
"""


def _write_killed_at(repo: Path, stop: int, target: Path) -> bool:
    """Run write_worktree for TARGET in a child killed after its STOP-th call; True when
    it finished before that."""
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(repo), str(stop), str(target)],
        capture_output=True,
        text=True,
    )
    assert child.returncode in (0, 9), child.stderr
    return child.returncode == 0


def _git_ok(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)


def test_a_kill_at_any_write_leaves_git_working(repo: Path, tmp_path: Path) -> None:
    git(repo, "branch", "killed")
    target = tmp_path / "wt" / "killed"
    stop = 0
    while True:
        stop += 1
        finished = _write_killed_at(repo, stop, target)
        for args in (("branch",), ("worktree", "list", "--porcelain"), ("fsck", "--no-progress")):
            res = _git_ok(repo, *args)
            assert res.returncode == 0, (stop, args, res.stderr)
        if finished:
            break
        shutil.rmtree(repo / ".git" / "worktrees", ignore_errors=True)
        shutil.rmtree(target, ignore_errors=True)
    assert stop > 5  # it was killed after every step, and then finished
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD").strip() == "killed"


def test_ctrl_c_right_after_the_dot_git_file_leaves_the_folder_empty(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = admin_files._write

    def interrupted(path: str, text: str) -> None:
        real_write(path, text)
        if path.endswith(f"{os.sep}.git"):
            raise KeyboardInterrupt  # Ctrl-C as the write returns

    monkeypatch.setattr(admin_files, "_write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Services.from_cwd(repo).spawn(["cut"])
    assert not (worktree_dir(repo, "cut") / ".git").exists()
    assert not (repo / ".git" / "worktrees" / "cut").exists()
    monkeypatch.undo()
    again = Services.from_cwd(repo).spawn(["cut"])
    assert [r.outcome for r in again] == [SpawnOutcome.CREATED], again


def test_a_later_spawn_takes_the_folder_a_killed_writer_left(repo: Path) -> None:
    # A kill after the worktree's `.git` file but before its admin folder's `gitdir` left a
    # folder git does not know and spawn refused ("exists and is not an empty folder").
    git(repo, "branch", "killed")
    target = worktree_dir(repo, "killed")
    admin_root = repo / ".git" / "worktrees"
    stop, leftovers = 0, 0
    while True:
        stop += 1
        finished = _write_killed_at(repo, stop, target)
        if finished:
            break
        dot_git = target / ".git"
        left = dot_git.read_text().partition("gitdir: ")[2].strip() if dot_git.exists() else None
        leftovers += left is not None
        results = Services.from_cwd(repo).spawn(["killed"])
        assert [r.outcome for r in results] == [SpawnOutcome.CREATED], (stop, results)
        assert git(target, "rev-parse", "--abbrev-ref", "HEAD").strip() == "killed"
        if left:  # the half-written admin folder it named went with it
            assert not Path(left).exists() or Path(left, "gitdir").exists(), stop
        Services.from_cwd(repo).remove(["killed"])
        shutil.rmtree(admin_root, ignore_errors=True)  # half-made ones that held no .git
        shutil.rmtree(target, ignore_errors=True)
    assert leftovers > 0  # some kills did leave the `.git` file behind


def test_a_real_worktree_holding_only_its_dot_git_is_never_cleared(
    repo: Path, tmp_path: Path
) -> None:
    target = tmp_path / "bare-checkout"
    git(repo, "worktree", "add", "-q", "--no-checkout", "-b", "other", str(target))
    assert [p.name for p in target.iterdir()] == [".git"]
    assert not admin_files.clear_half_written(str(target), str(repo / ".git"))
    assert (target / ".git").exists()
    assert git(target, "rev-parse", "--abbrev-ref", "HEAD").strip() == "other"
    (target / "note").write_text("mine\n")  # and a folder with more in it is left alone
    (target / ".git").rename(tmp_path / "saved-dot-git")
    (target / ".git").write_text("")
    assert not admin_files.clear_half_written(str(target), str(repo / ".git"))
    assert (target / "note").exists() and (target / ".git").exists()


def test_prune_clears_the_admin_folders_killed_writers_left(repo: Path) -> None:
    # A writer killed before `gitdir` leaves a folder git ignores but, as it is locked
    # "initializing", never prunes; after a minute it can only be a dead writer's.
    git(repo, "branch", "killed")
    admin_root = repo / ".git" / "worktrees"
    for stop in (1, 2, 3):
        assert not _write_killed_at(repo, stop, worktree_dir(repo, f"k{stop}"))
    orphans = sorted(p.name for p in admin_root.iterdir())
    assert len(orphans) == 3
    git(repo, "worktree", "prune")
    assert sorted(p.name for p in admin_root.iterdir()) == orphans  # git keeps them
    mine = admin_root / "held"  # someone's own lock, and a folder still being written
    mine.mkdir()
    (mine / "locked").write_text("mine\n")
    old = time.time() - 2 * admin_files.ORPHAN_AGE
    for name in [*orphans, "held"]:
        os.utime(admin_root / name, (old, old))
    fresh = admin_root / "fresh"
    fresh.mkdir()
    (fresh / "locked").write_text("initializing\n")
    result = Services.from_cwd(repo).prune()
    assert not result.stale and not result.merged  # no worktree of the user's went
    assert sorted(p.name for p in admin_root.iterdir()) == ["fresh", "held"]
    spawned = Services.from_cwd(repo).spawn(["later"])  # and git is still happy
    assert [r.outcome for r in spawned] == [SpawnOutcome.CREATED]
    assert _git_ok(repo, "fsck", "--no-progress").returncode == 0
