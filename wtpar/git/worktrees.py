"""Worktrees: the list, status, operations in progress."""

from __future__ import annotations

import dataclasses
import os

from wtpar.git.base import GitBase
from wtpar.git.parse import (
    parse_status_v2,
    parse_worktree_list,
    with_rebased_branch,
    worktree_git_dir,
)
from wtpar.model import StatusCounts, Worktree

_OPERATION_MARKERS = (
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
    ("rebase-merge", "rebase"),
    ("rebase-apply", "rebase"),
)


class WorktreeCommands(GitBase):
    """Worktrees: the list, status, operations in progress."""

    # -- worktrees -----------------------------------------------------------------------

    def worktrees(self, listed: str | None = None) -> list[Worktree]:
        """Every worktree of the repository, the main one first (`listed`: the output of
        `git worktree list --porcelain -z` when it was just read, see repo.discover_listed)."""
        out = self.run("worktree", "list", "--porcelain", "-z").stdout if listed is None else listed
        found = [with_rebased_branch(wt) for wt in parse_worktree_list(out)]
        if found and found[0].path != self.paths.root and not found[0].bare:
            # A `.git` file's repository: git names its git dir (or the folder holding that,
            # when it is called `.git`) as the main worktree; discovery found the real one.
            found[0] = dataclasses.replace(found[0], path=self.paths.root)
        return found

    def status(self, path: str) -> StatusCounts | None:
        """Staged, modified and untracked counts of one worktree, without taking index.lock."""
        res = self.run(
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "-z",
            "--untracked-files=all",
            cwd=path,
            check=False,
        )
        if res.returncode != 0:
            return None
        return parse_status_v2(res.stdout)

    def operation_in_progress(self, worktree_path: str) -> str | None:
        """The merge, rebase, cherry-pick, revert or bisect under way in a worktree, if any."""
        gitdir = worktree_git_dir(worktree_path)
        if gitdir is None:
            return None
        for marker, name in _OPERATION_MARKERS:
            if os.path.exists(os.path.join(gitdir, marker)):
                return name
        return None
