"""The commits a Dask run needs, made available where the workers fetch from.

A worker runs a task on exactly what the user has: the branch's HEAD, and by default the
uncommitted and untracked (not ignored) changes too, hidden ones (assume-unchanged,
skip-worktree: wtpar/git/hidden.py) included. Those become a snapshot commit made without
touching the worktree or its index: a copy of the index, `git add -A` into the copy,
`write-tree`, `commit-tree` with HEAD as parent. A clean worktree is just its HEAD.

The commits are then published under `refs/wtpar/runs/<run-id>/<commit>`: pushed to the
configured `[dask] repo`, or, by default, made in the repository itself (workers on this
machine or on a shared filesystem fetch from its path). `unpublish` deletes them after the run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

from wtpar.git.hidden import unhide
from wtpar.procs import run

REF_ROOT = "refs/wtpar/runs"
_IDENTITY = {
    "GIT_AUTHOR_NAME": "wtpar",
    "GIT_AUTHOR_EMAIL": "wtpar@localhost",
    "GIT_COMMITTER_NAME": "wtpar",
    "GIT_COMMITTER_EMAIL": "wtpar@localhost",
}


@dataclass(frozen=True)
class Snapshot:
    """What a worker checks out for tasks of one worktree."""

    commit: str
    top: str  # the worktree's root on this machine
    snapshotted: bool  # True when the commit holds changes not committed on the branch


def snapshot(path: str, include_changes: bool = True) -> Snapshot:
    """The commit to run on for the worktree containing `path` (see module doc)."""
    top = run(["git", "rev-parse", "--show-toplevel"], cwd=path).stdout.strip()
    found = run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=top, check=False)
    head = found.stdout.strip() if found.returncode == 0 else None
    if head is not None and not include_changes:
        return Snapshot(head, top, False)
    index = run(["git", "rev-parse", "--path-format=absolute", "--git-path", "index"], cwd=top)
    scratch = tempfile.mkdtemp(prefix="wtpar-snapshot-")
    try:
        temp_index = os.path.join(scratch, "index")
        if os.path.exists(index.stdout.strip()):
            shutil.copyfile(index.stdout.strip(), temp_index)
        env = {"GIT_INDEX_FILE": temp_index}
        if include_changes:
            unhide(top, env)  # assume-unchanged and skip-worktree files as they are
            run(["git", "add", "-A", "--", "."], cwd=top, env=env)
        tree = run(["git", "write-tree"], cwd=top, env=env).stdout.strip()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if (
        head is not None
        and tree == run(["git", "rev-parse", f"{head}^{{tree}}"], cwd=top).stdout.strip()
    ):
        return Snapshot(head, top, False)
    parents = ["-p", head] if head else []
    commit = run(
        ["git", "commit-tree", tree, *parents, "-m", "wtpar: snapshot of uncommitted changes"],
        cwd=top,
        env=_IDENTITY,
    ).stdout.strip()
    return Snapshot(commit, top, True)


def run_ref(run_id: str, commit: str) -> str:
    """The ref that holds `commit` for the workers during run `run_id`."""
    return f"{REF_ROOT}/{run_id}/{commit}"


def publish(repo: str, target: str | None, run_id: str, commits: Sequence[str]) -> None:
    """Make `commits` fetchable under their run refs: in `target` (a URL), or in `repo`."""
    _set_refs(repo, target, run_id, commits, delete=False)


def unpublish(repo: str, target: str | None, run_id: str, commits: Sequence[str]) -> None:
    """Delete the run refs of `commits` again."""
    _set_refs(repo, target, run_id, commits, delete=True)


def _set_refs(
    repo: str, target: str | None, run_id: str, commits: Sequence[str], delete: bool
) -> None:
    if not commits:
        return
    if target is None:
        verb = "delete" if delete else "update"
        lines = "".join(
            f"{verb} {run_ref(run_id, c)}" + ("\n" if delete else f" {c}\n") for c in commits
        )
        run(["git", "update-ref", "--stdin"], cwd=repo, input=lines)
        return
    refspecs = [("" if delete else c) + f":{run_ref(run_id, c)}" for c in commits]
    run(["git", "push", "-q", "--no-verify", target, *refspecs], cwd=repo)
