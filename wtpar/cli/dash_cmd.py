"""`wtpar dash`: the Textual dashboard (the only command that imports textual)."""

from __future__ import annotations

import click

from wtpar.cli._common import services_from


@click.command()
@click.option(
    "--refresh",
    type=click.FloatRange(min=0.5),
    default=5.0,
    show_default=True,
    help="Seconds between background status refreshes.",
)
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), help="Pool size for runs (default: CPUs)."
)
@click.option(
    "--backend",
    type=click.Choice(("local", "dask")),
    help="Where runs started here go: this machine, or a Dask cluster (see `wtpar run`).",
)
@click.option("--scheduler", metavar="ADDRESS", help="The Dask scheduler (implies --backend dask).")
@click.pass_context
def dash(
    ctx: click.Context,
    refresh: float,
    jobs: int | None,
    backend: str | None,
    scheduler: str | None,
) -> None:
    """Open the dashboard: every worktree's state beside the merge-readiness summary.

    \b
    Keys:
      r / R      run a task or command on the selected / marked (or all) branches
      f          re-run failed tasks       c / C   cancel selected / all
      space / a  mark a branch / all       n / d   spawn / remove a worktree
      k          check merge readiness     p       prune stale worktrees
      g          refresh                   / s     filter rows / cycle sort column
      [ ]        switch the log's task     q       quit (cancels running tasks)
    """
    from wtpar.tui.app import make_app

    services = services_from(ctx)
    services.backend = "dask" if scheduler and backend is None else backend
    services.scheduler = scheduler
    app = make_app(services, refresh_interval=refresh, jobs=jobs)
    app.run()
    ctx.exit(app.return_code or 0)
