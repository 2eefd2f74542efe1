"""Removing and pruning worktrees without losing work: the refusals, the detaching under
the repository lock, and the deletion of branches that are integrated. What would be lost
beyond `git status` (running tasks, hidden changes, submodule commits) is found by safety.py."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from wtpar import busy, busy_stop
from wtpar.errors import UsageError
from wtpar.git.admin_files import clear_orphan_admin_dirs
from wtpar.locks import file_lock, lock_file_name, locks_dir, repo_lock
from wtpar.model import IgnoredFiles, PruneResult, RemoveResult, Worktree
from wtpar.text import plural, shell_word
from wtpar.worktrees.leases import LeaseStore, lease_refusal
from wtpar.worktrees.lifecycle import (
    pre_remove_refusal,
    release_missing,
    release_worktrees,
    stop_worktree_services,
)
from wtpar.worktrees.safety import (
    hidden_change_loss,
    ignored_files,
    operation_loss,
    running_task_losses,
    submodule_losses,
    worktree_ref_losses,
)
from wtpar.worktrees.trash import detach_worktree, sweep_trash

if TYPE_CHECKING:
    from wtpar.worktrees.manager import WorktreeManager


class Remover:
    """Removes and prunes the worktrees of one manager's repository."""

    def __init__(self, manager: WorktreeManager) -> None:
        self.paths = manager.paths
        self.config = manager.config
        self.git = manager.git
        self.state = manager.state
        self.find_all = manager.find_all
        self.worktrees = manager.worktrees
        self.base_ref = manager.base_ref

    def remove(
        self, branches: Sequence[str], force: bool = False, delete_branch: bool = False
    ) -> list[RemoveResult]:
        """Remove worktrees, refusing any that would lose work unless `force` (which first
        stops the tasks running in them)."""
        names = list(dict.fromkeys(branches))
        targets = list(zip(names, self.find_all(names), strict=True))
        for branch, wt in targets:
            if wt.is_main:
                raise UsageError(
                    f"{branch!r} is the main worktree: the main worktree is never removed"
                )
        with self._removing(wt.path for _, wt in targets):
            # Another `remove` of the same worktree may have finished while we waited.
            again = list(zip(names, self.find_all(names), strict=True))
            return self._remove(again, force, delete_branch)

    @contextlib.contextmanager
    def _removing(self, paths: Iterable[str]) -> Iterator[None]:
        """Hold a lock per worktree being removed (in path order: no deadlock), so that two
        removes of one worktree take turns instead of reading it as it vanishes."""
        folder = locks_dir(self.paths.wtpar_dir)
        with contextlib.ExitStack() as stack:
            for path in sorted(set(paths)):
                stack.enter_context(
                    file_lock(os.path.join(folder, "remove-" + lock_file_name(path)))
                )
            yield

    def _remove(
        self, targets: list[tuple[str, Worktree]], force: bool, delete_branch: bool
    ) -> list[RemoveResult]:
        results: list[RemoveResult] = []
        base = self.base_ref() if delete_branch else None
        for branch, wt in targets:
            stopped: tuple[str, ...] = ()
            if force and not wt.prunable and not wt.locked:
                tasks = busy_stop.stop_tasks(self.paths.wtpar_dir, wt.path)
                stopped = tuple(f"{t.kind} {t.task} (pid {t.pid})" for t in tasks)
            refusal = self.removal_refusal(wt, force) or pre_remove_refusal(
                self.paths, self.config, wt, force
            )
            if refusal:
                results.append(RemoveResult(branch, False, wt.path, error=refusal))
                continue
            ignored, refusal = self._take_away(wt)
            if refusal:
                results.append(RemoveResult(branch, False, wt.path, error=refusal))
                continue
            result = RemoveResult(branch, True, wt.path, ignored=ignored, stopped=stopped)
            if delete_branch and wt.branch and base:
                with repo_lock(self.paths.wtpar_dir):
                    result = self._delete_branch_if_integrated(result, wt.branch, base)
            results.append(result)
        removed = [r.branch for r in results if r.removed]
        if removed:
            self.state.drop(removed)
            LeaseStore(self.paths.wtpar_dir).forget(removed)
            release_worktrees(self.paths, self.config, removed)
        sweep_trash(self.paths.wtpar_dir)
        return results

    def _live_branches(self) -> list[str]:
        return [wt.branch for wt in self.worktrees() if wt.branch and not wt.prunable]

    def _take_away(self, wt: Worktree) -> tuple[IgnoredFiles, str | None]:
        """Move a worktree judged safe to remove out of the way, unless a task started in it
        meanwhile; return the ignored files it held (or why it stays)."""
        present = os.path.isdir(wt.path) and not wt.prunable
        ignored = ignored_files(self.git, wt.path) if present else IgnoredFiles()
        stop_worktree_services(self.paths, [wt.branch] if wt.branch else [])
        with repo_lock(self.paths.wtpar_dir), busy.no_new_tasks(self.paths.wtpar_dir, wt.path):
            running = running_task_losses(self.paths.wtpar_dir, wt.path)
            if running:
                return ignored, "; ".join(running)
            self._detach_worktree(wt)
        return ignored, None

    def removal_refusal(self, wt: Worktree, force: bool) -> str | None:
        """Why this worktree must not be removed (None when it may)."""
        if wt.is_main:
            return "the main worktree is never removed"
        if wt.locked:
            reason = f" ({wt.locked_reason})" if wt.locked_reason else ""
            unlock = f"git worktree unlock {shell_word(wt.path)}"
            return f"worktree is locked{reason}; unlock it with `{unlock}`"
        if wt.prunable:
            return None
        running = running_task_losses(self.paths.wtpar_dir, wt.path)
        if running:
            tail = "it could not be stopped" if force else "use --force to stop it and remove"
            return "; ".join(running) + f" ({tail})"
        if force:
            return None
        claimed = lease_refusal(LeaseStore(self.paths.wtpar_dir).holder(wt.branch or wt.path))
        if claimed:
            return claimed
        record = self.state.records().get(wt.branch or "")
        blockers: list[str] = []
        operation = operation_loss(self.git, wt.path)
        if operation:
            blockers.append(operation)
        lost: list[str] = []
        if record is None or record.populated:
            # A worktree whose checkout never finished holds no changes of its own yet.
            counts = self.git.status(wt.path)
            if counts is None:
                return f"cannot read the status of {wt.path}; use --force to remove it anyway"
            if counts.dirty:
                lost.append("uncommitted changes: " + counts.words())
            hidden = hidden_change_loss(self.git, wt.path)
            if hidden:
                lost.append(hidden)
        if wt.head:
            unique = self.git.unique_commits(wt.head, wt.branch)
            if unique and not self._integrated(wt.head):
                lost.append(f"{plural(unique, 'commit')} on no other branch or remote")
        lost.extend(worktree_ref_losses(self.git, wt.path))
        lost.extend(submodule_losses(self.git, self.paths.common_dir, wt.path))
        if lost:
            blockers.append("would lose " + "; ".join(lost))
        if blockers:
            return "; ".join(blockers) + " (use --force to remove anyway)"
        return None

    def _integrated(self, commit: str) -> bool:
        # Squash-merged work has unique commits, yet nothing is lost by removing it.
        try:
            base = self.base_ref()
        except UsageError:
            return False
        return self.git.resolve_commit(base) is not None and self.git.is_integrated(commit, base)

    def _detach_worktree(self, wt: Worktree) -> None:
        detach_worktree(self.git, self.paths.wtpar_dir, wt.path)

    def _delete_branch_if_integrated(
        self, result: RemoveResult, branch: str, base: str
    ) -> RemoveResult:
        if branch == base or self.git.resolve_commit(base) is None:
            return replace(result, message=f"kept branch {branch}: base {base!r} is not usable")
        if not self.git.is_integrated(branch, base):
            return replace(result, message=f"kept branch {branch}: not integrated into {base}")
        self.git.delete_branch(branch)
        return replace(result, branch_deleted=True, message=f"deleted branch {branch}")

    # -- prune ---------------------------------------------------------------------------

    def prune(self, merged: bool = False, dry_run: bool = False) -> PruneResult:
        """Forget worktrees whose folder is gone; with `merged`, remove clean integrated ones
        (never one whose branch has no commit since it was spawned: it is new, not merged)."""
        wts = self.worktrees()
        stale = tuple(wt.path for wt in wts if wt.prunable)
        candidates: list[Worktree] = []
        kept: list[tuple[str, str]] = []
        if merged:
            base = self.base_ref()
            records = self.state.records()
            for wt in wts:
                if wt.is_main or wt.prunable or not wt.branch or wt.branch == base:
                    continue
                if not self.git.is_integrated(wt.branch, base):
                    continue
                record = records.get(wt.branch)
                if record is not None and record.base_sha and wt.head == record.base_sha:
                    since = record.base_ref or record.base_sha[:10]
                    kept.append(
                        (
                            wt.branch,
                            f"no commit since it was spawned from {since} (new, not merged)",
                        )
                    )
                    continue
                refusal = self.removal_refusal(wt, force=False)
                if not refusal and not dry_run:
                    refusal = pre_remove_refusal(self.paths, self.config, wt, force=False)
                if refusal:
                    kept.append((wt.branch, refusal))
                    continue
                candidates.append(wt)
        removed: list[str] = []
        ignored: list[tuple[str, IgnoredFiles]] = []
        if not dry_run:
            with repo_lock(self.paths.wtpar_dir):
                if stale:
                    self.git.prune_worktrees()
                # Git never prunes these: a killed spawn's admin folders, still locked.
                clear_orphan_admin_dirs(self.paths.common_dir)
        for wt in candidates:
            assert wt.branch is not None
            if dry_run:
                found, refusal = ignored_files(self.git, wt.path), None
            else:
                found, refusal = self._take_away(wt)
            if refusal:
                kept.append((wt.branch, refusal))
                continue
            removed.append(wt.branch)
            ignored.append((wt.branch, found))
        if not dry_run:
            if removed:
                self.state.drop(removed)
                LeaseStore(self.paths.wtpar_dir).forget(removed)
                release_worktrees(self.paths, self.config, removed)
            release_missing(self.paths, self.config, self._live_branches)
            sweep_trash(self.paths.wtpar_dir)
        return PruneResult(stale, tuple(removed), tuple(kept), dry_run, tuple(ignored))
