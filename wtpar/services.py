"""The one facade both adapters (the CLI and the dashboard) call: it finds the repository,
reads its configuration once, and hands out the core's operations."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property

from wtpar.config import Config, load_config
from wtpar.git import Git, RepoPaths, discover
from wtpar.model import BranchStatus, PruneResult, RemoveResult, SpawnResult
from wtpar.worktrees import WorktreeManager


class Services:
    """Everything wtpar can do on one repository."""

    def __init__(self, paths: RepoPaths, config: Config | None = None) -> None:
        self.paths = paths
        self._config = config

    @classmethod
    def from_cwd(cls, start: str | os.PathLike[str] = ".") -> Services:
        """Services for the repository containing `start`."""
        return cls(discover(start))

    @property
    def config(self) -> Config:
        """The repository's configuration, read on first use."""
        if self._config is None:
            self._config = load_config(self.paths.root)
        return self._config

    @cached_property
    def git(self) -> Git:
        """git commands on this repository."""
        return Git(self.paths)

    @cached_property
    def worktrees(self) -> WorktreeManager:
        """The worktree manager."""
        return WorktreeManager(self.paths, self.config)

    def spawn(self, branches: Sequence[str], from_ref: str | None = None) -> list[SpawnResult]:
        """Create worktrees for `branches`."""
        return self.worktrees.spawn(branches, from_ref)

    def list_worktrees(self) -> list[BranchStatus]:
        """Status of every worktree."""
        return self.worktrees.statuses()

    def remove(
        self, branches: Sequence[str], force: bool = False, delete_branch: bool = False
    ) -> list[RemoveResult]:
        """Remove worktrees."""
        return self.worktrees.remove(branches, force, delete_branch)

    def prune(self, merged: bool = False, dry_run: bool = False) -> PruneResult:
        """Prune stale (and, with `merged`, integrated) worktrees."""
        return self.worktrees.prune(merged, dry_run)

    def path_of(self, branch: str) -> str:
        """The path of BRANCH's worktree."""
        return self.worktrees.find(branch).path
