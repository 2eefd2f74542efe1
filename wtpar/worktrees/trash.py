"""Removed worktrees go to a trash folder first (a rename, instant) and are deleted by a
detached process, so removing a large worktree returns at once."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time

from wtpar.git import Git, worktree_git_dir


def move_to_trash(wtpar_dir: str, path: str) -> None:
    """Rename `path` into the trash and delete it in the background."""
    trash = os.path.join(wtpar_dir, "trash")
    os.makedirs(trash, exist_ok=True)
    dest = os.path.join(trash, f"{os.path.basename(path)}-{time.time_ns()}")
    try:
        os.rename(path, dest)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        # Another filesystem: a trash folder beside the worktree keeps the move a rename.
        local = os.path.join(os.path.dirname(path), ".wtpar-trash")
        os.makedirs(local, exist_ok=True)
        dest = os.path.join(local, f"{os.path.basename(path)}-{time.time_ns()}")
        os.rename(path, dest)
    delete_in_background(dest)


def detach_worktree(git: Git, wtpar_dir: str, path: str) -> None:
    """Move a worktree's folder to the trash and drop git's metadata of it (the caller
    holds the repository lock and has decided nothing is lost)."""
    gitdir = worktree_git_dir(path) if os.path.exists(path) else None
    if os.path.exists(path):
        move_to_trash(wtpar_dir, path)
    if gitdir and os.path.isdir(gitdir) and os.path.dirname(gitdir).endswith("worktrees"):
        shutil.rmtree(gitdir, ignore_errors=True)
    else:
        git.prune_worktrees()


def sweep_trash(wtpar_dir: str) -> None:
    """Delete, in the background, trash left by earlier removals."""
    trash = os.path.join(wtpar_dir, "trash")
    if os.path.isdir(trash) and os.listdir(trash):
        delete_in_background(trash, keep_root=True)


def delete_in_background(path: str, keep_root: bool = False) -> None:
    """Delete `path` in a detached process, so that removing a large worktree returns at once."""
    code = (
        "import os, shutil, sys\n"
        "p, keep = sys.argv[1], sys.argv[2] == '1'\n"
        "targets = [os.path.join(p, n) for n in os.listdir(p)] if keep else [p]\n"
        "for t in targets:\n"
        "    shutil.rmtree(t, ignore_errors=True)\n"
    )
    subprocess.Popen(
        [sys.executable, "-c", code, path, "1" if keep_root else "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
