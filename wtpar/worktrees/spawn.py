"""Spawning worktrees: plan each branch, add git metadata under the repository lock, then
populate the working trees in parallel outside it, then set them up (see setup.py).

Concurrent `git worktree add` races on `.git/config` and `.git/worktrees/`, so every
metadata change happens under the repository lock; the checkout, the slow part, does not.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import TYPE_CHECKING

from wtpar import busy
from wtpar.errors import CommandError, UsageError
from wtpar.git import worktree_git_dir
from wtpar.git.admin_files import clear_half_written, drop_initializing_lock
from wtpar.git.parse import git_reason
from wtpar.locks import repo_lock
from wtpar.model import SpawnOutcome, SpawnResult, Worktree, WorktreeRecord
from wtpar.procs import workers
from wtpar.refnames import BranchRefs, branch_name_ok, branch_refs
from wtpar.worktrees.lifecycle import allocate_spawn_ports
from wtpar.worktrees.paths import worktree_path
from wtpar.worktrees.setup import SpawnPlan, copy_files, set_up
from wtpar.worktrees.warm_pool import adopt_spare, switch_spare

if TYPE_CHECKING:
    from wtpar.worktrees.manager import WorktreeManager


class Spawner:
    """Creates worktrees for one manager's repository."""

    def __init__(self, manager: WorktreeManager) -> None:
        self.paths = manager.paths
        self.config = manager.config
        self.git = manager.git
        self.state = manager.state
        self.worktrees = manager.worktrees
        self.base_ref = manager.base_ref

    def spawn(self, branches: Sequence[str], from_ref: str | None = None) -> list[SpawnResult]:
        """Create a worktree for each branch; one failure never stops the others.

        A worktree whose folder was deleted is created again; one whose checkout never
        finished (its spawn was killed) is completed.
        """
        if from_ref is not None and self.git.resolve_commit(from_ref) is None:
            raise UsageError(f"--from {from_ref!r} is not a commit")
        plans = [SpawnPlan(b, "") for b in dict.fromkeys(branches)]
        # Read before the lock: whether new branches' worktrees can be written directly.
        plain = self.git.plain_worktree_layout()
        with ExitStack() as busy_records:
            with repo_lock(self.paths.wtpar_dir):
                created = self._plan_and_add(plans, from_ref, plain)
                # Under the same lock as `worktree add`: concurrent spawns never share a port.
                no_ports = allocate_spawn_ports(
                    self.paths, self.config, [p.branch for p in created]
                )
                # Until its checkout has finished a worktree is "populating" (as recorded
                # before its metadata was added), and busy: a later spawn completes it,
                # `remove` knows nothing of value is there yet.
                for plan in created:
                    busy_records.enter_context(
                        busy.running_in(self.paths.wtpar_dir, plan.path, "spawn")
                    )
            for plan in created:
                if plan.branch in no_ports:
                    plan.setup_errors += (no_ports[plan.branch],)
            # The slow part runs outside the repository lock, still holding the busy records.
            with ThreadPoolExecutor(workers(len(created))) as pool:
                list(pool.map(self._populate, created))
            # A warm-pool spare was set up when the pool was filled; it only needs its env.
            set_up(self.paths, self.config, [p for p in created if p.spare_commit is None])
            adopted = [p for p in created if p.spare_commit and not p.error]
            copy_files(self.paths, self.config, adopted)
            self.state.put([self._record(p, populated=True) for p in created if not p.error])
        return [self._result(p) for p in plans]

    def _plan_and_add(
        self, plans: list[SpawnPlan], from_ref: str | None, plain: bool
    ) -> list[SpawnPlan]:
        """Plan every branch and add the worktrees' metadata (under the repository lock);
        return the plans that have a worktree to populate."""
        base_name: str | None = None
        base_sha: str | None = None
        wts = self._forget_missing(self.worktrees(), {p.branch for p in plans})
        existing = {wt.branch: wt for wt in wts if wt.branch}
        taken_paths = {os.path.realpath(wt.path) for wt in wts}
        records = self.state.records()
        refs = self._branch_refs([p.branch for p in plans])
        for plan in plans:
            self._plan_one(plan, existing, taken_paths, records, refs)
        if any(plan.how == "new" and not plan.error for plan in plans):
            base_name = from_ref or self.base_ref(wts)
            base_sha = self.git.resolve_commit(base_name)
        for plan in plans:
            if plan.how == "new" and not plan.error and base_sha is None:
                plan.error = f"base {base_name!r} is not a commit"
            elif plan.how == "new":
                plan.base_ref, plan.base_sha = base_name, base_sha
        to_add = [p for p in plans if not p.error and not p.existing and p.how != "complete"]
        for plan in to_add:
            plan.created = time.time()
        # Recorded as populating before `worktree add`: a spawn killed at any point after it
        # leaves a worktree that a later spawn completes and `remove` knows to be empty.
        self.state.put([self._record(p, populated=False) for p in to_add])
        rest = [p for p in to_add if not adopt_spare(self.git, self.paths, p)]
        adopted = [p for p in to_add if p.spare_commit is not None]
        if adopted:  # a spare of a remote branch learnt its base commit
            self.state.put([self._record(p, populated=False) for p in adopted])
        if plain:
            rest = self._write_new(rest, base_name)
        for plan in rest:
            self._add_metadata(plan)
        failed = [p.branch for p in to_add if p.error]
        if failed:
            self.state.drop(failed)
        return [p for p in plans if not p.error and not p.existing]

    def _branch_refs(self, branches: Sequence[str]) -> BranchRefs:
        """The valid names and their local and remote-tracking refs, in one git call; only
        names git must interpret (with an `@`) are checked by a git call of their own."""
        valid = []
        for branch in branches:
            ok = branch_name_ok(branch)
            if ok is None:
                ok = self.git.is_valid_branch_name(branch)
            if ok:
                valid.append(branch)
        return branch_refs(valid, self.git.branch_ref_rows(valid))

    def _record(self, plan: SpawnPlan, populated: bool) -> WorktreeRecord:
        created = plan.created or time.time()
        return WorktreeRecord(
            plan.branch, plan.path, plan.base_ref, plan.base_sha, created, populated
        )

    def _forget_missing(self, wts: list[Worktree], branches: set[str]) -> list[Worktree]:
        """Drop the metadata of these branches' worktrees whose folder was deleted (not of
        locked ones: their folder may be on a drive that is not mounted)."""
        missing = [wt for wt in wts if wt.branch in branches and wt.prunable and not wt.locked]
        for wt in missing:
            self.git.forget_worktree(wt.path)
        return self.worktrees() if missing else wts

    def _plan_one(
        self,
        plan: SpawnPlan,
        existing: dict[str, Worktree],
        taken: set[str],
        records: dict[str, WorktreeRecord],
        refs: BranchRefs,
    ) -> None:
        branch = plan.branch
        if not refs.valid(branch):
            plan.error = f"invalid branch name {branch!r}"
            return
        if branch in existing:
            wt, rec = existing[branch], records.get(branch)
            plan.path = wt.path
            if (
                rec is not None
                and not rec.populated
                and not busy.running_tasks(self.paths.wtpar_dir, wt.path)
            ):
                plan.how, plan.base_ref, plan.base_sha = "complete", rec.base_ref, rec.base_sha
                plan.created = rec.created
                return
            plan.existing, plan.how = True, "exists"
            return
        plan.path = worktree_path(self.paths, self.config, branch)
        real = os.path.realpath(plan.path)
        if real in taken:
            plan.error = f"path {plan.path} is already the worktree of another branch"
            return
        if (
            os.path.lexists(plan.path)
            and (not os.path.isdir(plan.path) or os.listdir(plan.path))
            and not clear_half_written(plan.path, self.paths.common_dir)  # a killed spawn's
        ):
            plan.error = f"path {plan.path} exists and is not an empty folder"
            return
        taken.add(real)
        if branch in refs.local:
            plan.how = "local"
            return
        remotes = refs.remotes_named(branch)
        if len(remotes) == 1:
            plan.how, plan.base_ref = "remote", remotes[0]
            plan.base_sha = refs.commits.get(remotes[0])
        elif len(remotes) > 1:
            plan.error = f"branch {branch!r} exists on several remotes ({', '.join(remotes)})"
        else:
            plan.how = "new"

    def _write_new(self, plans: list[SpawnPlan], base_name: str | None) -> list[SpawnPlan]:
        """Create the new branches in one git call and write their worktrees' metadata
        (no git process per branch); the plans left for `git worktree add`: the others,
        or all when a branch could not be created (each then fails on its own)."""
        new = [p for p in plans if p.how == "new" and p.base_sha]
        pairs = [(p.branch, p.base_sha or "") for p in new]
        if not new or not self.git.create_branches(pairs, f"branch: Created from {base_name}"):
            return plans
        for plan in new:
            try:
                self.git.write_worktree(plan.path, plan.branch)
            except OSError as exc:
                plan.error = f"cannot register the worktree: {exc}"
        return [p for p in plans if p not in new]

    def _add_metadata(self, plan: SpawnPlan) -> None:
        os.makedirs(os.path.dirname(plan.path), exist_ok=True)
        new_from: str | None = None
        if plan.how == "remote":
            assert plan.base_ref is not None
            plan.base_sha = plan.base_sha or self.git.resolve_commit(plan.base_ref)
            new_from = plan.base_ref
        elif plan.how != "local":
            assert plan.base_sha is not None
            new_from = plan.base_sha
        try:
            self.git.add_worktree(plan.path, plan.branch, new_from, track=plan.how == "remote")
        except CommandError as exc:
            plan.error = git_reason(exc.output) or exc.message

    def _populate(self, plan: SpawnPlan) -> None:
        if plan.spare_commit is not None:
            switch_spare(self.git, plan)
            return
        # The index of a --no-checkout worktree is empty; reading HEAD into it fills the tree.
        gitdir = worktree_git_dir(plan.path)
        if plan.how == "complete" and gitdir is not None:
            # Left by the git a killed spawn was running; no one else works in this worktree.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(gitdir, "index.lock"))
        try:
            self.git.checkout_all(plan.path)
        except CommandError as exc:
            plan.error = f"checkout failed: {exc.output.strip() or exc.message}"
            return
        if plan.how == "complete" and gitdir is not None:
            # The in-progress lock a writer killed just before its end left (git's and ours).
            drop_initializing_lock(gitdir)

    def _result(self, plan: SpawnPlan) -> SpawnResult:
        if plan.error:
            return SpawnResult(
                plan.branch, SpawnOutcome.FAILED, plan.path or None, error=plan.error
            )
        outcome = SpawnOutcome.EXISTS if plan.existing else SpawnOutcome.CREATED
        if plan.how == "complete":
            outcome = SpawnOutcome.COMPLETED
        return SpawnResult(
            plan.branch,
            outcome,
            plan.path,
            plan.how,
            plan.base_ref,
            plan.base_sha,
            setup_errors=plan.setup_errors,
            from_spare=plan.spare_commit is not None,
        )

    # -- list ----------------------------------------------------------------------------
