"""Which branches a land takes, in which order, from `wtpar check`'s report: the ready ones
in its suggested order (or the ones named, in the order given); the rest are left out
with the reason check gave."""

from __future__ import annotations

from collections.abc import Sequence

from wtpar.check.facts import CheckReport
from wtpar.check.rules import is_integrated
from wtpar.land.plan import LandPlan, Strategy

# Without running the checks (`--no-run`), a missing result is no reason to leave a branch out.
_NOT_BLOCKING_WITHOUT_RUN = {"check-missing"}


def make_plan(
    report: CheckReport,
    named: Sequence[str],
    strategy: Strategy,
    tasks: Sequence[str],
    run_checks: bool,
) -> LandPlan:
    """The land plan for the branches of `report` (all of them when `named` is empty)."""
    ordered = [s.branch for s in report.order.steps]
    candidates = list(dict.fromkeys(named)) if named else [b.branch for b in report.branches]
    left_out: list[tuple[str, str]] = []
    integrated: list[str] = []
    ready: list[str] = []
    for name in candidates:
        check = report.branch(name)
        blocking = [
            r
            for r in check.readiness.reasons
            if r.blocking and (run_checks or r.code not in _NOT_BLOCKING_WITHOUT_RUN)
        ]
        if blocking:
            left_out.append((name, blocking[0].message))
        elif is_integrated(check.facts):
            integrated.append(name)
        else:
            ready.append(name)
    if not named:
        rank = {b: i for i, b in enumerate(ordered)}
        ready.sort(key=lambda b: (rank.get(b, len(rank)), b))
    heads = tuple((b, report.branch(b).head) for b in ready)
    return LandPlan(
        base=report.base,
        base_sha=report.base_sha,
        strategy=strategy,
        order=tuple(ready),
        heads=heads,
        left_out=tuple(left_out),
        integrated=tuple(integrated),
        tasks=tuple(tasks) if run_checks else (),
        run_checks=run_checks and bool(tasks),
        named=bool(named),
    )
