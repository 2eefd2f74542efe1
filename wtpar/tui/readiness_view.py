"""The readiness check as the dashboard runs and shows it: the report reduced to what the
readiness panel draws, as one typed summary."""

from __future__ import annotations

from dataclasses import dataclass

from wtpar.check.facts import CheckReport
from wtpar.check.merging import PairConflict
from wtpar.check.reasons import order_step_reason
from wtpar.model import Reason, Verdict
from wtpar.services import Services


@dataclass(frozen=True)
class ReadinessSummary:
    """What the readiness panel shows, for the branch under the cursor."""

    ready: int
    blocked: int
    merged: int
    selected: str | None
    reasons: tuple[Reason, ...]
    conflicts: tuple[PairConflict, ...]
    note: str
    new: int = 0  # branches with no commit since they were spawned


def run_check(services: Services) -> CheckReport:
    """Check every worktree's branch, from recorded task results (the dashboard's own runs
    are how check tasks get run here, so the user sees them and can cancel them)."""
    return services.check(run=False)


def verdicts(report: CheckReport) -> dict[str, Verdict]:
    """The verdict of each branch."""
    return {b.branch: b.readiness.verdict for b in report.branches}


def readiness_summary(report: CheckReport, selected: str | None) -> ReadinessSummary:
    """Counts, the selected branch's reasons (with merge-order conflicts), the pairs."""
    counts = {v: 0 for v in Verdict}
    reasons: tuple[Reason, ...] = ()
    shown: str | None = None
    for b in report.branches:
        counts[b.readiness.verdict] += 1
        if b.branch == selected:
            shown = selected
            reasons = b.readiness.reasons
    steps = [order_step_reason(s) for s in report.order.conflicting if s.branch == selected]
    return ReadinessSummary(
        ready=counts[Verdict.READY],
        blocked=counts[Verdict.BLOCKED],
        merged=counts[Verdict.MERGED],
        selected=shown,
        reasons=(*reasons, *steps),
        conflicts=report.matrix.conflicts,
        note=f"against {report.base}",
        new=counts[Verdict.NEW],
    )
