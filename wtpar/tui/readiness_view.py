"""The readiness check as the dashboard runs and shows it."""

from __future__ import annotations

from wtpar.check.facts import CheckReport
from wtpar.services import Services

# (ready, blocked, selected branch, reasons as (message, blocking), conflicts, note)
Summary = tuple[int, int, str | None, list[tuple[str, bool]], list[tuple[str, str, list[str]]], str]


def run_check(services: Services) -> CheckReport:
    """Check every worktree's branch, from recorded task results (the dashboard's own runs
    are how check tasks get run here, so the user sees them and can cancel them)."""
    return services.check(run=False)


def verdicts(report: CheckReport) -> dict[str, str]:
    """`ready` or `blocked` per branch."""
    return {b.branch: b.readiness.verdict.value for b in report.branches}


def readiness_summary(report: CheckReport, selected: str | None) -> Summary:
    """What the readiness panel shows, for the branch under the cursor."""
    ready = sum(1 for b in report.branches if b.readiness.ready)
    blocked = len(report.branches) - ready
    reasons: list[tuple[str, bool]] = []
    shown: str | None = None
    for b in report.branches:
        if b.branch == selected:
            shown = selected
            reasons = [(r.message, r.blocking) for r in b.readiness.reasons]
    for step in report.order.conflicting:
        if step.branch == selected:
            after = ", ".join(step.after) or "earlier branches"
            reasons.append((f"conflicts once {after} landed: {', '.join(step.files)}", True))
    conflicts = [(c.a, c.b, list(c.files)) for c in report.matrix.conflicts]
    return ready, blocked, shown, reasons, conflicts, f"against {report.base}"
