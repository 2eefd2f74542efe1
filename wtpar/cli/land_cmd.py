"""`wtpar land` (the local merge train) and `wtpar update` (rebase or merge onto the base)."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from wtpar.cli._common import (
    complete_worktree_branch,
    echo,
    echo_json,
    pipe_safe,
    say,
    services_from,
)
from wtpar.cli.notify_cmds import announce, notify_option
from wtpar.errors import Interrupted
from wtpar.land.plan import Strategy
from wtpar.land.render import JSON_SCHEMA, plan_json, render_plan, render_report, report_json
from wtpar.land.report import Landing, RoundStarted, StepJudged
from wtpar.land.update import UpdateResult
from wtpar.model import TaskStarted
from wtpar.notify import NotifyOutcome
from wtpar.text import aligned_table, plural


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
    asked for landed (without BRANCH: every ready one), 1 otherwise, 2 for bad input, 130
    after Ctrl-C (the base is then as it was).

    \b
      wtpar land --dry-run               # what would be tested and landed
      wtpar land                         # every ready branch, tested together
      wtpar land feat-a feat-b --strategy squash --cleanup
      wtpar land --no-run --push         # textual cleanliness only, then push
    """
    svc = services_from(ctx)
    progress = None if as_json else _progress
    out = pipe_safe(sys.stdout)  # a closed terminal stops the printing, not the exit status
    plan = svc.land_plan(branches, into, Strategy(strategy), run, on_event=progress)
    if dry_run:
        if as_json:
            echo_json(plan_json(plan))
        else:
            echo(render_plan(plan, jobs or os.cpu_count() or 1), file=out)
        ctx.exit(1 if plan.left_out and plan.named else 0)  # as the land itself would
    if not plan.order:
        if as_json:
            echo_json(plan_json(plan))
        else:
            echo(render_plan(plan, jobs or 1), file=out)
        ctx.exit(1 if plan.left_out and plan.named else 0)
    report = svc.land(plan, jobs=jobs, push=push, cleanup=cleanup, on_event=progress)
    if as_json:
        echo_json(report_json(report))
    else:
        echo(render_report(report), file=out)
    if notify:
        interrupted = report.landing is Landing.INTERRUPTED
        names = ", ".join(report.landed) or "-"
        text = f"landed {len(report.landed)} of {len(plan.order)}: {names}"
        announce(ctx, "land", NotifyOutcome.of(report.ok, interrupted), text)
    if report.landing is Landing.INTERRUPTED:
        raise Interrupted(report.signal or "SIGINT")  # 130, 143 or 129
    ctx.exit(0 if report.ok else 1)


def _progress(event: object) -> None:
    if isinstance(event, RoundStarted):
        on = "+".join([event.prefix[-1]] if event.prefix else ["base"])
        say(f"wtpar: round {event.number}: {plural(len(event.branches), 'combination')} on {on}")
    elif isinstance(event, StepJudged):
        say(f"wtpar: step {event.number} (+{event.step.branch}): {event.step.state.value}")
    elif isinstance(event, TaskStarted) and event.attempt == 1:
        say(f"wtpar: running {event.key}")


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
