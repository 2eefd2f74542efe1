"""Worktrees as plain frozen data: what git says and what wtpar recorded (what `list`
needs; what spawn, remove and prune did is in changes.py)."""

from __future__ import annotations

from dataclasses import dataclass

from wtpar.text import ahead_behind_text


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

    def _nonzero(self) -> list[tuple[int, str, str]]:
        kinds = (
            (self.staged, "+", "staged"),
            (self.modified, "~", "modified"),
            (self.untracked, "?", "untracked"),
            (self.conflicted, "!", "conflicted"),
        )
        return [kind for kind in kinds if kind[0]]

    def marks(self) -> str:
        """`clean`, or `+staged ~modified ?untracked !conflicted` counts, for tables."""
        return " ".join(f"{mark}{n}" for n, mark, _ in self._nonzero()) or "clean"

    def words(self) -> str:
        """`clean`, or `2 modified, 1 untracked`, for messages."""
        return ", ".join(f"{n} {word}" for n, _, word in self._nonzero()) or "clean"


@dataclass(frozen=True)
class BranchTracking:
    """A local branch against its upstream, and the time of its last commit."""

    upstream: str | None = None
    ahead: int | None = None  # None without an upstream (or when it is gone)
    behind: int | None = None
    gone: bool = False
    committed: int = 0  # committer time, seconds since the epoch (0: unknown)


@dataclass(frozen=True)
class WorktreeRecord:
    """What wtpar remembers about a worktree it created (state.json)."""

    branch: str
    path: str
    base_ref: str | None
    base_sha: str | None
    created: float
    populated: bool = True  # False from `worktree add` until the checkout has finished


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

    def changes_text(self) -> str:
        """The working tree's changes as marks; `?` when its status could not be read."""
        return self.status.marks() if self.status is not None else "?"

    def base_text(self) -> str:
        """`↑ahead ↓behind` against the base, `-` when unknown."""
        return ahead_behind_text(self.ahead, self.behind)

    def upstream_text(self) -> str:
        """`↑ahead ↓behind` against the upstream, `none` or `gone`."""
        if self.upstream_gone:
            return "gone"
        if not self.upstream:
            return "none"
        return ahead_behind_text(self.upstream_ahead, self.upstream_behind)
