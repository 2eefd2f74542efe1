"""Merge readiness as plain frozen data: the verdict and the reasons behind it."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Verdict(enum.Enum):
    """Whether a branch may be merged now."""

    READY = "ready"
    BLOCKED = "blocked"
    MERGED = "merged"  # its work is already in the base: nothing to merge


@dataclass(frozen=True)
class Reason:
    """One finding about a branch: `blocking` ones make it blocked, the others are warnings."""

    code: str
    message: str
    blocking: bool


@dataclass(frozen=True)
class Readiness:
    """The verdict on one branch, with every reason behind it."""

    branch: str
    verdict: Verdict
    reasons: tuple[Reason, ...] = ()

    @property
    def ready(self) -> bool:
        """True when nothing blocks the merge and there is something to merge."""
        return self.verdict is Verdict.READY

    @property
    def blocked(self) -> bool:
        """True when a reason blocks the merge."""
        return self.verdict is Verdict.BLOCKED

    @property
    def blocking(self) -> tuple[Reason, ...]:
        """The reasons that block the merge."""
        return tuple(r for r in self.reasons if r.blocking)

    @property
    def warnings(self) -> tuple[Reason, ...]:
        """The reasons worth knowing that do not block."""
        return tuple(r for r in self.reasons if not r.blocking)
