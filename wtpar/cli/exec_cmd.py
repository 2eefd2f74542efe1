"""`wtpar exec`: one command in one worktree, through the shared pool, its output passed
through byte for byte."""

from __future__ import annotations

import click

from wtpar.cli import start_up_over
from wtpar.cli._common import complete_worktree_branch, echo, services_from
from wtpar.cli.passthrough import PassThrough
from wtpar.cli.run_cmds import CommandAfterDashes, command_line, duration_option, say_interrupted
from wtpar.cli.run_output import task_outcome
from wtpar.errors import Interrupted, UsageError
from wtpar.model import RunStatus
from wtpar.run.plan import RunRequest

EXEC_HELP = """Run one command in one worktree, through the shared pool.

\b
  wtpar exec feature-a -- make test
  wtpar exec feature-a --lock db -- ./migrate.sh     # never alongside another db user
  wtpar exec main -- git log -1

The command takes a slot of the pool shared with every `wtpar run`, and waits
for its --lock names first, like a task. Its output (stdout and stderr merged)
comes out on stdout byte for byte as it is written, and is kept in
.git/wtpar/runs/. The exit status is the command's own (1 if it timed out, 130
after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP).
"""


@click.command(
    cls=CommandAfterDashes, help=EXEC_HELP, short_help="Run one command in one worktree."
)
@click.argument("branch", shell_complete=complete_worktree_branch)
@click.option(
    "--lock",
    "locks",
    multiple=True,
    metavar="NAME",
    help="Hold this named lock while the command runs (repeatable; {branch} allowed).",
)
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Slots in the pool.")
@click.option("--timeout", metavar="DURATION", callback=duration_option, help="Time limit.")
@click.pass_context
def exec_cmd(
    ctx: click.Context,
    branch: str,
    locks: tuple[str, ...],
    jobs: int | None,
    timeout: float | None,
) -> None:
    svc = services_from(ctx)
    command = command_line(ctx.meta.get("wtpar.argv", []))
    if command is None:
        raise UsageError("give the command after --, e.g. wtpar exec feature-a -- make test")
    branch = svc.run_name(branch)
    request = RunRequest(
        per_branch=((branch, command),),
        branches=(branch,),
        jobs=jobs,
        timeout=timeout,
        locks=locks,
    )
    dispatcher = svc.make_dispatcher(request)
    dispatcher.subscribe(PassThrough())
    from wtpar.run.runner import run_sync

    start_up_over()
    report = run_sync(
        dispatcher,
        on_interrupt=lambda n, name: say_interrupted(n, name, dispatcher.report is not None),
    )
    if report.interrupted or dispatcher.interrupted:  # also: as it recorded the result
        raise Interrupted(report.signal or dispatcher.signal or "SIGINT")
    task = report.tasks[0]
    if task.status is RunStatus.OK:
        return
    outcome = task_outcome(task.status, task.exit_code, None, task.reason)
    echo(f"wtpar: {task.key}: {outcome}", err=True)
    ctx.exit(task.exit_code if task.status is RunStatus.FAILED and task.exit_code else 1)
