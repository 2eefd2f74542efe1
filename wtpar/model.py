"""The domain as plain frozen data, shared by the core, the CLI and the dashboard."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Worktree:
    """One entry of `git worktree list`."""

    path: str
    head: str | None
    branch: str | None
    is_main: bool = False
    bare: bool = False
    detached: bool = False
    locked: bool = False
    locked_reason: str | None = None
    prunable: bool = False
    prunable_reason: str | None = None


@dataclass(frozen=True)
class StatusCounts:
    """Uncommitted state of one working tree, from `git status --porcelain=v2`."""

    staged: int
    modified: int
    untracked: int
    conflicted: int = 0

    @property
    def dirty(self) -> bool:
        """True when anything would be lost by deleting the working tree."""
        return bool(self.staged or self.modified or self.untracked or self.conflicted)


@dataclass(frozen=True)
class WorktreeRecord:
    """What wtpar remembers about a worktree it created (state.json)."""

    branch: str
    path: str
    base_ref: str | None
    base_sha: str | None
    created: float


@dataclass(frozen=True)
class BranchStatus:
    """Everything `wtpar list` shows about one worktree."""

    worktree: Worktree
    status: StatusCounts | None
    base: str | None
    ahead: int | None
    behind: int | None
    upstream: str | None
    upstream_ahead: int | None
    upstream_behind: int | None
    upstream_gone: bool
    last_commit_time: int | None
    operation: str | None
    record: WorktreeRecord | None


class SpawnOutcome(enum.Enum):
    """What `spawn` did for one branch."""

    CREATED = "created"
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


@dataclass(frozen=True)
class RemoveResult:
    """The result of removing one branch's worktree."""

    branch: str
    removed: bool
    path: str | None
    branch_deleted: bool = False
    message: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class PruneResult:
    """What `prune` removed (or would remove, on a dry run)."""

    stale: tuple[str, ...] = field(default_factory=tuple)
    merged: tuple[str, ...] = field(default_factory=tuple)
    kept: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    dry_run: bool = False
