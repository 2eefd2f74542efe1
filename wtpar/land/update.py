"""`wtpar update`: bring branches up to date with their base in their own worktrees, in
parallel, by rebase or merge. A branch that conflicts goes back exactly where it was (the
rebase or merge is aborted) and is reported with the conflicting files; a worktree with
changes (hidden ones too: assume-unchanged, skip-worktree) is skipped. No worktree is ever
left mid-rebase."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wtpar.git import Git
from wtpar.model import Worktree
from wtpar.procs import workers
from wtpar.worktrees.safety import hidden_change_loss


class UpdateOutcome(enum.Enum):
    """What `update` did to one branch."""

    UPDATED = "updated"
    UP_TO_DATE = "up to date"
    CONFLICT = "conflict"  # aborted: the branch is exactly where it was
    SKIPPED = "skipped"  # not touched (uncommitted or hidden changes, an operation under way)
    FAILED = "failed"  # git refused for another reason; the branch is where it was


@dataclass(frozen=True)
class UpdateResult:
    """One branch's update."""

    branch: str
    outcome: UpdateOutcome
    before: str | None
    after: str | None
    files: tuple[str, ...] = ()
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the branch is now up to date with the base."""
        return self.outcome in (UpdateOutcome.UPDATED, UpdateOutcome.UP_TO_DATE)


def update_branches(
    git: Git, base: str, worktrees: Sequence[Worktree], merge: bool = False
) -> list[UpdateResult]:
    """Rebase (or merge) each worktree's branch onto BASE, all at once; results in order."""
    base_sha = git.resolve_commit(base)
    if base_sha is None:
        from wtpar.errors import UsageError

        raise UsageError(f"base {base!r} is not a commit")

    def one(wt: Worktree) -> UpdateResult:
        return _update_one(git, base, base_sha, wt, merge)

    pool = ThreadPoolExecutor(workers(len(worktrees)))
    try:
        return list(pool.map(one, worktrees))
    except KeyboardInterrupt:
        # Ctrl-C: the updates under way finish (or are put back: their git is out of the
        # signal's reach), none starts; then the interrupt goes on.
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        pool.shutdown(wait=True)


def _update_one(git: Git, base: str, base_sha: str, wt: Worktree, merge: bool) -> UpdateResult:
    branch = wt.branch or wt.path
    before = git.resolve_commit(f"refs/heads/{wt.branch}") if wt.branch else wt.head
    counts = git.status(wt.path)
    if counts is None:
        return UpdateResult(branch, UpdateOutcome.SKIPPED, before, before, detail=_NO_STATUS)
    if counts.dirty:
        detail = f"uncommitted changes ({counts.words()}): commit or stash them first"
        return UpdateResult(branch, UpdateOutcome.SKIPPED, before, before, detail=detail)
    hidden = hidden_change_loss(git, wt.path)  # changes `git status` does not show
    if hidden:
        detail = f"{hidden}: unmark (`git update-index --no-assume-unchanged` or "
        detail += "`--no-skip-worktree`), then commit or stash first"
        return UpdateResult(branch, UpdateOutcome.SKIPPED, before, before, detail=detail)
    operation = git.operation_in_progress(wt.path)
    if operation:
        detail = f"a {operation} is in progress in {wt.path}; finish or abort it first"
        return UpdateResult(branch, UpdateOutcome.SKIPPED, before, before, detail=detail)
    if before is None or git.is_ancestor(base_sha, before):
        return UpdateResult(branch, UpdateOutcome.UP_TO_DATE, before, before)
    res = git.start_update(wt.path, base, merge)
    if res.returncode == 0 and git.operation_in_progress(wt.path) is None:
        return UpdateResult(branch, UpdateOutcome.UPDATED, before, _head(git, wt))
    files = tuple(git.conflicted_files(wt.path))
    git.abort_update(wt.path, merge)
    if _head(git, wt) != before or git.operation_in_progress(wt.path) is not None:
        git.reset_hard(wt.path, before)  # the worktree was clean: nothing of the user's is lost
    lines = (res.stderr + res.stdout).strip().splitlines()
    if files:
        return UpdateResult(branch, UpdateOutcome.CONFLICT, before, before, files)
    detail = lines[-1] if lines else f"git exited with {res.returncode}"
    return UpdateResult(branch, UpdateOutcome.FAILED, before, before, detail=detail)


_NO_STATUS = "cannot read its status"


def _head(git: Git, wt: Worktree) -> str | None:
    return git.resolve_commit(f"refs/heads/{wt.branch}") if wt.branch else None
