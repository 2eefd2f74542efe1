"""Before and after a land: refusing a base checked out with changes, and `--cleanup`
(remove the landed branches' worktrees through `remove`'s checks, delete the branches)."""

from __future__ import annotations

from collections.abc import Sequence

from wtpar.errors import WtparError
from wtpar.git import Git
from wtpar.locks import repo_lock
from wtpar.model import StatusCounts
from wtpar.worktrees import WorktreeManager


def has_changes(counts: StatusCounts) -> bool:
    """Changes a fast-forward of the checked-out base would run over (untracked files are
    not: `read-tree -u` refuses to overwrite them)."""
    return bool(counts.staged or counts.modified or counts.conflicted)


def refuse_dirty_base(git: Git, manager: WorktreeManager, base: str) -> None:
    """Raise when BASE is checked out in a worktree with changes: landing would move the
    branch under them."""
    for wt in manager.worktrees():
        if wt.branch != base:
            continue
        counts = git.status(wt.path)
        if counts is None:
            raise WtparError(
                f"{base} is checked out in {wt.path}, whose status git will not give"
                " (`git status` there says why); landing would move it under whatever"
                " changes it has"
            )
        if has_changes(counts):
            raise WtparError(
                f"{base} is checked out in {wt.path} with uncommitted changes "
                f"({counts.words()}); landing would move it under them: commit or stash first"
            )


def clean_landed(
    git: Git, manager: WorktreeManager, branches: Sequence[str], base: str
) -> tuple[tuple[str, str], ...]:
    """Remove the landed branches' worktrees (refused as `remove` refuses) and delete the
    branches now integrated into BASE; per branch, what was done or why not."""
    have = {wt.branch for wt in manager.worktrees() if wt.branch}
    done: list[tuple[str, str]] = []
    for branch in branches:
        if branch in have:
            removed = manager.remove([branch])[0]
            if not removed.removed:
                done.append((branch, f"worktree kept: {removed.error}"))
                continue
        if not git.is_integrated(branch, base):
            done.append((branch, f"branch kept: not integrated into {base}"))
            continue
        with repo_lock(git.paths.wtpar_dir):
            git.delete_branch(branch)
        what = "worktree removed, branch deleted" if branch in have else "branch deleted"
        done.append((branch, what))
    return tuple(done)
