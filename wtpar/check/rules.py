"""Merge readiness as pure rules: facts about one branch in, a verdict with every reason out.

No I/O here, so each rule (and every combination of them) is tested exhaustively; `checks.py`
gathers the facts from git and the result store.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from wtpar.model import Readiness, Reason, StatusCounts, Verdict


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
    `ahead` counts the branch's commits missing from the base.
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


def evaluate(facts: BranchFacts, policy: Policy = Policy()) -> Readiness:
    """The verdict on one branch: blocked when any reason blocks, with every reason."""
    reasons = [*operation_reasons(facts), *dirty_reasons(facts)]
    if is_integrated(facts):
        reasons += integrated_reasons(facts)
    else:
        reasons += [
            *base_reasons(facts, policy),
            *upstream_reasons(facts, policy),
            *check_reasons(facts),
        ]
    verdict = Verdict.BLOCKED if any(r.blocking for r in reasons) else Verdict.READY
    return Readiness(facts.branch, verdict, tuple(reasons))


def is_integrated(facts: BranchFacts) -> bool:
    """True when merging the branch would add nothing to the base."""
    return facts.integrated or facts.ahead == 0


def operation_reasons(facts: BranchFacts) -> tuple[Reason, ...]:
    """A merge, rebase, cherry-pick, revert or bisect under way blocks."""
    if not facts.operation:
        return ()
    return (
        Reason(
            "operation",
            f"a {facts.operation} is in progress in its worktree; finish or abort it",
            True,
        ),
    )


def dirty_reasons(facts: BranchFacts) -> tuple[Reason, ...]:
    """Uncommitted or untracked changes block: they would not be merged."""
    if facts.dirty is None or not facts.dirty.dirty:
        return ()
    return (Reason("dirty", f"uncommitted changes: {dirty_summary(facts.dirty)}", True),)


def integrated_reasons(facts: BranchFacts) -> tuple[Reason, ...]:
    """An integrated branch is reported (a warning) so it can be pruned."""
    if facts.ahead == 0:
        text = f"nothing to merge: every commit is already in {facts.base}"
    else:
        text = f"already integrated into {facts.base} (squash-merged or cherry-picked)"
    return (Reason("integrated", f"{text}; `wtpar prune --merged` can remove it", False),)


def base_reasons(facts: BranchFacts, policy: Policy) -> tuple[Reason, ...]:
    """Conflicts with the base block; being behind it is a warning unless configured."""
    reasons: list[Reason] = []
    merge = facts.merge
    if merge.error:
        reasons.append(Reason("merge-unknown", merge.error, True))
    elif not merge.clean:
        if merge.files:
            files = f"{_count(len(merge.files), 'file')}: {', '.join(merge.files)}"
            text = f"would conflict with {facts.base} in {files}"
        else:
            text = f"would conflict with {facts.base} (a conflict without a file, e.g. a rename)"
        reasons.append(Reason("conflicts-with-base", text, True))
    if facts.behind:
        text = f"{_count(facts.behind, 'commit')} behind {facts.base}"
        if merge.clean and not merge.error:
            text += " (merges cleanly)"
        reasons.append(Reason("behind", text, policy.require_up_to_date))
    return tuple(reasons)


def upstream_reasons(facts: BranchFacts, policy: Policy) -> tuple[Reason, ...]:
    """Missing, gone or out-of-sync upstreams warn, and block with `require_upstream`."""
    up = facts.upstream
    block = policy.require_upstream
    state = up.state
    if state is UpstreamState.NONE:
        return (Reason("no-upstream", "no upstream: its commits are not pushed anywhere", block),)
    if state is UpstreamState.GONE:
        return (Reason("upstream-gone", f"its upstream {up.name} is gone", block),)
    reasons: list[Reason] = []
    if up.ahead:
        text = f"{_count(up.ahead, 'commit')} not pushed to {up.name}"
        reasons.append(Reason("unpushed", text, block))
    if up.behind:
        text = f"{up.name} has {_count(up.behind, 'commit')} not in the branch"
        reasons.append(Reason("upstream-ahead", text, block))
    return tuple(reasons)


def check_reasons(facts: BranchFacts) -> tuple[Reason, ...]:
    """Every configured check task must have passed at HEAD with a clean tree."""
    reasons: list[Reason] = []
    for check in facts.checks:
        detail = f" ({check.detail})" if check.detail else ""
        if check.state is CheckState.FAILED:
            reasons.append(Reason("check-failed", f"check {check.task!r} failed{detail}", True))
        elif check.state is CheckState.MISSING:
            text = f"check {check.task!r} has no result at this commit{detail}"
            reasons.append(Reason("check-missing", text, True))
        elif check.state is CheckState.DIRTY:
            text = f"check {check.task!r} cannot count: the worktree has uncommitted changes"
            reasons.append(Reason("check-dirty", text, True))
    return tuple(reasons)


# -- short summaries for tables ------------------------------------------------------------


def dirty_summary(counts: StatusCounts | None) -> str:
    """`2 modified, 1 untracked`, `clean`, or `-` without a worktree."""
    if counts is None:
        return "-"
    return counts.words()


def pushed_summary(up: UpstreamFacts) -> str:
    """`yes`, `3 unpushed`, `no upstream`, `gone`, ..."""
    state = up.state
    if state is UpstreamState.NONE:
        return "no upstream"
    if state is UpstreamState.GONE:
        return "upstream gone"
    if state is UpstreamState.IN_SYNC:
        return "yes"
    parts = []
    if up.ahead:
        parts.append(f"{up.ahead} unpushed")
    if up.behind:
        parts.append(f"{up.behind} to pull")
    return ", ".join(parts)


def checks_summary(checks: tuple[CheckFact, ...]) -> str:
    """`2/2 passed`, `test failed`, `lint missing`, or `-` when none are configured."""
    if not checks:
        return "-"
    bad = [c for c in checks if c.state is not CheckState.PASSED]
    if not bad:
        return f"{len(checks)}/{len(checks)} passed"
    return ", ".join(f"{c.task} {c.state.value}" for c in bad)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
