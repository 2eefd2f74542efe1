"""`wtpar check`: is each branch ready to merge, and which branches conflict with each other."""

from __future__ import annotations

import sys

import click

from wtpar.check.report import render_markdown, render_matrix, render_text, report_json
from wtpar.cli._common import (
    complete_any_branch,
    echo,
    echo_json,
    pipe_safe,
    say,
    services_from,
)
from wtpar.cli.notify_cmds import announce, notify_option
from wtpar.model import RunEvent, TaskFinished, TaskStarted
from wtpar.notify import NotifyOutcome


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_any_branch)
@click.option("--base", metavar="REF", help="Merge target (default: [check] base, else list's).")
@click.option("--fetch", is_flag=True, help="Fetch the base's remote first (under the repo lock).")
@click.option(
    "--run/--no-run",
    default=True,
    show_default=True,
    help="Run the [check] tasks that have no result at HEAD; with --no-run they block.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema 1).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "markdown", "matrix"]),
    default="table",
    show_default=True,
    help="table: for the terminal; markdown: to paste into a pull request; matrix: only "
    "the conflicts between branches.",
)
@click.option("--matrix", "show_matrix", is_flag=True, help="Add the branch x branch grid.")
@notify_option
@click.pass_context
def check(
    ctx: click.Context,
    branches: tuple[str, ...],
    base: str | None,
    fetch: bool,
    run: bool,
    as_json: bool,
    fmt: str,
    show_matrix: bool,
    notify: bool,
) -> None:
    """Tell, for each BRANCH, whether it is ready to merge into the base, and why not.

    A branch is blocked by: conflicts with the base (simulated with `git merge-tree`, no
    worktree is touched), uncommitted or untracked changes, a merge or rebase in progress,
    or a configured check task (`[check] tasks`) that did not pass at its HEAD with a clean
    tree. Being behind the base and unpushed commits are warnings (blocks with
    `require_up_to_date` / `require_upstream`). Branches already integrated are reported so
    they can be pruned; one with no commit since it was spawned is new (not merged). Below
    the table: the pairs of branches that conflict with each other, and a merge order that
    lands the ready branches one after another.

    Without BRANCH, every worktree's branch except the main one; a BRANCH may be any local
    branch. Exit 0 when no branch is blocked (ready, merged or new), 1 when one is, 2 for
    bad input.

    \b
      wtpar check                        # every worktree, runs missing checks
      wtpar check feature-a --no-run     # judge on recorded results only
      wtpar check --fetch --base origin/main
      wtpar check --format markdown | gh pr comment 42 -F -
      wtpar check --json | jq '.branches[] | select(.verdict == "blocked")'
    """
    svc = services_from(ctx)
    report = svc.check(branches, base=base, fetch=fetch, run=run, on_event=_progress)
    for note in report.notes:
        say(f"wtpar: {note}")
    out = pipe_safe(sys.stdout)  # a closed terminal stops the printing, not the exit status
    # File names in conflicts come from the branches: escaped like every other name.
    if as_json:
        echo_json(report_json(report))
    elif not report.branches:
        echo("nothing to check: no worktree besides the main one (name a branch)", file=out)
    elif fmt == "markdown":
        echo(render_markdown(report), file=out)
    elif fmt == "matrix":
        echo(render_matrix(report), file=out)
    else:
        echo(render_text(report, show_matrix), file=out)
    if notify:
        ready = sum(1 for b in report.branches if b.readiness.ready)
        text = f"{ready} of {len(report.branches)} branches ready to merge"
        announce(ctx, "check", NotifyOutcome.of(report.ready), text)
    ctx.exit(0 if report.ready else 1)


def _progress(event: RunEvent) -> None:
    if isinstance(event, TaskStarted) and event.attempt == 1:
        say(f"wtpar: running {event.key}")
    elif isinstance(event, TaskFinished):
        run = event.run
        code = f" (exit {run.exit_code})" if run.exit_code not in (None, 0) else ""
        say(f"wtpar: {run.key} {run.status.value}{code}")
