"""Messages the dashboard's workers post back to the app: small, past-tense dataclasses."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from wtpar.check.facts import CheckReport
from wtpar.model import BranchStatus


@dataclass
class WorktreesRefreshed(Message):
    """A background refresh read every worktree's status."""

    statuses: list[BranchStatus]


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
