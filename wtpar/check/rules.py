"""Merge readiness as pure rules: facts about one branch in, a verdict with every reason out.

No I/O here, so each rule (and every combination of them) is tested exhaustively; `checks.py`
gathers the facts from git and the result store.
"""

from __future__ import annotations

from wtpar.check.model import BranchFacts, Policy
from wtpar.check.reasons import (
    base_reasons,
    check_reasons,
    dirty_reasons,
    integrated_reasons,
    new_reasons,
    operation_reasons,
    upstream_reasons,
)
from wtpar.model import Readiness, Verdict


def evaluate(facts: BranchFacts, policy: Policy | None = None) -> Readiness:
    """The verdict on one branch: blocked when any reason blocks, new when it has no commit
    since it was spawned, merged when its work is already in the base, else ready; with
    every reason."""
    policy = policy or Policy()
    reasons = [*operation_reasons(facts), *dirty_reasons(facts)]
    if is_new(facts):
        reasons += new_reasons(facts)
    elif is_integrated(facts):
        reasons += integrated_reasons(facts)
    else:
        reasons += [
            *base_reasons(facts, policy),
            *upstream_reasons(facts, policy),
            *check_reasons(facts),
        ]
    if any(r.blocking for r in reasons):
        verdict = Verdict.BLOCKED
    elif is_new(facts):
        verdict = Verdict.NEW
    else:
        verdict = Verdict.MERGED if is_integrated(facts) else Verdict.READY
    return Readiness(facts.branch, verdict, tuple(reasons))


def is_new(facts: BranchFacts) -> bool:
    """True for a branch still at the commit it was spawned at: new, not merged."""
    return facts.spawned_from is not None and is_integrated(facts)


def is_integrated(facts: BranchFacts) -> bool:
    """True when merging the branch would add nothing to the base."""
    return facts.integrated or facts.ahead == 0
