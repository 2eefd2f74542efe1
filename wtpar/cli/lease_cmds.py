"""`wtpar claim` and `wtpar release`: leases on worktrees, for fleets of agents."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import click

from wtpar.cli._common import complete_worktree_branch, echo, echo_json, services_from
from wtpar.errors import UsageError

if TYPE_CHECKING:
    from wtpar.worktrees.leases import Lease

JSON_SCHEMA = 1


def lease_json(lease: Lease | None) -> dict[str, Any]:
    """The lease fields of `list --json` and `claim --json`."""
    return {
        "holder": lease.holder if lease else None,
        "claimed_since": lease.since if lease else None,
        "claim_expires": lease.expires if lease else None,
        "claim_note": lease.note if lease else None,
    }


def lease_text(lease: Lease | None, now: float) -> str:
    """`alice (1h left)` for the HOLDER column; `-` when free."""
    if lease is None:
        return "-"
    from wtpar.worktrees.leases import format_duration  # here: `list` has leases to show

    return f"{lease.holder} ({format_duration(lease.expires - now)} left)"


@click.command()
@click.argument("branch", required=False, shell_complete=complete_worktree_branch)
@click.option("--by", "by", metavar="NAME", required=True, help="Who takes the worktree.")
@click.option(
    "--ttl", default="2h", show_default=True, help="How long the claim lasts: 30m, 2h, 1h30m."
)
@click.option("--note", default="", help="What the holder is doing (shown to others).")
@click.option(
    "--any",
    "any_free",
    is_flag=True,
    help="Take a ready spare from the warm pool (or spawn one) on a new branch; print its path.",
)
@click.option("--from", "from_ref", metavar="REF", help="With --any: start the new branch here.")
@click.option("--branch", "new_branch", metavar="NEW", help="With --any: the new branch's name.")
@click.option("--json", "as_json", is_flag=True, help="Print the claim as JSON.")
@click.pass_context
def claim(
    ctx: click.Context,
    branch: str | None,
    by: str,
    ttl: str,
    note: str,
    any_free: bool,
    from_ref: str | None,
    new_branch: str | None,
    as_json: bool,
) -> None:
    """Claim BRANCH's worktree for NAME, or with --any get a fresh worktree to work in.

    A worktree held by someone else is refused, naming them and since when; a claim that
    expired is free. Claiming again as the same holder renews the claim. `remove` and
    `prune` refuse a claimed worktree unless --force. With --any, exit 1 when the new
    worktree's setup (post_create, copy) failed: its path is still printed, it is claimed.

    \b
      wtpar claim feature-a --by alice --ttl 30m --note "fixing the login test"
      cd "$(wtpar claim --any --by agent-1)"      # a ready worktree on a new branch
    """
    from wtpar.worktrees.leases import parse_ttl

    svc = services_from(ctx)
    seconds = parse_ttl(ttl)
    if any_free:
        if branch:
            raise UsageError("claim --any takes no BRANCH (use --branch NEW to name it)")
        got = svc.claim_any(by, from_ref=from_ref, branch=new_branch, ttl=seconds, note=note)
        if as_json:
            echo_json(
                {
                    "schema": JSON_SCHEMA,
                    "path": got.path,
                    "branch": got.branch,
                    "ports": dict(got.ports),
                    "from_spare": got.from_spare,
                    "setup_errors": list(got.setup_errors),
                    **lease_json(got.lease),
                }
            )
        else:
            click.echo(got.path)
        for err in got.setup_errors:
            click.echo(f"wtpar: setup failed: {err}", err=True)
        if got.setup_errors:
            ctx.exit(1)
        return
    if branch is None:
        raise UsageError("claim needs a BRANCH, or --any")
    if from_ref or new_branch:
        raise UsageError("--from and --branch go with --any")
    lease = svc.claim(branch, by, seconds, note)
    if as_json:
        echo_json({"schema": JSON_SCHEMA, "branch": lease.branch, **lease_json(lease)})
        return
    until = time.strftime("%H:%M UTC", time.gmtime(lease.expires))
    echo(f"claimed  {lease.branch}  by {lease.holder} until {until}")


@click.command()
@click.argument("branch", shell_complete=complete_worktree_branch)
@click.option("--by", "by", metavar="NAME", help="Refuse unless NAME is the holder.")
@click.pass_context
def release(ctx: click.Context, branch: str, by: str | None) -> None:
    """Release the claim on BRANCH's worktree (with --by, only if NAME holds it)."""
    lease = services_from(ctx).release(branch, by)
    if lease is None:
        echo(f"{branch} was not claimed")
    else:
        echo(f"released  {branch}  (held by {lease.holder})")
