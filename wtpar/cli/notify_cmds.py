"""`wtpar wait`, and the `--notify` option of `run` and `check`: knowing when work is done."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from wtpar.cli._common import complete_worktree_branch, echo, echo_json, services_from
from wtpar.errors import UsageError
from wtpar.run.activity import WaitOutcome
from wtpar.text import parse_duration

if TYPE_CHECKING:
    from wtpar.notify import NotifyOutcome

JSON_SCHEMA = 1
TIMED_OUT_EXIT = 124  # like timeout(1)
F = TypeVar("F", bound=Callable[..., Any])


def notify_option(func: F) -> F:
    """The `--notify` flag of commands that announce their end."""
    return click.option(
        "--notify",
        is_flag=True,
        help="When done, run [notify] command (else notify-send) and ring the terminal bell.",
    )(func)


def announce(ctx: click.Context, what: str, outcome: NotifyOutcome, summary: str) -> None:
    """Send the notification of a finished command; ring the bell on a terminal."""
    sent = services_from(ctx).notify(what, outcome, summary)
    if sent.error:
        click.echo(f"wtpar: warning: {sent.error}", err=True)
    if sys.stderr.isatty():
        click.echo("\a", nl=False, err=True)


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_worktree_branch)
@click.option("--timeout", metavar="T", help="Give up after T (90, 30s, 10m): exit 124.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome of each worktree.")
@click.option("--notify", is_flag=True, help="Also send a notification when done.")
@click.pass_context
def wait(
    ctx: click.Context, branches: tuple[str, ...], timeout: str | None, as_json: bool, notify: bool
) -> None:
    """Block until no wtpar task runs in the worktrees of BRANCHES (default: all), started
    by any process, then exit with the outcome of the last run there.

    Exit 0 when the last run in each succeeded (or none ever ran there), 1 when one failed,
    124 when --timeout ran out first.

    \b
      wtpar run test &  wtpar wait feature-a && git -C "$(wtpar path feature-a)" push
      wtpar wait --timeout 10m --json
    """
    seconds = None
    if timeout is not None:
        try:
            seconds = parse_duration(timeout)
        except ValueError as exc:
            raise UsageError(f"--timeout: {exc}") from None
    svc = services_from(ctx)
    result = svc.wait(branches, seconds)
    names = result.names
    if as_json:
        echo_json(
            {
                "schema": JSON_SCHEMA,
                "outcome": result.outcome.value,
                "busy": [names.get(p, p) for p in result.busy],
                "worktrees": [
                    {
                        "branch": names.get(w.path, w.path),
                        "path": w.path,
                        "outcome": w.outcome.value,
                        "run_id": w.run_id,
                        "failed_tasks": list(w.failed_tasks),
                        "ended": w.ended,
                    }
                    for w in result.worktrees
                ],
            }
        )
    else:
        for w in result.worktrees:
            run = f"  run {w.run_id}" if w.run_id else ""
            failed = f"  failed: {', '.join(w.failed_tasks)}" if w.failed_tasks else ""
            echo(f"{w.outcome.value:<8} {names.get(w.path, w.path)}{run}{failed}")
        if result.busy:
            still = ", ".join(names.get(p, p) for p in result.busy)
            click.echo(f"wtpar: timed out, still running in: {still}", err=True)
    if notify:
        from wtpar.notify import NotifyOutcome  # here: only --notify sends one

        outcome = {
            WaitOutcome.FAILED: NotifyOutcome.FAILURE,
            WaitOutcome.TIMED_OUT: NotifyOutcome.INTERRUPTED,
        }.get(result.outcome, NotifyOutcome.SUCCESS)
        announce(ctx, "wait", outcome, f"wait: {result.outcome.value}")
    codes = {WaitOutcome.FAILED: 1, WaitOutcome.TIMED_OUT: TIMED_OUT_EXIT}
    ctx.exit(codes.get(result.outcome, 0))
