"""Removing and pruning worktrees without losing work: the refusals, the detaching under
the repository lock, and the deletion of branches that are integrated."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from wtpar.errors import UsageError
from wtpar.git import worktree_git_dir
from wtpar.locks import repo_lock
from wtpar.model import PruneResult, RemoveResult, Worktree
from wtpar.text import plural
from wtpar.worktrees.trash import move_to_trash, sweep_trash

if TYPE_CHECKING:
    from wtpar.worktrees.manager import WorktreeManager


class Remover:
    """Removes and prunes the worktrees of one manager's repository."""

    def __init__(self, manager: WorktreeManager) -> None:
        self.paths = manager.paths
        self.git = manager.git
        self.state = manager.state
        self.find = manager.find
        self.worktrees = manager.worktrees
        self.base_ref = manager.base_ref

    def remove(
        self, branches: Sequence[str], force: bool = False, delete_branch: bool = False
    ) -> list[RemoveResult]:
        """Remove worktrees, refusing any that would lose work unless `force`."""
        targets = [(b, self.find(b)) for b in dict.fromkeys(branches)]
        results: list[RemoveResult] = []
        base = self.base_ref() if delete_branch else None
        for branch, wt in targets:
            refusal = self.removal_refusal(wt, force)
            if refusal:
                results.append(RemoveResult(branch, False, wt.path, error=refusal))
                continue
            with repo_lock(self.paths.wtpar_dir):
                self._detach_worktree(wt)
                result = RemoveResult(branch, True, wt.path)
                if delete_branch and wt.branch and base:
                    result = self._delete_branch_if_integrated(result, wt.branch, base)
            results.append(result)
        removed = [r.branch for r in results if r.removed]
        if removed:
            self.state.drop(removed)
        sweep_trash(self.paths.wtpar_dir)
        return results

    def removal_refusal(self, wt: Worktree, force: bool) -> str | None:
        """Why this worktree must not be removed (None when it may)."""
        if wt.is_main:
            return "the main worktree is never removed"
        if wt.locked:
            reason = f" ({wt.locked_reason})" if wt.locked_reason else ""
            return f"worktree is locked{reason}; unlock it with `git worktree unlock {wt.path}`"
        if force or wt.prunable:
            return None
        lost: list[str] = []
        counts = self.git.status(wt.path)
        if counts is None:
            return f"cannot read the status of {wt.path}; use --force to remove it anyway"
        if counts.dirty:
            lost.append("uncommitted changes: " + counts.words())
        if wt.head:
            unique = self.git.unique_commits(wt.head, wt.branch)
            if unique and not self._integrated(wt.head):
                lost.append(f"{plural(unique, 'commit')} on no other branch or remote")
        if lost:
            return "would lose " + "; ".join(lost) + " (use --force to remove anyway)"
        return None

    def _integrated(self, commit: str) -> bool:
        # Squash-merged work has unique commits, yet nothing is lost by removing it.
        try:
            base = self.base_ref()
        except UsageError:
            return False
        return self.git.resolve_commit(base) is not None and self.git.is_integrated(commit, base)

    def _detach_worktree(self, wt: Worktree) -> None:
        gitdir = worktree_git_dir(wt.path) if os.path.exists(wt.path) else None
        if os.path.exists(wt.path):
            move_to_trash(self.paths.wtpar_dir, wt.path)
        if gitdir and os.path.isdir(gitdir) and os.path.dirname(gitdir).endswith("worktrees"):
            shutil.rmtree(gitdir, ignore_errors=True)
        else:
            self.git.run("worktree", "prune")

    def _delete_branch_if_integrated(
        self, result: RemoveResult, branch: str, base: str
    ) -> RemoveResult:
        if branch == base or self.git.resolve_commit(base) is None:
            return replace(result, message=f"kept branch {branch}: base {base!r} is not usable")
        if not self.git.is_integrated(branch, base):
            return replace(result, message=f"kept branch {branch}: not integrated into {base}")
        self.git.run("branch", "-D", "--quiet", branch)
        return replace(result, branch_deleted=True, message=f"deleted branch {branch}")

    # -- prune ---------------------------------------------------------------------------

    def prune(self, merged: bool = False, dry_run: bool = False) -> PruneResult:
        """Forget worktrees whose folder is gone; with `merged`, remove clean integrated ones."""
        wts = self.worktrees()
        stale = tuple(wt.path for wt in wts if wt.prunable)
        merged_paths: list[str] = []
        kept: list[tuple[str, str]] = []
        if merged:
            base = self.base_ref()
            for wt in wts:
                if wt.is_main or wt.prunable or not wt.branch or wt.branch == base:
                    continue
                if not self.git.is_integrated(wt.branch, base):
                    continue
                refusal = self.removal_refusal(wt, force=False)
                if refusal:
                    kept.append((wt.branch, refusal))
                    continue
                merged_paths.append(wt.branch)
        if not dry_run:
            if stale:
                with repo_lock(self.paths.wtpar_dir):
                    self.git.run("worktree", "prune")
            if merged_paths:
                self.remove_integrated(merged_paths)
            sweep_trash(self.paths.wtpar_dir)
        return PruneResult(stale, tuple(merged_paths), tuple(kept), dry_run)

    def remove_integrated(self, branches: Iterable[str]) -> None:
        """Remove worktrees already judged clean and integrated."""
        names = list(branches)
        with repo_lock(self.paths.wtpar_dir):
            for branch in names:
                self._detach_worktree(self.find(branch))
        self.state.drop(names)
