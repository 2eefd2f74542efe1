"""The facts the readiness rules look at, as plain data (gathered by facts.py)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from wtpar.model import StatusCounts


class UpstreamState(enum.Enum):
    """Where a branch stands against the branch it tracks."""

    NONE = "none"
    IN_SYNC = "in sync"
    AHEAD = "ahead"
    BEHIND = "behind"
    DIVERGED = "diverged"
    GONE = "gone"


@dataclass(frozen=True)
class UpstreamFacts:
    """The tracked branch and the commits on either side."""

    name: str | None = None
    ahead: int = 0
    behind: int = 0
    gone: bool = False

    @property
    def state(self) -> UpstreamState:
        """The upstream state these counts mean."""
        if self.name is None:
            return UpstreamState.NONE
        if self.gone:
            return UpstreamState.GONE
        if self.ahead and self.behind:
            return UpstreamState.DIVERGED
        if self.ahead:
            return UpstreamState.AHEAD
        if self.behind:
            return UpstreamState.BEHIND
        return UpstreamState.IN_SYNC


class CheckState(enum.Enum):
    """What is known of one configured check task at the branch's HEAD."""

    PASSED = "passed"
    FAILED = "failed"
    MISSING = "missing"
    DIRTY = "dirty"  # a result cannot vouch for uncommitted changes
    UNKNOWN = "unknown"  # nor for changes git would not show (the status was unreadable)


@dataclass(frozen=True)
class CheckFact:
    """One configured check task and its recorded result."""

    task: str
    state: CheckState
    detail: str = ""


@dataclass(frozen=True)
class BaseMerge:
    """Would the branch merge into the base? `error` when git could not tell."""

    clean: bool
    files: tuple[str, ...] = ()
    error: str | None = None


@dataclass(frozen=True)
class Policy:
    """The `[check]` settings that turn warnings into blocks."""

    require_upstream: bool = False
    require_up_to_date: bool = False


@dataclass(frozen=True)
class BranchFacts:
    """Everything the rules look at for one branch.

    `dirty` is None for a branch without a worktree (nothing uncommitted can exist);
    `ahead` counts the branch's commits missing from the base; `spawned_from` names what
    the branch was spawned from while it has no commit of its own since (it is new).
    """

    branch: str
    base: str
    ahead: int = 1
    behind: int = 0
    merge: BaseMerge = field(default_factory=lambda: BaseMerge(clean=True))
    dirty: StatusCounts | None = None
    upstream: UpstreamFacts = field(default_factory=UpstreamFacts)
    checks: tuple[CheckFact, ...] = ()
    integrated: bool = False
    operation: str | None = None
    spawned_from: str | None = None  # set while HEAD is still the commit it was spawned at
    status_unread: bool = False  # its worktree is there, but git would not tell its status
