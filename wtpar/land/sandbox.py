"""Temporary detached worktrees where a train's combinations are checked: made under the
repository lock, always removed (also after Ctrl-C or a failure), never a user's worktree."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping

from wtpar.git import Git
from wtpar.locks import repo_lock


class Sandbox:
    """The temporary worktrees of one land, under `<wtpar dir>/land/<id>/`."""

    def __init__(self, git: Git, land_id: str, env: Mapping[str, str]) -> None:
        self.git = git
        self.env = env
        self.root = os.path.join(git.paths.wtpar_dir, "land", land_id)
        self.paths: list[str] = []

    def add(self, name: str, commit: str) -> str:
        """A detached worktree named NAME at COMMIT; its path."""
        path = os.path.join(self.root, name)
        os.makedirs(self.root, exist_ok=True)
        self.paths.append(path)
        with repo_lock(self.git.paths.wtpar_dir):
            self.git.add_temporary_worktree(path, commit, self.env)
        return path

    def clear(self) -> None:
        """Remove every worktree made so far (safe to call more than once)."""
        if not self.paths and not os.path.exists(self.root):
            return
        with repo_lock(self.git.paths.wtpar_dir):
            for path in self.paths:
                self.git.drop_temporary_worktree(path)
            self.paths.clear()
            shutil.rmtree(self.root, ignore_errors=True)
