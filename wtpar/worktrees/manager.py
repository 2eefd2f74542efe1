"""The worktree manager of one repository: finding worktrees and their status, and the
entry points of spawn (spawn.py), remove and prune (remove.py)."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from wtpar.config import Config
from wtpar.errors import UsageError, WtparError
from wtpar.git import Git, RepoPaths
from wtpar.model import BranchStatus, BranchTracking, StatusCounts, Worktree
from wtpar.procs import in_threads, workers
from wtpar.state import StateStore
from wtpar.text import shell_word, some_of
from wtpar.worktrees.paths import is_land_path, is_spare_path

if TYPE_CHECKING:
    from wtpar.model import PruneResult, RemoveResult, SpawnResult


def worktree_name(wt: Worktree) -> str:
    """How wtpar names a worktree: its branch, or `(folder)` when its HEAD is detached."""
    return wt.branch or f"({os.path.basename(wt.path)})"


class WorktreeManager:
    """The worktree operations of one repository."""

    def __init__(self, paths: RepoPaths, config: Config) -> None:
        self.paths = paths
        self.config = config
        self.git = Git(paths)
        self.state = StateStore(paths.wtpar_dir)

    # -- lookups -------------------------------------------------------------------------

    def worktrees(self, listed: str | None = None) -> list[Worktree]:
        """Every worktree, main first (not the warm pool's spares, nobody's yet, nor `land`'s
        temporary ones); `listed`: git's list when it was just read (Git.worktrees)."""
        return [
            wt
            for wt in self.git.worktrees(listed)
            if not is_spare_path(wt.path) and not is_land_path(self.paths, wt.path)
        ]

    def find(self, branch: str) -> Worktree:
        """The worktree that has BRANCH checked out, or is at that path; a detached one
        also by its folder name (`side`, or `(side)` as `run` shows it)."""
        return _find_in(self.worktrees(), branch)

    def find_all(self, branches: Sequence[str]) -> list[Worktree]:
        """`find` for each of BRANCHES, from one listing of the worktrees (a listing each
        made removing N worktrees cost N listings of N)."""
        wts = self.worktrees()
        return [_find_in(wts, branch) for branch in branches]

    def find_present(self, branch: str) -> Worktree:
        """Like `find`, but the worktree's folder must exist."""
        wt = self.find(branch)
        if wt.prunable or not os.path.isdir(wt.path):
            # The branch's own name: BRANCH may be a path or a folder's name.
            again = f", `wtpar spawn {shell_word(wt.branch)}` recreates it" if wt.branch else ""
            raise WtparError(
                f"{branch}: folder missing ({wt.path}); `wtpar prune` forgets the worktree{again}"
            )
        return wt

    def base_ref(self, worktrees: list[Worktree] | None = None) -> str:
        """The configured base, else the remote's default branch, else the main worktree's."""
        main = next((wt.branch for wt in worktrees or [] if wt.is_main), None)
        return self.git.default_base(self.config.base, main)

    # -- spawn ---------------------------------------------------------------------------

    def spawn(self, branches: Sequence[str], from_ref: str | None = None) -> list[SpawnResult]:
        """Create a worktree for each branch; one failure never stops the others."""
        from wtpar.worktrees.spawn import Spawner

        self.state.records()  # a damaged state.json stops us before anything changes
        return Spawner(self).spawn(branches, from_ref)

    def remove(
        self, branches: Sequence[str], force: bool = False, delete_branch: bool = False
    ) -> list[RemoveResult]:
        """Remove worktrees, refusing any that would lose work unless `force` (which first
        stops the tasks running in them)."""
        from wtpar.worktrees.remove import Remover

        self.state.records()  # a damaged state.json stops us before anything changes
        return Remover(self).remove(branches, force, delete_branch)

    def removal_refusal(self, wt: Worktree, force: bool) -> str | None:
        """Why this worktree must not be removed (None when it may)."""
        from wtpar.worktrees.remove import Remover

        return Remover(self).removal_refusal(wt, force)

    def prune(self, merged: bool = False, dry_run: bool = False) -> PruneResult:
        """Forget worktrees whose folder is gone; with `merged`, remove clean integrated ones."""
        from wtpar.worktrees.remove import Remover

        self.state.records()  # a damaged state.json stops us before anything changes
        return Remover(self).prune(merged, dry_run)

    # -- list ----------------------------------------------------------------------------

    def statuses(self, worktrees: list[Worktree] | None = None) -> list[BranchStatus]:
        """Status of every worktree: one repository-wide call beside the per-worktree ones,
        then ahead/behind where it is not known, each round in parallel."""
        wts = self.worktrees() if worktrees is None else worktrees
        records = self.state.records()

        def overview() -> tuple[dict[str, BranchTracking], str | None]:
            return self.git.tracking_and_remote()

        def local(wt: Worktree) -> tuple[StatusCounts | None, str | None]:
            if wt.prunable or wt.bare or not os.path.isdir(wt.path):
                return None, None
            return self.git.status(wt.path), self.git.operation_in_progress(wt.path)

        calls: list[Callable[[], object]] = [overview]
        calls += [functools.partial(local, wt) for wt in wts]
        first = in_threads(calls, workers(len(wts)) + 1)
        tracking, remote_default = cast("tuple[dict[str, BranchTracking], str | None]", first[0])
        locals_ = cast("list[tuple[StatusCounts | None, str | None]]", first[1:])
        default = self._default_base(wts, remote_default)
        # A branch checked out somewhere: its head is known, so a worktree at its base's
        # head is 0 ahead, 0 behind without asking git (a fresh or the main worktree).
        heads = {wt.branch: wt.head for wt in wts if wt.branch and wt.head}

        def base_of(wt: Worktree) -> str | None:
            rec = records.get(wt.branch or "")
            return (rec.base_ref if rec and rec.base_ref else None) or default

        def distance(wt: Worktree) -> tuple[tuple[int, int] | None, int]:
            base = base_of(wt)
            ab = None
            if base and wt.head and not wt.prunable:
                same = heads.get(base) == wt.head
                ab = (0, 0) if same else self.git.ahead_behind(base, wt.head)
            date = self.git.commit_time(wt.head) if not wt.branch and wt.head else 0
            return ab, date

        second = in_threads([functools.partial(distance, wt) for wt in wts], workers(len(wts)))
        result = []
        for wt, (counts, operation), (ab, date) in zip(wts, locals_, second, strict=True):
            track = tracking.get(wt.branch or "", BranchTracking())
            result.append(
                BranchStatus(
                    worktree=wt,
                    status=counts,
                    base=base_of(wt),
                    ahead=ab[0] if ab else None,
                    behind=ab[1] if ab else None,
                    upstream=track.upstream,
                    upstream_ahead=track.ahead,
                    upstream_behind=track.behind,
                    upstream_gone=track.gone,
                    last_commit_time=(date if not wt.branch else track.committed) or None,
                    operation=operation,
                    record=records.get(wt.branch or ""),
                )
            )
        return result

    def _default_base(self, wts: list[Worktree], remote_default: str | None) -> str | None:
        main = next((wt.branch for wt in wts if wt.is_main), None)
        try:
            return self.git.pick_base(self.config.base, remote_default, main)
        except UsageError:
            return None


def _find_in(wts: Sequence[Worktree], branch: str) -> Worktree:
    """BRANCH's worktree among WTS (see WorktreeManager.find)."""
    for wt in wts:
        if wt.branch == branch:
            return wt
    target = os.path.realpath(branch)
    for wt in wts:
        if os.path.realpath(wt.path) == target:
            return wt
    folder = branch[1:-1] if branch.startswith("(") and branch.endswith(")") else branch
    detached = [wt for wt in wts if not wt.branch and os.path.basename(wt.path) == folder]
    if len(detached) == 1:
        return detached[0]
    if detached:
        paths = ", ".join(wt.path for wt in detached)
        raise UsageError(
            f"{branch!r} names {len(detached)} detached worktrees ({paths}): give its path"
        )
    names = some_of([worktree_name(wt) for wt in wts if not wt.is_main])
    raise UsageError(f"no worktree for branch {branch!r} (worktrees: {names})")
