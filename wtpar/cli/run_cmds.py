"""`wtpar run`: commands or tasks in many worktrees through the shared pool (its option
helpers are shared with `wtpar exec` and `wtpar tune`)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from typing import IO

import click

from wtpar.cli import start_up_over
from wtpar.cli._common import (
    check_writable,
    complete_worktree_branch,
    echo,
    pipe_safe,
    say,
    services_from,
)
from wtpar.cli.notify_cmds import announce, notify_option
from wtpar.cli.run_output import LiveOutput
from wtpar.errors import Interrupted, UsageError, signal_label
from wtpar.model import (
    RunReport,
    RunStatus,
)
from wtpar.notices import set_sink
from wtpar.run.plan import RunRequest
from wtpar.run.runconfig import OUTPUT_MODES, parse_run_settings
from wtpar.text import parse_duration

_BAD = (RunStatus.FAILED, RunStatus.TIMED_OUT)
_JUNIT_TAIL_LINES = 200


class CommandAfterDashes(click.Command):
    """A command whose arguments after `--` are kept apart, as the command line to run."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            at = args.index("--")
            ctx.meta["wtpar.argv"] = args[at + 1 :]
            args = args[:at]
        return super().parse_args(ctx, args)


def command_line(argv: Sequence[str]) -> str | None:
    """The shell command for the words after `--`: one word is a shell command line as is,
    several are quoted (shlex.join) so each stays one argument."""
    if not argv:
        return None
    if len(argv) == 1:
        return argv[0]
    return shlex.join(argv)


def duration_option(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A click callback: `30s`, `10m`, `1h30m` as seconds (None when not given)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _jobs_option(ctx: click.Context, param: click.Parameter, value: str | None) -> int | str | None:
    if value is None or value == "auto":
        return value
    try:
        jobs = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: give a number of slots, or auto") from None
    if jobs < 1:
        raise click.BadParameter(f"{value!r}: at least 1 slot")
    return jobs


def _per_branch(values: Sequence[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        branch, sep, cmd = value.partition("=")
        if not sep or not branch or not cmd.strip():
            raise UsageError(
                f"-c {value!r}: expected BRANCH=COMMAND, e.g. -c feature-a='make test'"
            )
        pairs.append((branch, cmd))
    return tuple(pairs)


def _log_tail(path: str | None) -> str:
    if not path or not os.path.exists(path):
        return ""
    with open(path, encoding="utf-8", errors="replace") as fh:
        lines = fh.readlines()
    return "".join(lines[-_JUNIT_TAIL_LINES:])


def _write(option: str, path: str, text: str, errors: str = "surrogateescape") -> str | None:
    """Write a report; bytes of names that are not UTF-8 go as they are (`errors`). Why
    not, naming the option, if it cannot be written (the path was checked before the run,
    but a folder such as /proc, or one that changed meanwhile, still refuses)."""
    try:
        with open(path, "w", encoding="utf-8", errors=errors) as fh:
            fh.write(text)
    except OSError as exc:
        return f"{option} {path}: cannot write it ({exc.strerror or exc})"
    return None


branches_option = click.option(
    "-b",
    "--branch",
    "branches",
    multiple=True,
    metavar="BRANCH",
    shell_complete=complete_worktree_branch,
    help="Run in this worktree (repeatable; globs allowed). Default: all but the main one.",
)
"""`-b BRANCH`, as `wtpar run` and `wtpar tune` take it."""

RUN_HELP = """Run commands or named tasks in many worktrees at once, through one shared pool.

\b
  wtpar run -- pytest -q                   # in every worktree but the main one
  wtpar run -b feature-a -b 'fix-*' -- make test
  wtpar run -c feature-a='make test' -c feature-b='npm test'
  wtpar run test lint                      # named tasks from wtpar.toml
  wtpar run test --fail-fast --retries 1 --timeout 10m
  wtpar run --failed                       # again, what failed last time
  wtpar run test --changed                 # skip what passed at this commit
  wtpar run test -j auto                   # slots from CPUs, load, memory, history
  wtpar run test --junit report.xml --output failures   # in CI
  wtpar run test --backend dask --scheduler tcp://sched:8786   # on a Dask cluster

After `--`, one word is run as a shell command line (`-- 'make && make test'`);
several words are quoted so each stays one argument (`-- pytest -k 'a or b'`).
Named tasks bring their `depends_on` tasks and the cascades they trigger
(`after` + `when`); tasks with `scope = "once"` run once, in the main worktree.

The pool has -j slots, shared by every wtpar process on the repository: two
`wtpar run -j 4` in two terminals never run more than 4 tasks together (with
different -j, each stays within its own and all together within the largest).
A task first takes its named `locks` (`{branch}` scopes one to a worktree),
then a slot. Every task runs in its own process group; a timeout or a cancel
sends SIGTERM to the group, then SIGKILL after 5 s.

When more tasks are ready than slots are free, the one with the longest
remaining critical path (from the durations remembered in past runs) starts
first; a task's `priority` comes before that. `-j auto` sizes the pool from the
usable CPUs, the load, the free memory and that history (or the -j recorded by
`wtpar tune`), and the summary says why.

Every task's output is kept, complete, in .git/wtpar/runs/<run-id>/<branch>/<task>.log
with report.json beside it. --output: `stream` prints lines as they come,
prefixed [branch:task]; `grouped` prints each task's output in one block when
it ends; `failures` only failed tasks' output; `quiet` nothing until the
summary. The default is a live progress line on a terminal, `grouped` otherwise.

--retries and --timeout apply to every task, replacing the tasks' own. Retries
wait 0.5 s, 1 s, 2 s, ... between attempts; a timeout counts as a failure.
--changed skips a task whose last run on the same tree succeeded, with the
same command and env, on any branch: HEAD's tree on a clean worktree, the tree
of the files as they are (untracked included) on a dirty one.
--failed runs again every task that failed, timed out, was cancelled, or was
skipped for a failed dependency in the last run, with the same commands.

--backend dask runs the same graph on a Dask cluster (`pip install
"wtpar[dask]"`): --scheduler or `[dask] scheduler` names it; without one, a
LocalCluster of worker processes is started for the run. Workers run each task on
the worktree's exact state (HEAD plus uncommitted and untracked changes, as a
snapshot commit), named locks are held by the scheduler, -j caps the tasks in
flight, and a task whose worker dies runs again elsewhere (an infrastructure
retry, not an attempt). See the README's Dask section.

A task that does not run is skipped as `unchanged` (a success), `dependency
failed` (a failure), `not applicable` (a dependency does not run on that branch)
or `not triggered` (a cascade that did not fire).

Exit status: 0 when no task failed, 1 when any failed, timed out, was cancelled
or was skipped for a failed dependency, 2 for a usage or configuration error,
130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP (the first signal stops
starting tasks, terminates the running ones and writes the partial report; a
second one kills them at once). If wtpar is killed outright, a watchdog stops
its tasks.
"""


@click.command(cls=CommandAfterDashes, help=RUN_HELP, short_help="Run commands in many worktrees.")
@click.argument("task_names", nargs=-1, metavar="[TASK]... [-- COMMAND [ARG]...]")
@branches_option
@click.option(
    "-j",
    "--jobs",
    callback=_jobs_option,
    metavar="N|auto",
    help="Slots in the pool, or `auto` (from CPUs, load, memory and history). "
    "Default: [run] jobs, else the number of usable CPUs.",
)
@click.option(
    "-c",
    "per_branch",
    multiple=True,
    metavar="BRANCH=CMD",
    help="Run CMD in BRANCH's worktree (repeatable; overrides the command after --).",
)
@click.option(
    "--stagger",
    metavar="SECONDS",
    callback=duration_option,
    help="Wait this long between two task starts (e.g. 0.5, 200ms).",
)
@click.option(
    "--keep-going/--fail-fast",
    default=True,
    help="Keep going after a failure (default; dependents are skipped), or stop at the "
    "first one: terminate running tasks, cancel the rest.",
)
@click.option("--retries", type=click.IntRange(min=0), help="Retry failed tasks N times.")
@click.option(
    "--timeout",
    metavar="DURATION",
    callback=duration_option,
    help="Time limit per attempt (e.g. 90, 30s, 10m, 1h30m).",
)
@click.option(
    "--output",
    type=click.Choice(OUTPUT_MODES),
    help="stream | grouped | failures | quiet (default: progress line on a terminal, "
    "else grouped).",
)
@click.option("--report", "report_path", metavar="FILE.json", help="Also write report.json here.")
@click.option("--csv", "csv_path", metavar="FILE", help="Write one CSV row per task.")
@click.option("--junit", "junit_path", metavar="FILE.xml", help="Write JUnit XML (for CI).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON on stdout (text on stderr)."
)
@click.option("--failed", is_flag=True, help="Run again what did not succeed in the last run.")
@click.option(
    "--changed", is_flag=True, help="Skip tasks that passed on the same tree (any branch)."
)
@click.option(
    "--backend",
    type=click.Choice(("local", "dask")),
    help="Where tasks run: this machine, or a Dask cluster (default: [run] backend, else local).",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="The Dask scheduler (tcp://host:8786, tls://...); none: a LocalCluster for the run.",
)
@notify_option
@click.pass_context
def run(
    ctx: click.Context,
    task_names: tuple[str, ...],
    branches: tuple[str, ...],
    jobs: int | str | None,
    per_branch: tuple[str, ...],
    stagger: float | None,
    keep_going: bool,
    retries: int | None,
    timeout: float | None,
    output: str | None,
    report_path: str | None,
    csv_path: str | None,
    junit_path: str | None,
    as_json: bool,
    failed: bool,
    changed: bool,
    notify: bool,
    backend: str | None,
    scheduler: str | None,
) -> None:
    svc = services_from(ctx)
    command = command_line(ctx.meta.get("wtpar.argv", []))
    if failed and (task_names or command or per_branch):
        raise UsageError("--failed runs the last run's failures again: give no tasks or command")
    if timeout is not None and timeout <= 0:
        raise UsageError("--timeout must be more than zero")
    for option, path in (("--report", report_path), ("--csv", csv_path), ("--junit", junit_path)):
        check_writable(option, path)  # before the tasks run, not after
    request = RunRequest(
        task_names=task_names,
        command=command,
        per_branch=_per_branch(per_branch),
        branches=branches,
        jobs=jobs if isinstance(jobs, int) else None,
        auto_jobs=jobs == "auto",
        stagger=stagger or 0.0,
        fail_fast=not keep_going,
        retries=retries,
        timeout=timeout,
        changed=changed,
        failed_only=failed,
        backend="dask" if scheduler and backend is None else backend,
        scheduler=scheduler,
    )
    out = pipe_safe(sys.stderr if as_json else sys.stdout)
    if failed:
        last = svc.last_run_report()
        if last is not None and not any(t.rerun_wanted for t in last.tasks):
            click.echo(f"nothing failed in the last run ({last.run_id})", file=out)
            return
    default = parse_run_settings(svc.config).output
    mode = output or default or ("progress" if out.isatty() else "grouped")
    dispatcher = svc.make_dispatcher(request, on_note=_warn)
    if not dispatcher.keys:
        click.echo("nothing to run", file=out)
        return
    live = LiveOutput(mode, out, eta=dispatcher.eta, holding=lambda: dispatcher.holding_back)
    # When the executor cannot start, its error alone says why (one line), not each task.
    dispatcher.subscribe(lambda event: None if dispatcher.start_failed else live(event))
    from wtpar.run.runner import run_sync

    start_up_over()  # the plan, made, lives until the process ends: frozen with the rest
    previous = set_sink(lambda text: live.aside(lambda: previous(text)))
    try:
        report = run_sync(
            dispatcher,
            on_tick=live.draw if mode == "progress" else None,
            on_interrupt=lambda n, name: say_interrupted(n, name, dispatcher.report is not None),
        )
    finally:
        live.clear()
        set_sink(previous)
    if notify:
        from wtpar.notify import NotifyOutcome  # here: only --notify sends one
        from wtpar.run.report import counts_line

        bad = [str(t.key) for t in report.tasks if t.status in _BAD]
        text = counts_line(report) + (f"; failed: {', '.join(bad)}" if bad else "")
        interrupted = report.interrupted or dispatcher.interrupted
        announce(ctx, "run", NotifyOutcome.of(report.ok, interrupted), text)
    # Also a signal after the last task ended, as the run recorded its results: 130 all the same.
    stopped = (report.signal or dispatcher.signal or "SIGINT") if dispatcher.interrupted else None
    _finish(ctx, report, out, report_path, csv_path, junit_path, as_json, stopped)


def _warn(text: str) -> None:
    click.echo(f"wtpar: warning: {text}", err=True)


def say_interrupted(presses: int, signal_name: str, tasks_ended: bool = False) -> None:
    """Say on the terminal what the first and the second interruption do (`tasks_ended`:
    the run was recording its results)."""
    label = signal_label(signal_name)
    again = "Ctrl-C again" if signal_name == "SIGINT" else f"{signal_name} again"
    if tasks_ended:
        if presses == 1:
            say(f"\nwtpar: interrupted ({label}): not waiting to record results and history")
    elif presses == 1:
        say(f"\nwtpar: interrupted ({label}): terminating running tasks ({again} to kill them now)")
    else:
        say("wtpar: killing running tasks")


def _finish(
    ctx: click.Context,
    report: RunReport,
    out: IO[str],
    report_path: str | None,
    csv_path: str | None,
    junit_path: str | None,
    as_json: bool,
    stopped: str | None,
) -> None:
    from wtpar.run.report import report_csv, report_json, report_junit, summary  # as tasks ran

    click.echo("", file=out)
    click.echo(summary(report), file=out)
    logs = os.path.dirname(report.tasks[0].log_path or "") if report.tasks else ""
    run_dir = os.path.dirname(logs) if logs else ""
    if run_dir:
        echo(f"logs and report.json: {run_dir}", file=out)
    unwritten = []  # each file is written even when another is not
    if report_path:
        unwritten.append(_write("--report", report_path, report_json(report)))
    if csv_path:
        unwritten.append(_write("--csv", csv_path, report_csv(report)))
    if junit_path:
        tails = {t.key: _log_tail(t.log_path) for t in report.tasks if t.status in _BAD}
        xml = report_junit(report, tails)
        unwritten.append(_write("--junit", junit_path, xml, "backslashreplace"))  # UTF-8
    if as_json:
        click.echo(report_json(report), nl=False, file=pipe_safe(sys.stdout))
    for problem in filter(None, unwritten):
        say(f"wtpar: error: {problem}")
    if stopped is not None:
        raise Interrupted(stopped)
    if not report.ok or any(unwritten):
        ctx.exit(1)
