"""Every readiness reason, worded in one place: the rules decide, these functions say.

Each returns `Reason`s (a code, a message, whether it blocks); the command line, the JSON
report and the dashboard render them and never word a reason of their own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wtpar.check.model import BranchFacts, CheckState, Policy, UpstreamState
from wtpar.model import Reason
from wtpar.text import plural

if TYPE_CHECKING:
    from wtpar.check.order import MergeStep


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
    """Uncommitted or untracked changes block: they would not be merged. So does a
    worktree whose status git would not give (one another user owns, say): it may have
    any."""
    if facts.status_unread:
        text = "cannot read its worktree's status (`git status` there says why)"
        return (Reason("status-unknown", text, True),)
    if facts.dirty is None or not facts.dirty.dirty:
        return ()
    return (Reason("dirty", f"uncommitted changes: {facts.dirty.words()}", True),)


def integrated_reasons(facts: BranchFacts) -> tuple[Reason, ...]:
    """An integrated branch is reported (a warning) so it can be pruned."""
    if facts.ahead == 0:
        text = f"nothing to merge: every commit is already in {facts.base}"
    else:
        text = f"already integrated into {facts.base} (squash-merged or cherry-picked)"
    return (Reason("integrated", f"{text}; `wtpar prune --merged` can remove it", False),)


def new_reasons(facts: BranchFacts) -> tuple[Reason, ...]:
    """A branch with no commit since it was spawned is new, not merged (a warning)."""
    text = (
        f"new: no commit of its own since it was spawned from {facts.spawned_from}; "
        "nothing to merge yet"
    )
    return (Reason("new", text, False),)


def base_reasons(facts: BranchFacts, policy: Policy) -> tuple[Reason, ...]:
    """Conflicts with the base block; being behind it is a warning unless configured."""
    reasons: list[Reason] = []
    merge = facts.merge
    if merge.error:
        reasons.append(Reason("merge-unknown", merge.error, True))
    elif not merge.clean:
        if merge.files:
            files = f"{plural(len(merge.files), 'file')}: {', '.join(merge.files)}"
            text = f"would conflict with {facts.base} in {files}"
        else:
            text = f"would conflict with {facts.base} (a conflict without a file, e.g. a rename)"
        reasons.append(Reason("conflicts-with-base", text, True))
    if facts.behind:
        text = f"{plural(facts.behind, 'commit')} behind {facts.base}"
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
        text = f"{plural(up.ahead, 'commit')} not pushed to {up.name}"
        reasons.append(Reason("unpushed", text, block))
    if up.behind:
        text = f"{up.name} has {plural(up.behind, 'commit')} not in the branch"
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
            why = check.detail or "the worktree has uncommitted changes"
            text = f"check {check.task!r} cannot count: {why}"
            reasons.append(Reason("check-dirty", text, True))
        elif check.state is CheckState.UNKNOWN:
            text = f"check {check.task!r} cannot count: its worktree's status is unknown"
            reasons.append(Reason("check-unknown", text, True))
    return tuple(reasons)


def order_step_reason(step: MergeStep) -> Reason:
    """A branch that merges cleanly alone but conflicts once earlier branches have landed."""
    files = ", ".join(step.files) or "no file listed"
    after = ", ".join(step.after) or "earlier branches"
    if step.combined:
        text = f"conflicts once {after} have landed ({files})"
    else:
        verb = "lands" if len(step.after) == 1 else "land"
        text = f"conflicts after {after} {verb} ({files}): rebase it then"
    return Reason("conflicts-in-order", text, True)
