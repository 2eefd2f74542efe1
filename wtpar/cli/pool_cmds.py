"""`wtpar pool`, `pool fill` and `pool drain`: the warm pool of spare worktrees."""

from __future__ import annotations

import time

import click

from wtpar.cli._common import echo, echo_json, services_from
from wtpar.text import aligned_table
from wtpar.worktrees.leases import format_duration
from wtpar.worktrees.spares import Spare

JSON_SCHEMA = 1


def spares_json(spares: list[Spare]) -> dict[str, object]:
    """`{"schema": 1, "spares": [{"path", "commit", "state", ...}]}`."""
    return {
        "schema": JSON_SCHEMA,
        "spares": [
            {
                "name": s.name,
                "path": s.path,
                "commit": s.commit,
                "state": s.state.value,
                "created": s.created,
                "error": s.error or None,
            }
            for s in spares
        ],
    }


def print_spares(spares: list[Spare]) -> None:
    """A table of spares, or a line saying the pool is empty."""
    if not spares:
        click.echo("the warm pool is empty (fill it with `wtpar pool fill N`)")
        return
    now = time.time()
    rows = [
        [s.name, s.state.value, s.commit[:8], format_duration(now - s.created), s.path]
        for s in spares
    ]
    click.echo(aligned_table(["SPARE", "STATE", "COMMIT", "AGE", "PATH"], rows))
    for s in spares:
        if s.error:
            echo(f"{s.name}: {s.error}", err=True)


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print {schema, spares: [...]} as JSON.")
@click.pass_context
def pool(ctx: click.Context, as_json: bool) -> None:
    """Show the warm pool: spare worktrees checked out and set up ahead of time.

    `spawn BRANCH` and `claim --any` take a ready spare when there is one: the branch is
    checked out in it (only the files that differ are written) and its folder renamed,
    instead of a full checkout and post_create. STATE is filling, ready or failed.

    \b
      wtpar pool fill 4 --from main     # four spares, set up in the background
      wtpar pool                        # their state
      wtpar pool drain                  # remove them
    """
    if ctx.invoked_subcommand is not None:
        return
    spares = services_from(ctx).spares()
    if as_json:
        echo_json(spares_json(spares))
    else:
        print_spares(spares)


@pool.command()
@click.argument("count", type=click.IntRange(min=1))
@click.option("--from", "from_ref", metavar="REF", help="Detach the spares here (default: base).")
@click.option("--wait", is_flag=True, help="Set them up in this process, return when done.")
@click.option("--json", "as_json", is_flag=True, help="Print the new spares as JSON.")
@click.pass_context
def fill(ctx: click.Context, count: int, from_ref: str | None, wait: bool, as_json: bool) -> None:
    """Create COUNT spare worktrees: checked out, copy, post_create and submodules done.

    Returns at once; a background process sets them up (log: .git/wtpar/logs/spares.log).
    Exit 1 with --wait if any failed.
    """
    spares = services_from(ctx).fill_pool(count, from_ref, wait)
    if as_json:
        echo_json(spares_json(spares))
    else:
        print_spares(spares)
    if any(s.state.value == "failed" for s in spares):
        ctx.exit(1)


@pool.command()
@click.pass_context
def drain(ctx: click.Context) -> None:
    """Remove every spare of the warm pool (stopping those still being set up)."""
    spares = services_from(ctx).drain_pool()
    click.echo(f"drained {len(spares)} spare{'' if len(spares) == 1 else 's'}")
