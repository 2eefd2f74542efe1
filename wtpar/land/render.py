"""How a land is told: the plan, the train as a table (step, branch, combined commit, checks,
outcome), the culprits with their logs, and the same as JSON. Used by the CLI and the
dashboard, so a land reads the same in both."""

from __future__ import annotations

from typing import Any

from wtpar.land.plan import OUTCOME_TEXT, LandPlan, Outcome, StepResult, StepState
from wtpar.land.report import LandReport
from wtpar.land.update import UpdateResult
from wtpar.text import aligned_table, plural

JSON_SCHEMA = 1
STEP_HEADERS = ["step", "branch", "combined", "checks", "outcome"]
LOG_TAIL = 20


# -- text ------------------------------------------------------------------------------------


def render_plan(plan: LandPlan, jobs: int) -> str:
    """The plan: order, strategy, what would be tested, what is left out."""
    lines = [
        f"land into {plan.base} ({plan.base_sha[:10]}), strategy {plan.strategy.value}: "
        + (
            plural(len(plan.order), "branch").replace("branchs", "branches")
            if plan.order
            else "nothing to land"
        )
    ]
    for i, branch in enumerate(plan.order, 1):
        lines.append(f"  {i}. {branch}")
    if plan.order:
        if plan.run_checks:
            combos = ", ".join("+".join(["base", *c]) for c in plan.combinations[:3])
            more = ", ..." if len(plan.order) > 3 else ""
            lines.append(
                f"tests {plural(len(plan.order), 'combination')} ({combos}{more}) with "
                f"{', '.join(plan.tasks)}, all at once in temporary worktrees (-j {jobs})"
            )
        else:
            lines.append(NO_RUN_TEXT)
    if plan.left_out:
        lines.append("left out:")
        lines += [f"  {b}: {why}" for b, why in plan.left_out]
    if plan.integrated:
        lines.append(f"already in {plan.base}: {', '.join(plan.integrated)}")
    return "\n".join(lines)


NO_RUN_TEXT = "checks not run: landing on textual cleanliness alone (no [check] tasks, or --no-run)"


def _checks_cell(step: StepResult, plan: LandPlan) -> str:
    if step.state is StepState.CONFLICT:
        return "-"
    if not plan.run_checks:
        return "not run"
    if step.state is StepState.FAILED:
        return f"{step.failed_task} failed"
    if step.state is StepState.CANCELLED:
        return "cancelled"
    return "passed"


def _outcome_cell(step: StepResult, final: Outcome, later: bool) -> str:
    if step.state is StepState.PASSED:
        return "landed" if final is Outcome.LANDED else OUTCOME_TEXT[final]
    if step.state is StepState.CANCELLED:
        return "tested again below" if later else "not tested"
    return OUTCOME_TEXT[final]


def step_row(
    number: int, step: StepResult, plan: LandPlan, final: Outcome | None, later: bool
) -> list[str]:
    """One row of the train's table (`final` None while the train runs)."""
    outcome = step.state.value if final is None else _outcome_cell(step, final, later)
    return [
        str(number),
        step.branch,
        (step.combined or "-")[:10],
        _checks_cell(step, plan),
        outcome,
    ]


def step_rows(report: LandReport) -> list[list[str]]:
    """Every step of every round, numbered across rounds."""
    final = dict(report.outcomes)
    rows: list[list[str]] = []
    for r, rnd in enumerate(report.rounds):
        later = {s.branch for x in report.rounds[r + 1 :] for s in x.steps}
        for step in rnd.steps:
            rows.append(
                step_row(len(rows) + 1, step, report.plan, final[step.branch], step.branch in later)
            )
    return rows


def render_report(report: LandReport) -> str:
    """The train as a table, the culprits with their logs, and how the base ended."""
    plan = report.plan
    rows = step_rows(report)
    lines = [f"land into {plan.base}, strategy {plan.strategy.value}"]
    lines.append(aligned_table(STEP_HEADERS, rows))
    if not plan.run_checks:
        lines.append(NO_RUN_TEXT)
    if plan.left_out:
        lines += ["", "left out (not ready):"] + [f"  {b}: {why}" for b, why in plan.left_out]
    if plan.integrated:
        lines += ["", f"already in {plan.base}: {', '.join(plan.integrated)}"]
    for culprit in report.culprits:
        lines += [
            "",
            f"{culprit.branch}: {culprit.failed_task} failed once combined "
            f"({(culprit.combined or '')[:10]}); left out",
        ]
        lines += [f"  | {line}" for line in log_tail(culprit.log_path)]
        if culprit.log_path:
            lines.append(f"  log: {culprit.log_path}")
    lines += ["", report.landing_text()]
    lines += [f"note: {n}" for n in report.notes]
    if report.pushed is not None:
        p = report.pushed
        lines.append(f"pushed to {p.target}" if p.ok else f"push to {p.target} refused: {p.detail}")
    lines += [f"{b}: {what}" for b, what in report.cleaned]
    return "\n".join(lines)


def log_tail(path: str | None) -> list[str]:
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()[-LOG_TAIL:]
    except OSError:
        return []


# -- json ------------------------------------------------------------------------------------


def plan_json(plan: LandPlan) -> dict[str, Any]:
    """The plan as JSON-ready data."""
    return {
        "schema": JSON_SCHEMA,
        "base": plan.base,
        "base_sha": plan.base_sha,
        "strategy": plan.strategy.value,
        "run_checks": plan.run_checks,
        "tasks": list(plan.tasks),
        "order": list(plan.order),
        "combinations": [list(c) for c in plan.combinations],
        "left_out": [{"branch": b, "reason": why} for b, why in plan.left_out],
        "integrated": list(plan.integrated),
    }


def report_json(report: LandReport) -> dict[str, Any]:
    """The land report as JSON-ready data."""
    number = 0
    rounds = []
    for rnd in report.rounds:
        steps = []
        for step in rnd.steps:
            number += 1
            steps.append(
                {
                    "step": number,
                    "branch": step.branch,
                    "combined": step.combined,
                    "state": step.state.value,
                    "failed_task": step.failed_task,
                    "log": step.log_path,
                }
            )
        rounds.append({"prefix": list(rnd.prefix), "steps": steps})
    return {
        **plan_json(report.plan),
        "landing": report.landing.value,
        "message": report.landing_text(),
        "ok": report.ok,
        "base_after": report.base_after,
        "landed": list(report.landed),
        "branches": [{"branch": b, "outcome": o.value} for b, o in report.outcomes],
        "rounds": rounds,
        "culprits": [
            {
                "branch": c.branch,
                "task": c.failed_task,
                "combined": c.combined,
                "log": c.log_path,
                "log_tail": log_tail(c.log_path),
            }
            for c in report.culprits
        ],
        "pushed": None
        if report.pushed is None
        else {
            "ok": report.pushed.ok,
            "target": report.pushed.target,
            "detail": report.pushed.detail,
        },
        "cleaned": [{"branch": b, "result": what} for b, what in report.cleaned],
        "notes": list(report.notes),
    }


def update_summary(result: UpdateResult) -> str:
    """One branch's update in a few words: what happened, and why when nothing did."""
    if result.files:
        return f"{result.branch}: conflicts in {', '.join(result.files)}; put back as it was"
    detail = f" ({result.detail})" if result.detail else ""
    return f"{result.branch}: {result.outcome.value}{detail}"
