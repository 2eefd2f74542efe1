"""`wtpar land` (the local merge train) and `wtpar update` (rebase or merge onto the base)."""

from __future__ import annotations

import os
from typing import Any

import click

from wtpar.cli._common import complete_worktree_branch, echo_json, services_from
from wtpar.cli.notify_cmds import announce, notify_option
from wtpar.land.plan import OUTCOME_TEXT, LandPlan, Outcome, StepResult, StepState, Strategy
from wtpar.land.report import Landing, LandReport, RoundStarted, StepJudged
from wtpar.land.update import UpdateResult
from wtpar.model import TaskStarted
from wtpar.notify import NotifyOutcome
from wtpar.text import aligned_table, plural

JSON_SCHEMA = 1
_LOG_TAIL = 20


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_worktree_branch)
@click.option("--into", metavar="BASE", help="The local branch to land into (default: check's).")
@click.option(
    "--strategy",
    type=click.Choice([s.value for s in Strategy]),
    default=Strategy.MERGE.value,
    show_default=True,
    help="merge: a merge commit per branch; squash: one commit per branch; rebase: the "
    "branch's commits replayed on top.",
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--run/--no-run",
    default=True,
    show_default=True,
    help="Run the [check] tasks on each combination; --no-run lands on textual cleanliness.",
)
@click.option("--cleanup", is_flag=True, help="Remove landed worktrees, delete landed branches.")
@click.option("--push", is_flag=True, help="Push the base to its upstream (fast-forward only).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Pool slots (default: CPUs).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema 1).")
@notify_option
@click.pass_context
def land(
    ctx: click.Context,
    branches: tuple[str, ...],
    into: str | None,
    strategy: str,
    dry_run: bool,
    run: bool,
    cleanup: bool,
    push: bool,
    jobs: int | None,
    as_json: bool,
    notify: bool,
) -> None:
    """Land BRANCHES into the base after testing them together, the way a merge queue does.

    Without BRANCH, the ready branches of `wtpar check`, in its suggested order (blocked
    ones are listed and left out). The combinations base+A, base+A+B, ... are built
    without touching any worktree and the [check] tasks run on every one of them at once,
    in temporary worktrees, through the shared pool. The longest passing prefix lands; a
    branch whose combination fails (the culprit) is reported with the failing log and left
    out, and the branches after it are tested again without it.

    The base moves only if nobody moved it meanwhile (compare and swap), under the
    repository lock; a clean worktree that has it checked out is fast-forwarded, one with
    changes makes the land refuse. Nothing is ever force-updated. Exit 0 if every branch
    asked for landed, 1 otherwise, 2 for bad input.

    \b
      wtpar land --dry-run               # what would be tested and landed
      wtpar land                         # every ready branch, tested together
      wtpar land feat-a feat-b --strategy squash --cleanup
      wtpar land --no-run --push         # textual cleanliness only, then push
    """
    svc = services_from(ctx)
    progress = None if as_json else _progress
    plan = svc.land_plan(branches, into, Strategy(strategy), run, on_event=progress)
    if dry_run:
        if as_json:
            echo_json(plan_json(plan))
        else:
            click.echo(render_plan(plan, jobs or os.cpu_count() or 1))
        ctx.exit(0)
    if not plan.order:
        if as_json:
            echo_json(plan_json(plan))
        else:
            click.echo(render_plan(plan, jobs or 1))
        ctx.exit(1 if plan.left_out else 0)
    report = svc.land(plan, jobs=jobs, push=push, cleanup=cleanup, on_event=progress)
    if as_json:
        echo_json(report_json(report))
    else:
        click.echo(render_report(report))
    if notify:
        interrupted = report.landing is Landing.INTERRUPTED
        names = ", ".join(report.landed) or "-"
        text = f"landed {len(report.landed)} of {len(plan.order)}: {names}"
        announce(ctx, "land", NotifyOutcome.of(report.ok, interrupted), text)
    if report.landing is Landing.INTERRUPTED:
        ctx.exit(130)
    ctx.exit(0 if report.ok else 1)


def _progress(event: object) -> None:
    if isinstance(event, RoundStarted):
        on = "+".join([event.prefix[-1]] if event.prefix else ["base"])
        click.echo(
            f"wtpar: round {event.number}: {plural(len(event.branches), 'combination')} on {on}",
            err=True,
        )
    elif isinstance(event, StepJudged):
        click.echo(
            f"wtpar: step {event.number} (+{event.step.branch}): {event.step.state.value}", err=True
        )
    elif isinstance(event, TaskStarted) and event.attempt == 1:
        click.echo(f"wtpar: running {event.key}", err=True)


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
            lines.append(_NO_RUN_TEXT)
    if plan.left_out:
        lines.append("left out:")
        lines += [f"  {b}: {why}" for b, why in plan.left_out]
    return "\n".join(lines)


_NO_RUN_TEXT = (
    "checks not run: landing on textual cleanliness alone (no [check] tasks, or --no-run)"
)


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


def render_report(report: LandReport) -> str:
    """The train as a table, the culprits with their logs, and how the base ended."""
    plan = report.plan
    final = dict(report.outcomes)
    rows: list[list[str]] = []
    number = 0
    for r, rnd in enumerate(report.rounds):
        later = {b for x in report.rounds[r + 1 :] for b in (s.branch for s in x.steps)}
        for step in rnd.steps:
            number += 1
            rows.append(
                [
                    str(number),
                    step.branch,
                    (step.combined or "-")[:10],
                    _checks_cell(step, plan),
                    _outcome_cell(step, final[step.branch], step.branch in later),
                ]
            )
    lines = [f"land into {plan.base}, strategy {plan.strategy.value}"]
    lines.append(aligned_table(["step", "branch", "combined", "checks", "outcome"], rows))
    if not plan.run_checks:
        lines.append(_NO_RUN_TEXT)
    if plan.left_out:
        lines += ["", "left out (not ready):"] + [f"  {b}: {why}" for b, why in plan.left_out]
    for culprit in report.culprits:
        lines += [
            "",
            f"{culprit.branch}: {culprit.failed_task} failed once combined "
            f"({(culprit.combined or '')[:10]}); left out",
        ]
        lines += [f"  | {line}" for line in _log_tail(culprit.log_path)]
        if culprit.log_path:
            lines.append(f"  log: {culprit.log_path}")
    lines += ["", report.landing_text()]
    lines += [f"note: {n}" for n in report.notes]
    if report.pushed is not None:
        p = report.pushed
        lines.append(f"pushed to {p.target}" if p.ok else f"push refused: {p.detail}")
    lines += [f"{b}: {what}" for b, what in report.cleaned]
    return "\n".join(lines)


def _log_tail(path: str | None) -> list[str]:
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()[-_LOG_TAIL:]
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
                "log_tail": _log_tail(c.log_path),
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


# -- update ----------------------------------------------------------------------------------


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_worktree_branch)
@click.option("--merge", is_flag=True, help="Merge the base in instead of rebasing onto it.")
@click.option("--base", metavar="REF", help="Bring them up to date with REF (default: check's).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON (schema 1).")
@click.pass_context
def update(
    ctx: click.Context, branches: tuple[str, ...], merge: bool, base: str | None, as_json: bool
) -> None:
    """Bring BRANCHES up to date with the base, in their own worktrees, all at once.

    Rebase by default, or merge with --merge. A branch that conflicts is put back exactly
    where it was (the rebase is aborted) and reported with the conflicting files; a
    worktree with uncommitted changes is skipped. No worktree is left mid-rebase. Without
    BRANCH, every worktree's branch except the base's. Exit 0 if every branch is now up
    to date, 1 otherwise.

    \b
      wtpar update                 # rebase every worktree's branch onto the base
      wtpar update feat-a --merge  # merge the base into feat-a
    """
    svc = services_from(ctx)
    results = svc.update(branches, merge=merge, base=base)
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "branches": [_update_json(r) for r in results]})
    else:
        click.echo(render_update(results))
    ctx.exit(0 if all(r.ok for r in results) else 1)


def render_update(results: list[UpdateResult]) -> str:
    """One row per branch: what happened, and why when nothing did."""
    if not results:
        return "nothing to update: no worktree besides the base's"
    rows = []
    for r in results:
        moved = (
            f"{(r.before or '-')[:10]} -> {(r.after or '-')[:10]}" if r.before != r.after else "-"
        )
        why = r.detail or (
            ("conflicts in " + ", ".join(r.files) + "; put back as it was") if r.files else ""
        )
        rows.append([r.branch, r.outcome.value, moved, why])
    return aligned_table(["branch", "outcome", "moved", "detail"], rows)


def _update_json(r: UpdateResult) -> dict[str, Any]:
    return {
        "branch": r.branch,
        "outcome": r.outcome.value,
        "before": r.before,
        "after": r.after,
        "files": list(r.files),
        "detail": r.detail,
    }
