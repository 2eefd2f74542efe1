"""What a land reports: how it ended (typed), every round's steps, each branch's outcome,
and the events a live view (the CLI's progress, the dashboard) receives during the train."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from wtpar.land.plan import LandPlan, Outcome, Round, StepResult


class Landing(enum.Enum):
    """How the base ref ended."""

    LANDED = "landed"  # moved to the last passing combination
    NOTHING = "nothing to land"  # no combination passed (or nothing was asked)
    BASE_MOVED = "base moved"  # someone moved the base meanwhile: left as they put it
    BASE_DIRTY = "base worktree has changes"  # refused: the checked-out base has changes
    INTERRUPTED = "interrupted"  # Ctrl-C: the base is as it was
    DRY_RUN = "dry run"


LANDING_TEXT = {
    Landing.LANDED: "moved {base} from {old} to {new}",
    Landing.NOTHING: "{base} left at {old}: nothing passed to land",
    Landing.BASE_MOVED: "{base} moved during the land (now at {now}); it was not overwritten: "
    "nothing landed, run `wtpar land` again",
    Landing.BASE_DIRTY: "{base} is checked out in {worktree} and was not moved under it:"
    " nothing landed",
    Landing.INTERRUPTED: "interrupted: {base} left at {old}, temporary worktrees removed",
    Landing.DRY_RUN: "dry run: nothing was changed",
}


@dataclass(frozen=True)
class PushResult:
    """`--push`: whether the base reached its upstream, and git's words if not."""

    ok: bool
    target: str
    detail: str = ""


@dataclass(frozen=True)
class LandReport:
    """Everything `wtpar land` did."""

    plan: LandPlan
    landing: Landing
    base_after: str
    rounds: tuple[Round, ...] = ()
    outcomes: tuple[tuple[str, Outcome], ...] = ()
    culprits: tuple[StepResult, ...] = ()
    base_worktree: str | None = None
    pushed: PushResult | None = None
    cleaned: tuple[tuple[str, str], ...] = ()  # (branch, what cleanup did or why not)
    notes: tuple[str, ...] = field(default_factory=tuple)
    signal: str | None = None  # what interrupted it (Landing.INTERRUPTED): SIGINT, SIGHUP...

    @property
    def landed(self) -> tuple[str, ...]:
        """The branches now in the base, in order."""
        return tuple(b for b, o in self.outcomes if o is Outcome.LANDED)

    @property
    def ok(self) -> bool:
        """True when every branch asked for landed (and was pushed, with --push): the named
        ones, or without names every ready one (blocked ones were not asked for)."""
        asked = [o for _, o in self.outcomes if self.plan.named or o is not Outcome.BLOCKED]
        done = (Outcome.LANDED, Outcome.ALREADY_IN)
        everything = bool(asked) and all(o in done for o in asked)
        return everything and (self.pushed is None or self.pushed.ok)

    def landing_text(self) -> str:
        """The one line saying how the base ended."""
        return LANDING_TEXT[self.landing].format(
            base=self.plan.base,
            old=self.plan.base_sha[:10],
            new=self.base_after[:10],
            now=self.base_after[:10],
            worktree=self.base_worktree or "?",
        )


# -- events (the dashboard's and the CLI's live view) ------------------------------------------


@dataclass(frozen=True)
class RoundStarted:
    """A round begins: these branches are combined on top of the passing prefix."""

    number: int
    prefix: tuple[str, ...]
    branches: tuple[str, ...]
    first_step: int = 1  # the number of its first step (steps count across rounds)


@dataclass(frozen=True)
class StepJudged:
    """One step of a round is decided (its number counts across rounds, from 1)."""

    number: int
    round: int
    step: StepResult


@dataclass(frozen=True)
class TrainFinished:
    """The land ended; the report says how."""

    report: LandReport


LandEvent = RoundStarted | StepJudged | TrainFinished
