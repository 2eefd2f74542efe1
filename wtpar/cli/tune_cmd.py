"""`wtpar tune`: the scaling (and staggered-start) experiment, run and tabulated."""

from __future__ import annotations

import sys

import click

from wtpar.cli._common import services_from
from wtpar.cli.run_cmds import CommandAfterDashes, branches_option, command_line
from wtpar.errors import UsageError
from wtpar.model import RunReport
from wtpar.run.plan import RunRequest
from wtpar.run.resources import usable_cpus
from wtpar.run.tune import tune_json, tune_table
from wtpar.text import format_seconds, parse_duration

TUNE_HELP = """Run the same work at several -j (and stagger) settings; print what each gave.

\b
  wtpar tune test                          # -j 1, 2, 4, ... up to twice the CPUs
  wtpar tune test lint -j 1,2,4,8 --stagger 0,0.5
  wtpar tune -b feature-a -- pytest -q     # an ad-hoc command
  wtpar tune test --json                   # for scripts

Each setting runs the whole selection once, through the shared pool, one after
the other. The table shows per setting: wall time, throughput (tasks/s), speedup
and efficiency against the smallest -j, and p50/p95/p99 task durations, then a
bar chart of the wall times. The recommendation is the smallest -j within 5 % of
the fastest; it is recorded, and `wtpar run -j auto` uses it for the same tasks.

Exit status: 0 with a recommendation, 1 when no setting passed, 2 for usage errors.
"""


def _numbers(text: str, what: str, convert: type[int] | type[float]) -> list[float]:
    values = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = convert(part) if convert is int else parse_duration(part)
        except ValueError:
            raise UsageError(f"{what}: {part!r} is not a valid value") from None
        values.append(float(value))
    return values


def _default_jobs() -> str:
    top = 2 * usable_cpus()
    jobs = [1]
    while jobs[-1] * 2 <= top:
        jobs.append(jobs[-1] * 2)
    return ",".join(map(str, jobs))


@click.command(cls=CommandAfterDashes, help=TUNE_HELP, short_help="Measure the run at several -j.")
@click.argument("task_names", nargs=-1, metavar="[TASK]... [-- COMMAND [ARG]...]")
@branches_option
@click.option(
    "-j",
    "--jobs",
    "jobs_text",
    metavar="N,N,...",
    help="The -j settings to measure (default: 1, 2, 4, ... up to twice the CPUs).",
)
@click.option(
    "--stagger",
    "stagger_text",
    default="0",
    metavar="S,S,...",
    help="Stagger settings (seconds between starts) to measure each -j with (default 0).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the measurements as JSON.")
@click.pass_context
def tune(
    ctx: click.Context,
    task_names: tuple[str, ...],
    branches: tuple[str, ...],
    jobs_text: str | None,
    stagger_text: str,
    as_json: bool,
) -> None:
    svc = services_from(ctx)
    command = command_line(ctx.meta.get("wtpar.argv", []))
    jobs = [int(j) for j in _numbers(jobs_text or _default_jobs(), "-j", int)]
    if any(j < 1 for j in jobs):
        raise UsageError("-j: every setting must be at least 1")
    staggers = _numbers(stagger_text, "--stagger", float)
    if any(s < 0 for s in staggers):
        raise UsageError("--stagger: no negative settings")
    request = RunRequest(task_names=task_names, command=command, branches=branches)

    def measured(j: int, stagger: float, report: RunReport) -> None:
        wall = format_seconds(report.ended - report.started)
        extra = f" --stagger {stagger:g}" if stagger else ""
        state = "ok" if report.ok else "failed"
        click.echo(f"tune: -j {j}{extra}: {wall} ({state})", err=True)

    rows, chosen = svc.tune(
        request, list(dict.fromkeys(jobs)), list(dict.fromkeys(staggers)), measured
    )
    if as_json:
        click.echo(tune_json(rows, chosen), nl=False)
    else:
        click.echo(tune_table(rows, chosen), file=sys.stdout)
    if chosen is None:
        ctx.exit(1)
