"""Temporary detached worktrees where a train's combinations are checked: made under the
repository lock, always removed (also after a failure), never a user's worktree. After
Ctrl-C while another process holds that lock, they are left for the next land to sweep
(their folder names the dead process)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence

from wtpar.git import Git
from wtpar.locks import repo_lock
from wtpar.worktrees.paths import LAND_FOLDER


class Sandbox:
    """The temporary worktrees of one land, under `<wtpar dir>/land/<id>/`."""

    def __init__(
        self,
        git: Git,
        land_id: str,
        env: Mapping[str, str],
        stop: Callable[[], bool] | None = None,
    ) -> None:
        self.git = git
        self.env = env
        self.stop = stop  # Ctrl-C: give up waiting for the lock (a later land sweeps them)
        self.root = os.path.join(git.paths.wtpar_dir, LAND_FOLDER, land_id)
        self.paths: list[str] = []

    def add_all(self, commits: Sequence[tuple[str, str]]) -> list[str]:
        """A detached worktree per (name, commit), one after another (concurrent `worktree
        add`s read each other's half-written metadata); their paths."""
        os.makedirs(self.root, exist_ok=True)
        paths = [os.path.join(self.root, name) for name, _ in commits]
        self.paths += paths
        with repo_lock(self.git.paths.wtpar_dir, stop=self.stop):
            for path, (_, commit) in zip(paths, commits, strict=True):
                self.git.add_temporary_worktree(path, commit, self.env)
        return paths

    def clear(self) -> None:
        """Remove every worktree made so far (safe to call more than once)."""
        if not self.paths and not os.path.exists(self.root):
            return
        with repo_lock(self.git.paths.wtpar_dir, stop=self.stop):
            self.git.drop_temporary_worktrees([*self.paths, self.root])
            self.paths.clear()


def sweep_stale(git: Git) -> list[str]:
    """Remove the temporary worktrees of lands whose process is gone (killed before it could
    clean up): their folders start with the owner's pid. The folders removed."""
    root = os.path.join(git.paths.wtpar_dir, LAND_FOLDER)
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    stale = [os.path.join(root, n) for n in names if not _owner_alive(n)]
    if stale:
        with repo_lock(git.paths.wtpar_dir):
            git.drop_temporary_worktrees(stale)
    return stale


def _owner_alive(name: str) -> bool:
    pid = name.split("-", 1)[0]
    if not pid.isdigit():
        return True  # not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
