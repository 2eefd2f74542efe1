"""Where a worktree's environment meets its life: ports allocated when it is spawned,
`pre_remove` hooks and its services stopped before it is removed, its ports and records
freed after. Spawn and remove call these small hooks; the mechanics live in ports.py,
environment.py, devservices.py and sync.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence

from wtpar import procs
from wtpar.config import Config
from wtpar.git import RepoPaths
from wtpar.locks import repo_lock
from wtpar.model import Worktree
from wtpar.worktrees.devservices import ServiceStore, stop_services
from wtpar.worktrees.environment import Environments
from wtpar.worktrees.ports import PortsExhaustedError
from wtpar.worktrees.sync import CopyManifest

HOOK_OUTPUT_LINES = 20


def allocate_spawn_ports(
    paths: RepoPaths, config: Config, branches: Sequence[str]
) -> dict[str, str]:
    """Allocate ports for newly added worktrees (the caller holds the repository lock);
    returns an error message by branch for those that got none."""
    envs = Environments(paths, config)
    errors: dict[str, str] = {}
    for branch in branches:
        try:
            envs.allocate([branch])
        except PortsExhaustedError as exc:
            errors[branch] = f"ports: {exc.message}"
    return errors


def worktree_variables(paths: RepoPaths, config: Config, branch: str, path: str) -> dict[str, str]:
    """The variables of one worktree from what is allocated (no lock taken)."""
    return Environments(paths, config).current(branch, path)


def command_env(variables: Mapping[str, str], branch: str, path: str) -> dict[str, str]:
    """The environment of a command wtpar starts in a worktree (hooks, post_create)."""
    return procs.clean_env({**variables, "WTPAR_BRANCH": branch, "WTPAR_WORKTREE": path})


def pre_remove_refusal(paths: RepoPaths, config: Config, wt: Worktree, force: bool) -> str | None:
    """Run `[worktrees] pre_remove` in the worktree; why removal is refused (None if not).

    With `force` the hooks still run (they may release resources) but cannot refuse.
    """
    commands = config.worktrees.pre_remove
    if not commands or not wt.branch or not os.path.isdir(wt.path):
        return None
    env = command_env(worktree_variables(paths, config, wt.branch, wt.path), wt.branch, wt.path)
    seen: list[str] = []  # the output of every hook so far: an earlier one may explain
    for command in commands:
        # In a process group of its own, like post_create: a signal to wtpar stops it.
        with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
            returncode = procs.run_in_group(command, cwd=wt.path, env=env, output=out)
            out.seek(0)
            seen += out.read().rstrip().splitlines()
        if returncode != 0 and not force:
            lines = seen[-HOOK_OUTPUT_LINES:]
            output = "".join(f"\n    {line}" for line in lines) or "\n    (no output)"
            return (
                f"pre_remove `{command}` exited {returncode} "
                f"(use --force to remove anyway):{output}"
            )
    return None


def stop_worktree_services(paths: RepoPaths, branches: Iterable[str]) -> None:
    """Stop every service of these worktrees, before their folders go."""
    wanted = set(branches)
    if wanted:
        stop_services(ServiceStore(paths.wtpar_dir), wanted, None)


def release_worktrees(paths: RepoPaths, config: Config, branches: Sequence[str]) -> None:
    """Free the ports and forget the copy manifests of removed worktrees."""
    if not branches:
        return
    with repo_lock(paths.wtpar_dir):
        Environments(paths, config).release(branches)
    CopyManifest(paths.wtpar_dir).forget(branches)


def release_missing(
    paths: RepoPaths, config: Config, live_branches: Callable[[], Iterable[str]]
) -> None:
    """After a prune: stop the services and free the ports of branches whose worktree is
    gone (removed by hand or by `git worktree prune`). The live branches are read under
    the repository lock, so a worktree being spawned keeps the ports it was just given."""
    store = ServiceStore(paths.wtpar_dir)
    with repo_lock(paths.wtpar_dir):
        alive = set(live_branches())
        gone = Environments(paths, config).registry.keep_only(alive)
    stop_services(store, {r.branch for r in store.records()} - alive, None)
    CopyManifest(paths.wtpar_dir).forget(gone)
