"""What an operation on worktrees did (spawn, remove, prune), as plain frozen data; apart
from worktrees.py so that `wtpar list` does not create these classes."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from wtpar.text import human_size, plural


class SpawnOutcome(enum.Enum):
    """What `spawn` did for one branch."""

    CREATED = "created"
    COMPLETED = "completed"  # an earlier spawn died before its checkout finished
    EXISTS = "exists"
    FAILED = "failed"


@dataclass(frozen=True)
class SpawnResult:
    """The result of spawning one branch's worktree."""

    branch: str
    outcome: SpawnOutcome
    path: str | None
    how: str | None = None
    base_ref: str | None = None
    base_sha: str | None = None
    error: str | None = None
    setup_errors: tuple[str, ...] = ()
    from_spare: bool = False  # a warm-pool spare became this worktree


@dataclass(frozen=True)
class IgnoredFiles:
    """The ignored files (git's disposable build output) a removal deleted."""

    files: int = 0
    size: int = 0
    complete: bool = True  # False: counting stopped early, these are lower bounds

    def text(self) -> str:
        """`also 3 ignored files, 120 MB`, or empty when there are none."""
        if not self.files:
            return ""
        bound = "" if self.complete else "at least "
        return f"also {bound}{plural(self.files, 'ignored file')}, {human_size(self.size)}"


@dataclass(frozen=True)
class RemoveResult:
    """The result of removing one branch's worktree."""

    branch: str
    removed: bool
    path: str | None
    branch_deleted: bool = False
    message: str | None = None
    error: str | None = None
    ignored: IgnoredFiles = IgnoredFiles()
    stopped: tuple[str, ...] = ()  # `task test (pid 123)`: stopped by --force


@dataclass(frozen=True)
class PruneResult:
    """What `prune` removed (or would remove, on a dry run)."""

    stale: tuple[str, ...] = field(default_factory=tuple)
    merged: tuple[str, ...] = field(default_factory=tuple)
    kept: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    dry_run: bool = False
    ignored: tuple[tuple[str, IgnoredFiles], ...] = ()  # per merged branch removed
