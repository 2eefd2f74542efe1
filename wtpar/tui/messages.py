"""Messages the dashboard's workers post back to the app: small, past-tense dataclasses."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

from wtpar.model import BranchStatus, Worktree

if TYPE_CHECKING:
    from wtpar.check.facts import CheckReport
    from wtpar.run.activity import WaitOutcome
    from wtpar.worktrees.environment import EnvView
    from wtpar.worktrees.leases import Lease


@dataclass
class WorktreesListed(Message):
    """The first refresh listed the worktrees; their statuses are read once `drawn` is set
    (reading a hundred statuses beside the first paint would hold it back)."""

    worktrees: list[Worktree]
    drawn: threading.Event = field(default_factory=threading.Event)


@dataclass
class WorktreesRefreshed(Message):
    """A background refresh read every worktree's status (and ports and services)."""

    statuses: list[BranchStatus]
    envs: dict[str, EnvView] = field(default_factory=dict)  # by worktree path
    leases: dict[str, Lease] = field(default_factory=dict)  # holders by branch
    finished: dict[str, WaitOutcome] = field(default_factory=dict)  # runs that just ended
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # other processes' tasks


@dataclass
class ReadinessChecked(Message):
    """A background readiness check finished."""

    report: CheckReport


@dataclass
class ActionFailed(Message):
    """A background action (spawn, remove, prune, check) failed with a user-facing message."""

    what: str
    message: str


@dataclass
class ActionDone(Message):
    """A background action finished; `summary` is shown to the user."""

    what: str
    summary: str
