"""`wtpar spawn`, `list`, `path`, `remove` and `prune`."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import click

from wtpar.cli._common import (
    complete_any_branch,
    complete_worktree_branch,
    echo,
    echo_json,
    env_view_json,
    services_from,
)
from wtpar.cli.lease_cmds import lease_json, lease_text
from wtpar.model import BranchStatus
from wtpar.text import aligned_table

JSON_SCHEMA = 1


@click.command()
@click.argument("branches", nargs=-1, required=True, shell_complete=complete_any_branch)
@click.option(
    "--from",
    "from_ref",
    metavar="REF",
    help="Start new branches here (default: configured base, else the remote's default "
    "branch, else the current branch).",
)
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
@click.option("--claim", "claim_by", metavar="NAME", help="Also claim the worktrees for NAME.")
@click.pass_context
def spawn(
    ctx: click.Context,
    branches: tuple[str, ...],
    from_ref: str | None,
    as_json: bool,
    claim_by: str | None,
) -> None:
    """Create one worktree per BRANCH, in parallel.

    An existing local branch is checked out; a branch that exists only on a remote gets a
    local tracking branch; any other name becomes a new branch from --from. Branches that
    already have a worktree are reported and left alone. Exit 1 if any branch failed.
    """
    from wtpar.model import SpawnOutcome  # here: `wtpar list` never needs it

    svc = services_from(ctx)
    if claim_by is not None:
        results = svc.spawn_claimed(branches, claim_by, from_ref)
    else:
        results = svc.spawn(branches, from_ref)
    failed = any(r.outcome is SpawnOutcome.FAILED or r.setup_errors for r in results)
    if as_json:
        echo_json(
            {
                "schema": JSON_SCHEMA,
                "worktrees": [
                    {
                        "branch": r.branch,
                        "outcome": r.outcome.value,
                        "path": r.path,
                        "how": r.how,
                        "base": r.base_ref,
                        "base_sha": r.base_sha,
                        "error": r.error,
                        "setup_errors": list(r.setup_errors),
                        "from_spare": r.from_spare,
                    }
                    for r in results
                ],
            }
        )
    else:
        how_words = {
            "local": "existing branch",
            "remote": "tracking {base}",
            "new": "new branch from {base}",
        }
        for r in results:
            if r.outcome is SpawnOutcome.FAILED:
                echo(f"failed   {r.branch}: {r.error}", err=True)
                continue
            if r.outcome is SpawnOutcome.EXISTS:
                echo(f"exists   {r.branch}  {r.path}")
                continue
            if r.outcome is SpawnOutcome.COMPLETED:
                echo(f"completed  {r.branch}  {r.path}  (the checkout had not finished)")
                continue
            how = how_words.get(r.how or "", "").format(base=r.base_ref)
            how += ", from a warm spare" if r.from_spare else ""
            echo(f"created  {r.branch}  {r.path}  ({how})")
            for err in r.setup_errors:
                click.echo(f"  setup failed: {err}", err=True)
    if failed:
        ctx.exit(1)


def _status_json(bs: BranchStatus) -> dict[str, Any]:
    wt, st, rec = bs.worktree, bs.status, bs.record
    return {
        "branch": wt.branch,
        "path": wt.path,
        "head": wt.head,
        "is_main": wt.is_main,
        "detached": wt.detached,
        "dirty": st.dirty if st else None,
        "staged": st.staged if st else None,
        "modified": st.modified if st else None,
        "untracked": st.untracked if st else None,
        "conflicted": st.conflicted if st else None,
        "ahead": bs.ahead,
        "behind": bs.behind,
        "upstream": bs.upstream,
        "upstream_ahead": bs.upstream_ahead,
        "upstream_behind": bs.upstream_behind,
        "upstream_gone": bs.upstream_gone,
        "locked": wt.locked,
        "locked_reason": wt.locked_reason,
        "prunable": wt.prunable,
        "prunable_reason": wt.prunable_reason,
        "operation": bs.operation,
        "base": bs.base,
        "base_sha": rec.base_sha if rec else None,
        "created": rec.created if rec else None,
        "populated": rec.populated if rec else True,
        "last_commit": bs.last_commit_time,
    }


def format_age(seconds: float | None) -> str:
    """`5m`, `3h`, `2d`, `7w` for an age in seconds; `-` when unknown."""
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    for size, unit in ((604800, "w"), (86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def _flags(bs: BranchStatus) -> str:
    wt = bs.worktree
    flags = []
    if wt.is_main:
        flags.append("main")
    if wt.locked:
        flags.append("locked")
    if wt.prunable:
        flags.append("prunable")
    if bs.operation:
        flags.append(bs.operation)
    if bs.record and not bs.record.populated:
        flags.append("populating")
    return ",".join(flags)


def display_path(path: str) -> str:
    """A path relative to the current folder when that is shorter (and there is one: it may
    have been deleted, with `-C` naming the repository)."""
    try:
        rel = os.path.relpath(path)
    except (ValueError, OSError):
        return path
    return rel if len(rel) < len(path) else path


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print {schema, worktrees: [...]} as JSON.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """Show every worktree: branch, path, HEAD, changes, ahead/behind base and upstream.

    \b
    DIRTY:    +staged ~modified ?untracked !conflicted
    BASE:     ↑ commits ahead of / ↓ behind the base branch
    UPSTREAM: the same against the branch's upstream; none, or gone
    """
    svc = services_from(ctx)
    statuses = svc.list_worktrees()
    views = svc.env_views([bs.worktree for bs in statuses])
    leases = svc.leases()
    if as_json:
        worktrees = [
            {
                **_status_json(bs),
                **env_view_json(views.get(bs.worktree.path)),
                **lease_json(leases.get(bs.worktree.branch or "")),
            }
            for bs in statuses
        ]
        echo_json({"schema": JSON_SCHEMA, "worktrees": worktrees})
        return
    now = time.time()
    rows = []
    for bs in statuses:
        wt = bs.worktree
        rows.append(
            [
                wt.branch or "(detached)",
                display_path(wt.path),
                (wt.head or "")[:8] or "-",
                bs.changes_text(),
                bs.base_text(),
                bs.upstream_text(),
                format_age(now - bs.last_commit_time if bs.last_commit_time else None),
                _flags(bs),
            ]
        )
    headers = ["BRANCH", "PATH", "HEAD", "DIRTY", "BASE", "UPSTREAM", "AGE", "FLAGS"]
    if any(v.ports or v.services for v in views.values()):
        headers[-1:-1] = ["PORTS", "SERVICES"]
        for row, bs in zip(rows, statuses, strict=True):
            view = views[bs.worktree.path]
            row[-1:-1] = [view.ports_text(), view.services_text()]
    if leases:  # the HOLDER column appears once anyone claims a worktree
        headers.insert(1, "HOLDER")
        for row, bs in zip(rows, statuses, strict=True):
            row.insert(1, lease_text(leases.get(bs.worktree.branch or ""), now))
    click.echo(aligned_table(headers, rows))


@click.command()
@click.argument("branch", shell_complete=complete_worktree_branch)
@click.pass_context
def path(ctx: click.Context, branch: str) -> None:
    """Print the worktree path of BRANCH, for `cd "$(wtpar path BRANCH)"`."""
    found = services_from(ctx).path_of(branch)
    if sys.stdout.isatty():
        echo(found)  # to be read: what could steer the terminal shown as escapes
    else:
        # To be used: byte for byte (click.echo drops escape sequences off a terminal).
        sys.stdout.buffer.write(os.fsencode(found) + b"\n")
        sys.stdout.flush()


@click.command()
@click.argument("branches", nargs=-1, required=True, shell_complete=complete_worktree_branch)
@click.option("--force", is_flag=True, help="Remove even with uncommitted or unpushed work.")
@click.option(
    "--delete-branch",
    is_flag=True,
    help="Also delete the branch, only if it is integrated into the base (merged or squashed).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def remove(
    ctx: click.Context, branches: tuple[str, ...], force: bool, delete_branch: bool, as_json: bool
) -> None:
    """Remove the worktrees of BRANCHES.

    Refuses, unless --force, a worktree with uncommitted or untracked changes, hidden
    (assume-unchanged / skip-worktree) changes, commits that are on no other branch or
    remote (submodule commits too), a rebase or merge in progress, or a task running in it
    (--force stops the task first). Never removes the main worktree or a locked one.
    Ignored files are deleted, and counted in the output. The folder is moved aside and
    deleted in the background, so this returns at once.
    """
    svc = services_from(ctx)
    results = svc.remove(branches, force=force, delete_branch=delete_branch)
    if as_json:
        echo_json(
            {
                "schema": JSON_SCHEMA,
                "removed": [
                    {
                        "branch": r.branch,
                        "removed": r.removed,
                        "path": r.path,
                        "branch_deleted": r.branch_deleted,
                        "message": r.message,
                        "error": r.error,
                        "ignored_files": r.ignored.files,
                        "ignored_bytes": r.ignored.size,
                        "ignored_complete": r.ignored.complete,
                        "stopped": list(r.stopped),
                    }
                    for r in results
                ],
            }
        )
    else:
        for r in results:
            if r.removed:
                for task in r.stopped:
                    click.echo(f"stopped {task}")
                notes = [n for n in (r.ignored.text(), r.message) if n]
                extra = f"; {'; '.join(notes)}" if notes else ""
                echo(f"removed  {r.branch}  {r.path}{extra}")
            else:
                echo(f"refused  {r.branch}: {r.error}", err=True)
    if any(not r.removed for r in results):
        ctx.exit(1)


@click.command()
@click.option("--merged", is_flag=True, help="Also remove clean worktrees whose branch is merged.")
@click.option("--dry-run", "-n", is_flag=True, help="Only list what would be removed.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def prune(ctx: click.Context, merged: bool, dry_run: bool, as_json: bool) -> None:
    """Forget worktrees whose folder is gone; with --merged, remove integrated ones too."""
    svc = services_from(ctx)
    result = svc.prune(merged=merged, dry_run=dry_run)
    if as_json:
        echo_json(
            {
                "schema": JSON_SCHEMA,
                "dry_run": result.dry_run,
                "stale": list(result.stale),
                "merged": list(result.merged),
                "kept": [{"branch": b, "reason": why} for b, why in result.kept],
                "ignored": {
                    b: {"files": i.files, "bytes": i.size, "complete": i.complete}
                    for b, i in result.ignored
                },
            }
        )
        return
    verb = "would prune" if dry_run else "pruned"
    for p in result.stale:
        click.echo(f"{verb}  {p}  (folder is gone)")
    verb = "would remove" if dry_run else "removed"
    ignored = dict(result.ignored)
    for b in result.merged:
        also = ignored[b].text() if b in ignored else ""
        echo(f"{verb}  {b}  (merged{'; ' + also if also else ''})")
    for b, why in result.kept:
        echo(f"kept  {b}: {why}", err=True)
    if not (result.stale or result.merged or result.kept):
        click.echo("nothing to prune", file=sys.stdout)
