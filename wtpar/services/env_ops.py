"""Worktree environments through the facade: ports, variables, services, synced files."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from wtpar.errors import UsageError
from wtpar.git.repo import within
from wtpar.model import (
    Worktree,
)
from wtpar.services.base import ServicesBase

if TYPE_CHECKING:
    from wtpar.worktrees.devservices import ServiceStatus, ServiceStore, StartResult, StopResult
    from wtpar.worktrees.environment import Environments, EnvView
    from wtpar.worktrees.sync import SyncResult


class EnvOps(ServicesBase):
    """Worktree environments through the facade: ports, variables, services, synced files."""

    # -- worktree environments: ports, variables, services, synced files -------------------

    @cached_property
    def environments(self) -> Environments:
        """Each worktree's ports and variables."""
        from wtpar.worktrees.environment import Environments

        return Environments(self.paths, self.config)

    @cached_property
    def service_store(self) -> ServiceStore:
        """The recorded services of every worktree."""
        from wtpar.worktrees.devservices import ServiceStore

        return ServiceStore(self.paths.wtpar_dir)

    def worktree_at(self, folder: str) -> Worktree:
        """The worktree containing `folder`."""

        where = os.path.realpath(folder)
        every = self.worktrees.worktrees()
        hits = [wt for wt in every if within(where, os.path.realpath(wt.path))]
        if not hits:
            raise UsageError(f"{folder} is in no worktree of this repository")
        return max(hits, key=lambda wt: len(wt.path))

    def worktree_env(self, branch: str) -> dict[str, str]:
        """BRANCH's variables (ports allocated on first use)."""
        wt = self.worktrees.find(branch)
        name = wt.branch or branch
        return self.environments.ensure([(name, wt.path)])[name]

    def env_views(self, worktrees: Sequence[Worktree]) -> dict[str, EnvView]:
        """Ports, variables and services of each worktree by path, for `list` and the
        dashboard: read-only, no lock, and psutil is loaded only when services exist. None
        (and no environments module loaded) where no environment is configured, no port
        is held and no service ever ran."""
        from wtpar.worktrees.ports import REGISTRY_FILE

        has_services = os.path.isdir(os.path.join(self.paths.wtpar_dir, "services"))
        held = os.path.exists(os.path.join(self.paths.wtpar_dir, REGISTRY_FILE))
        if not (has_services or held or self.config.env.ports or self.config.env.vars):
            return {}
        statuses = self.service_statuses() if has_services else []
        return self.environments.views(worktrees, statuses)

    def service_statuses(self, branches: Sequence[str] = ()) -> list[ServiceStatus]:
        """Recorded services (of BRANCHES, or all) and whether they run."""
        return self.service_store.statuses(set(branches) if branches else None)

    def up(self, branches: Sequence[str] = (), names: Sequence[str] = ()) -> list[StartResult]:
        """Start the configured services (or NAMES) in BRANCHES' worktrees (default: all but
        main), in parallel; each waits until ready."""
        from wtpar.worktrees.devservices import start_services

        return start_services(
            self.service_store, self.environments, self._env_targets(branches), names
        )

    def down(self, branches: Sequence[str] = (), names: Sequence[str] = ()) -> list[StopResult]:
        """Stop running services (of BRANCHES and NAMES; default: all)."""
        from wtpar.worktrees.devservices import stop_services

        wanted = {self.worktrees.find(b).branch or b for b in branches}
        return stop_services(self.service_store, wanted or None, set(names) or None)

    def sync(self, branches: Sequence[str] = (), force: bool = False) -> list[SyncResult]:
        """Copy the configured ignored files into BRANCHES' worktrees (default: all but main)
        again, keeping files changed there unless `force`; rewrite `[env] file`."""
        from wtpar.worktrees.sync import sync_worktrees

        return sync_worktrees(self.environments, self._env_targets(branches), force)

    def _env_targets(self, branches: Sequence[str]) -> list[tuple[str, str]]:

        wts = [self.worktrees.find(b) for b in branches] or [
            wt for wt in self.worktrees.worktrees() if not wt.is_main and not wt.prunable
        ]
        targets = [(wt.branch, wt.path) for wt in wts if wt.branch]
        if branches and len(targets) < len(wts):
            raise UsageError("a detached worktree has no branch to key its environment")
        return list(dict.fromkeys(targets))
