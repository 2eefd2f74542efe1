"""`wtpar env`, `up`, `down`, `ps` and `sync`: each worktree's ports and variables, its
long-running services, and its copied ignored files."""

from __future__ import annotations

import time

import click

from wtpar.cli._common import complete_worktree_branch, echo, echo_json, services_from
from wtpar.text import aligned_table
from wtpar.worktrees.devservices import ServiceState, StartOutcome, StartResult, StopOutcome
from wtpar.worktrees.environment import export_lines
from wtpar.worktrees.sync import FileOutcome

JSON_SCHEMA = 1


@click.command("env")
@click.argument("branch", required=False, shell_complete=complete_worktree_branch)
@click.option("--json", "as_json", is_flag=True, help="Print one flat JSON object of variables.")
@click.pass_context
def env_cmd(ctx: click.Context, branch: str | None, as_json: bool) -> None:
    """Print BRANCH's environment (default: the worktree you are in) as `export` lines.

    Ports from [env] ports (WTPAR_PORT_<NAME>, and WTPAR_PORT for the first), allocated on
    first use and kept until the worktree is removed, plus [env] vars filled in for the
    branch. Every command wtpar starts in the worktree already has them.

    \b
      eval "$(wtpar env feature-a)"
      wtpar env feature-a --json
    """
    svc = services_from(ctx)
    if branch is None:
        wt = svc.worktree_at(ctx.find_root().obj.get("repo_dir", "."))
        branch = wt.branch or wt.path
    variables = svc.worktree_env(branch)
    if as_json:
        echo_json(variables)
    else:
        click.echo(export_lines(variables), nl=False)


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_worktree_branch)
@click.option(
    "-s", "--service", "names", multiple=True, metavar="NAME", help="Only this service (repeat)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def up(
    ctx: click.Context, branches: tuple[str, ...], names: tuple[str, ...], as_json: bool
) -> None:
    """Start the [services.*] of BRANCHES' worktrees (default: every worktree but main).

    Each runs detached in its own session, with the worktree's environment, its output in
    .git/wtpar/services/. wtpar waits until its `ready` port or URL answers; a service that
    exits or does not answer in time is reported with its exit code and last log lines
    (exit 1). A service already running is left alone.
    """
    results = services_from(ctx).up(branches, names)
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "services": [_start_json(r) for r in results]})
    else:
        if not results:
            click.echo('no services: configure [services.NAME] with cmd = "..."')
        for r in results:
            _echo_start(r)
    if any(not r.ok for r in results):
        ctx.exit(1)


def _echo_start(r: StartResult) -> None:
    where = f"{r.branch}  {r.service}"
    if r.outcome is StartOutcome.READY:
        echo(f"ready    {where}  pid {r.pid}  ({r.waited_for} answers)")
    elif r.outcome is StartOutcome.STARTED:
        echo(f"started  {where}  pid {r.pid}")
    elif r.outcome is StartOutcome.ALREADY_RUNNING:
        echo(f"running  {where}  pid {r.pid}  (already)")
    else:
        log = f" (log: {r.log})" if r.log else ""
        echo(f"failed   {where}: {r.why_not}{log}", err=True)
        for line in r.log_tail:
            click.echo(f"    {line}", err=True)


def _start_json(r: StartResult) -> dict[str, object]:
    return {
        "branch": r.branch,
        "service": r.service,
        "outcome": r.outcome.value,
        "ok": r.ok,
        "pid": r.pid,
        "port": r.port,
        "exit_code": r.exit_code,
        "log": r.log,
        "log_tail": list(r.log_tail),
    }


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_worktree_branch)
@click.option(
    "-s", "--service", "names", multiple=True, metavar="NAME", help="Only this service (repeat)."
)
@click.pass_context
def down(ctx: click.Context, branches: tuple[str, ...], names: tuple[str, ...]) -> None:
    """Stop the services of BRANCHES (default: every running service).

    Each service's whole process group gets SIGTERM, then SIGKILL after 5 seconds.
    """
    results = services_from(ctx).down(branches, names)
    if not results:
        click.echo("no services are running")
    words = {
        StopOutcome.STOPPED: "stopped",
        StopOutcome.KILLED: "killed ",
        StopOutcome.NOT_RUNNING: "gone   ",
    }
    for r in results:
        echo(f"{words[r.outcome]}  {r.branch}  {r.service}  pid {r.pid}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print {schema, services: [...]} as JSON.")
@click.pass_context
def ps(ctx: click.Context, as_json: bool) -> None:
    """List the services wtpar started: branch, service, port, pid, uptime and state."""
    from wtpar.cli.worktree_cmds import format_age

    statuses = services_from(ctx).service_statuses()
    now = time.time()
    if as_json:
        echo_json(
            {
                "schema": JSON_SCHEMA,
                "services": [
                    {
                        "branch": s.record.branch,
                        "service": s.record.service,
                        "state": s.state.value,
                        "pid": s.record.pid,
                        "port": s.record.port,
                        "uptime": s.uptime(now),
                        "cmd": s.record.cmd,
                        "log": s.record.log,
                        "worktree": s.record.path,
                    }
                    for s in statuses
                ],
            }
        )
        return
    if not statuses:
        click.echo("no services (start them with `wtpar up`)")
        return
    rows = [
        [
            s.record.branch,
            s.record.service,
            str(s.record.port or "-"),
            str(s.record.pid),
            format_age(s.uptime(now)),
            s.state.value,
        ]
        for s in statuses
    ]
    click.echo(aligned_table(["BRANCH", "SERVICE", "PORT", "PID", "UP", "STATE"], rows))
    if any(s.state is ServiceState.EXITED for s in statuses):
        click.echo("exited services stay listed until `wtpar down` or `wtpar up` again")


@click.command()
@click.argument("branches", nargs=-1, shell_complete=complete_worktree_branch)
@click.option(
    "--force", is_flag=True, help="Also overwrite files that were changed in the worktree."
)
@click.option("--json", "as_json", is_flag=True, help="Print every file's outcome as JSON.")
@click.pass_context
def sync(ctx: click.Context, branches: tuple[str, ...], force: bool, as_json: bool) -> None:
    """Copy the configured ignored files into BRANCHES' worktrees again (default: all but main).

    Files come from [worktrees] copy and from .worktreeinclude (gitignore syntax; only
    ignored files) in the main worktree, copy-on-write where the filesystem allows. A file
    changed in the worktree since wtpar copied it is kept and listed as skipped, unless
    --force. [env] file is written again. Exit 1 if a file could not be copied.
    """
    results = services_from(ctx).sync(branches, force)
    if as_json:
        echo_json(
            {
                "schema": JSON_SCHEMA,
                "worktrees": [
                    {
                        "branch": r.branch,
                        "path": r.path,
                        "files": [
                            {"path": f.rel, "outcome": f.outcome.value, "error": f.error}
                            for f in r.files
                        ],
                    }
                    for r in results
                ],
            }
        )
    else:
        for r in results:
            counts = [
                f"{len(r.with_outcome(o))} {o.value}"
                for o in FileOutcome
                if r.with_outcome(o) and o not in (FileOutcome.SKIPPED, FileOutcome.FAILED)
            ]
            echo(f"{r.branch}: {', '.join(counts) or 'nothing to copy'}")
            for rel in r.with_outcome(FileOutcome.SKIPPED):
                click.echo(
                    f"  skipped {rel}: changed in the worktree (--force overwrites)", err=True
                )
            for f in r.files:
                if f.outcome is FileOutcome.FAILED:
                    click.echo(f"  failed  {f.error}", err=True)
    if any(f.outcome is FileOutcome.FAILED for r in results for f in r.files):
        ctx.exit(1)
