"""The land plan and the merge train's bookkeeping, as pure functions: which branches are
tested together, which prefix lands, which branch is the culprit, what is tested again.

No git and no processes here, so every sequence of step results is unit-tested; `train.py`
builds the combinations and runs their checks.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


class Strategy(enum.Enum):
    """How a branch enters the combined result."""

    MERGE = "merge"  # a merge commit per branch
    SQUASH = "squash"  # one commit per branch with its whole change
    REBASE = "rebase"  # the branch's commits replayed one by one


class StepState(enum.Enum):
    """How one combination (base + the branches up to this step) fared."""

    PASSED = "passed"  # its checks passed (or, with --no-run, it merged cleanly)
    FAILED = "failed"  # a check failed on the combination
    CONFLICT = "conflict"  # the branch does not merge cleanly onto the running result
    CANCELLED = "cancelled"  # not finished: an earlier step failed, or Ctrl-C


class Outcome(enum.Enum):
    """What happened to one branch asked for."""

    LANDED = "landed"
    CULPRIT = "culprit"  # its step's checks failed: it breaks the combination
    CONFLICT = "conflict"  # it conflicts with the branches landed before it
    BLOCKED = "blocked"  # `wtpar check` says it is not ready: left out
    NOT_LANDED = "not landed"  # tested fine, but the land did not happen (see the report)
    ALREADY_IN = "already in base"  # nothing to land: its work is in the base already
    UNTESTED = "untested"  # the train stopped before its combination was judged


OUTCOME_TEXT = {
    Outcome.LANDED: "landed",
    Outcome.CULPRIT: "left out: breaks the checks once combined",
    Outcome.CONFLICT: "left out: conflicts with the branches before it",
    Outcome.BLOCKED: "left out: not ready",
    Outcome.NOT_LANDED: "passed, not landed",
    Outcome.ALREADY_IN: "already in the base",
    Outcome.UNTESTED: "not tested",
}


@dataclass(frozen=True)
class LandPlan:
    """What `wtpar land` will do: the order, the strategy, and what it tests."""

    base: str
    base_sha: str
    strategy: Strategy
    order: tuple[str, ...]
    heads: tuple[tuple[str, str], ...] = ()
    left_out: tuple[tuple[str, str], ...] = ()  # (branch, why): not ready
    integrated: tuple[str, ...] = ()  # already in the base: nothing to land
    tasks: tuple[str, ...] = ()
    run_checks: bool = True
    named: bool = False  # the user named the branches (else: every ready one was asked for)

    @property
    def combinations(self) -> tuple[tuple[str, ...], ...]:
        """The combinations the first round tests: base+A, base+A+B, ..."""
        return first_round(self.order)


def step_name(branch: str, number: int) -> str:
    """What the checks of step NUMBER call its temporary worktree (`TaskKey.branch`)."""
    return f"{branch}@step{number}"


def step_number(name: str) -> int | None:
    """The step a temporary worktree's name belongs to (None for any other name)."""
    _, sep, number = name.rpartition("@step")
    return int(number) if sep and number.isdigit() else None


def first_round(order: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Each prefix of `order`, shortest first."""
    return tuple(tuple(order[: i + 1]) for i in range(len(order)))


@dataclass(frozen=True)
class StepResult:
    """One step of a round: the branch that entered, the combined commit, how it fared."""

    branch: str
    state: StepState
    combined: str | None = None
    failed_task: str | None = None
    log_path: str | None = None


@dataclass(frozen=True)
class TrainState:
    """Where the train stands between rounds."""

    landed: tuple[str, ...] = ()  # the passing prefix, in order
    pending: tuple[str, ...] = ()  # still to test, in order, on top of `landed`
    outcomes: tuple[tuple[str, Outcome], ...] = ()
    culprits: tuple[StepResult, ...] = ()
    stopped: bool = False  # a step was cancelled before any failure (Ctrl-C)

    @property
    def done(self) -> bool:
        """True when nothing is left to test (or the train was stopped)."""
        return self.stopped or not self.pending

    def outcome(self, branch: str) -> Outcome | None:
        """The outcome decided so far for BRANCH."""
        return dict(self.outcomes).get(branch)


def start(order: Iterable[str]) -> TrainState:
    """The train before its first round."""
    return TrainState(pending=tuple(dict.fromkeys(order)))


def advance(state: TrainState, steps: Sequence[StepResult]) -> TrainState:
    """The state after a round that tested `steps` (one per pending branch, in order).

    Until the first failure: passing steps join the landed prefix and conflicting branches
    are reported. The first failing step's branch is the culprit (everything before it
    passed); every later step is tested again, on top of the new prefix. A step cancelled
    before any failure stops the train (Ctrl-C): the rest stays untested.
    """
    if [s.branch for s in steps] != list(state.pending):
        raise ValueError("a round tests exactly the pending branches, in order")
    landed = list(state.landed)
    outcomes = list(state.outcomes)
    culprits = list(state.culprits)
    for i, step in enumerate(steps):
        if step.state is StepState.PASSED:
            landed.append(step.branch)
        elif step.state is StepState.CONFLICT:
            outcomes.append((step.branch, Outcome.CONFLICT))
        elif step.state is StepState.FAILED:
            outcomes.append((step.branch, Outcome.CULPRIT))
            culprits.append(step)
            rest = tuple(s.branch for s in steps[i + 1 :])
            return TrainState(tuple(landed), rest, tuple(outcomes), tuple(culprits))
        else:
            rest = tuple(s.branch for s in steps[i:])
            return TrainState(tuple(landed), rest, tuple(outcomes), tuple(culprits), stopped=True)
    return TrainState(tuple(landed), (), tuple(outcomes), tuple(culprits))


def needless(states: Sequence[StepState | None]) -> range:
    """The steps whose result cannot matter any more (to cancel): every step after the first
    failing one, since each of them contains the failing combination."""
    for i, state in enumerate(states):
        if state is StepState.FAILED:
            return range(i + 1, len(states))
    return range(0)


def final_outcomes(
    asked: Sequence[str],
    state: TrainState,
    landed: bool,
    blocked: Iterable[str] = (),
    integrated: Iterable[str] = (),
) -> dict[str, Outcome]:
    """The outcome of every branch asked for, once the train ended (`landed`: the base moved
    to the passing prefix)."""
    decided = dict(state.outcomes)
    blocked_set, integrated_set = set(blocked), set(integrated)
    result: dict[str, Outcome] = {}
    for branch in asked:
        if branch in blocked_set:
            result[branch] = Outcome.BLOCKED
        elif branch in integrated_set:
            result[branch] = Outcome.ALREADY_IN
        elif branch in state.landed:
            result[branch] = Outcome.LANDED if landed else Outcome.NOT_LANDED
        else:
            result[branch] = decided.get(branch, Outcome.UNTESTED)
    return result


@dataclass(frozen=True)
class Round:
    """One round of the train: the combinations it tested, on top of `prefix`."""

    prefix: tuple[str, ...]
    steps: tuple[StepResult, ...] = field(default_factory=tuple)
