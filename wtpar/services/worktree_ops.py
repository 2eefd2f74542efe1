"""Worktrees through the facade: spawn, list, remove, prune, leases and the warm pool."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from wtpar.model import (
    BranchStatus,
)
from wtpar.services.base import ServicesBase
from wtpar.worktrees import worktree_name
from wtpar.worktrees.paths import LEASES_FILE

if TYPE_CHECKING:
    from wtpar.model import PruneResult, RemoveResult, SpawnResult, Worktree
    from wtpar.worktrees.handout import Handout
    from wtpar.worktrees.leases import Lease, LeaseStore
    from wtpar.worktrees.spares import Spare


class WorktreeOps(ServicesBase):
    """Worktrees through the facade: spawn, list, remove, prune, leases and the warm pool."""

    def spawn(self, branches: Sequence[str], from_ref: str | None = None) -> list[SpawnResult]:
        """Create worktrees for `branches`."""
        return self.worktrees.spawn(branches, from_ref)

    def worktree_list(self) -> list[Worktree]:
        """Every worktree as git lists it, without reading any status."""
        return self.worktrees.worktrees()

    def list_worktrees(self, worktrees: Sequence[Worktree] | None = None) -> list[BranchStatus]:
        """Status of every worktree (of WORKTREES, when the list was just read)."""
        wts = self.listed_worktrees() if worktrees is None else list(worktrees)
        return self.worktrees.statuses(wts)

    def remove(
        self, branches: Sequence[str], force: bool = False, delete_branch: bool = False
    ) -> list[RemoveResult]:
        """Remove worktrees."""
        return self.worktrees.remove(branches, force, delete_branch)

    def prune(self, merged: bool = False, dry_run: bool = False) -> PruneResult:
        """Prune stale (and, with `merged`, integrated) worktrees, and the temporary
        worktrees a killed `land` left (their commits may be gone: `git gc` fails on them)."""
        if not dry_run:
            from wtpar.land.sandbox import sweep_stale  # here: the other commands need no land

            sweep_stale(self.git)
        return self.worktrees.prune(merged, dry_run)

    # -- leases (wtpar/worktrees/leases.py) ------------------------------------------------

    @cached_property
    def lease_store(self) -> LeaseStore:
        """Who holds which worktree."""
        from wtpar.worktrees.leases import LeaseStore  # here: `run` never reads leases

        return LeaseStore(self.paths.wtpar_dir)

    def leases(self) -> dict[str, Lease]:
        """Unexpired leases by branch."""
        if not os.path.exists(os.path.join(self.paths.wtpar_dir, LEASES_FILE)):
            return {}  # no one ever claimed a worktree: `list` loads no leases.py (~1 ms)
        return self.lease_store.active()

    def claim(self, branch: str, by: str, ttl: float | None = None, note: str = "") -> Lease:
        """Claim BRANCH's worktree for BY for TTL seconds (default: leases.DEFAULT_TTL);
        LeaseHeldError when someone else holds it."""
        wt = self.worktrees.find(branch)
        return self.lease_store.claim(wt.branch or branch, by, _ttl(ttl), note)

    def release(self, branch: str, by: str | None = None) -> Lease | None:
        """Release BRANCH's lease (refused when BY is given and someone else holds it)."""
        lease = self.lease_store.release(branch, by)
        if lease is None:
            # Not "not claimed" for a name no worktree has (mistyped, or a suggested
            # command pasted into a shell that read its quoting otherwise): say so.
            self.worktrees.find(branch)
        return lease

    def spawn_claimed(
        self,
        branches: Sequence[str],
        by: str,
        from_ref: str | None = None,
        ttl: float | None = None,
        note: str = "",
    ) -> list[SpawnResult]:
        """Spawn BRANCHES and claim each for BY; one held by someone else fails, untouched."""
        from wtpar.worktrees.handout import spawn_claimed

        return spawn_claimed(
            self.worktrees, self.lease_store, branches, by, from_ref, _ttl(ttl), note
        )

    def claim_any(
        self,
        by: str,
        from_ref: str | None = None,
        branch: str | None = None,
        ttl: float | None = None,
        note: str = "",
    ) -> Handout:
        """A worktree for BY on a new branch: a warm spare when one is ready, else spawned."""
        from wtpar.worktrees.handout import claim_any

        return claim_any(self.worktrees, self.lease_store, by, from_ref, branch, _ttl(ttl), note)

    # -- the warm pool of spare worktrees (wtpar/worktrees/warm_pool.py) -------------------

    def spares(self) -> list[Spare]:
        """The warm pool's spares, oldest first."""
        from wtpar.worktrees.spares import SpareState, SpareStore

        return [
            s for s in SpareStore(self.paths.wtpar_dir).all() if s.state is not SpareState.TAKEN
        ]

    def fill_pool(self, count: int, from_ref: str | None = None, wait: bool = False) -> list[Spare]:
        """Add COUNT spares at FROM_REF (default: the base), set up in the background."""
        from wtpar.worktrees.warm_pool import fill

        ref = from_ref or self.worktrees.base_ref(self.worktrees.worktrees())
        return fill(self.paths, self.config, count, ref, background=not wait)

    def drain_pool(self) -> list[Spare]:
        """Remove every spare of the warm pool."""
        from wtpar.worktrees.warm_pool import drain

        return drain(self.paths)

    def path_of(self, branch: str) -> str:
        """The path of BRANCH's worktree (an error when its folder is missing)."""
        return self.worktrees.find_present(branch).path

    def run_name(self, name: str) -> str:
        """The name `run` knows a worktree by (its branch, or `(folder)` when detached), from
        a branch, a path or a detached worktree's folder name; its folder must exist."""
        return worktree_name(self.worktrees.find_present(name))


def _ttl(ttl: float | None) -> float:
    """TTL, or the default lease length when none was given."""
    from wtpar.worktrees.leases import DEFAULT_TTL

    return DEFAULT_TTL if ttl is None else ttl
