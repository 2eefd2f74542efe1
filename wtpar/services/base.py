"""What every part of the facade shares: the repository, its configuration, git, and the
worktree manager."""

from __future__ import annotations

import os
from functools import cached_property
from typing import TYPE_CHECKING, Self

from wtpar.config import Config, load_config
from wtpar.git import Git, RepoPaths, discover_listed
from wtpar.worktrees import WorktreeManager

if TYPE_CHECKING:
    from wtpar.model import Worktree
    from wtpar.procs import Started


class ServicesBase:
    """The repository wtpar works on, read once."""

    def __init__(
        self, paths: RepoPaths, config: Config | None = None, listed: str | None = None
    ) -> None:
        self.paths = paths
        self._config = config
        self._listed = listed  # the worktree list discovery read, for the first listing
        self.backend: str | None = None  # for runs whose request names none (`dash --backend`)
        self.scheduler: str | None = None

    @classmethod
    def from_cwd(cls, start: str | os.PathLike[str] = ".", early: Started | None = None) -> Self:
        """Services for the repository containing `start` (`early`: see git.discover_listed)."""
        paths, listed = discover_listed(start, early)
        return cls(paths, listed=listed)

    def listed_worktrees(self) -> list[Worktree]:
        """Every worktree, for a command that only reads them: the first call uses the list
        read to find the repository (moments ago), the others ask git again."""
        listed, self._listed = self._listed, None
        return self.worktrees.worktrees(listed)

    def report_stray_tasks(self) -> None:
        """Warn about tasks that a killed wtpar run left running (see run/watchdog.py)."""
        record_dir = os.path.join(self.paths.wtpar_dir, "watch")
        if not os.path.isdir(record_dir):
            return  # the usual case, and `wtpar list` pays one stat for it
        from wtpar.notices import warn
        from wtpar.run.watchdog import stray_tasks

        for wtpar_pid, groups in stray_tasks(record_dir):
            ids = ", ".join(str(g) for g in groups)
            warn(
                f"tasks of a wtpar run that was killed (pid {wtpar_pid}) are still running: "
                f"process group{'s' if len(groups) > 1 else ''} {ids}; stop them with: "
                f"kill -TERM {' '.join(f'-{g}' for g in groups)}"
            )

    @property
    def config(self) -> Config:
        """The repository's configuration, read on first use."""
        if self._config is None:
            cache = os.path.join(self.paths.wtpar_dir, "cache")
            self._config = load_config(self.paths.root, cache)
        return self._config

    @cached_property
    def git(self) -> Git:
        """git commands on this repository."""
        return Git(self.paths)

    @cached_property
    def worktrees(self) -> WorktreeManager:
        """The worktree manager."""
        return WorktreeManager(self.paths, self.config)


def default_jobs() -> int:
    """The number of CPUs this process may use."""
    return len(os.sched_getaffinity(0))
