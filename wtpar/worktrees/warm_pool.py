"""The warm pool: spare worktrees checked out and set up ahead of time, so that `spawn` and
`claim --any` on a large repository take a ready one instead of a full checkout and setup.

`fill` adds detached worktrees under the repository lock and sets them up in a background
process (spare_filler.py); `adopt_spare` turns a ready spare into a branch's worktree: the
branch is created and checked out in it with a two-tree `read-tree`, so only the files
that differ between the spare's commit and the branch's are written, and its folder is
renamed to the branch's path (`git worktree repair` then fixes git's links).
(Not to be confused with wtpar/run/pool.py, the shared slots tasks run in.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Sequence

from wtpar import busy_stop
from wtpar.config import Config
from wtpar.errors import CommandError, UsageError
from wtpar.git import Git, RepoPaths, worktree_git_dir
from wtpar.git.parse import output_lines
from wtpar.locks import repo_lock
from wtpar.notices import warn
from wtpar.worktrees.paths import SPARES_FOLDER, is_spare_path, worktree_path
from wtpar.worktrees.setup import SpawnPlan, set_up
from wtpar.worktrees.spare_links import repair_submodule_links
from wtpar.worktrees.spares import Spare, SpareState, SpareStore
from wtpar.worktrees.sync import CopyManifest
from wtpar.worktrees.trash import detach_worktree


def spares_folder(paths: RepoPaths, config: Config) -> str:
    """Where spares live: beside the worktrees, so handing one out is a rename."""
    return os.path.join(os.path.dirname(worktree_path(paths, config, "spare")), SPARES_FOLDER)


def fill(
    paths: RepoPaths, config: Config, count: int, from_ref: str, background: bool = True
) -> list[Spare]:
    """Add COUNT spares detached at FROM_REF; check them out and set them up in a background
    process (or in this one, when not `background`). Returns their records."""
    if count < 1:
        raise UsageError("pool fill: the number of spares must be at least 1")
    git = Git(paths)
    commit = git.resolve_commit(from_ref)
    if commit is None:
        raise UsageError(f"--from {from_ref!r} is not a commit")
    folder = spares_folder(paths, config)
    store = SpareStore(paths.wtpar_dir)
    added: list[Spare] = []
    with repo_lock(paths.wtpar_dir):
        os.makedirs(folder, exist_ok=True)
        for _ in range(count):
            name = f"spare-{secrets.token_hex(4)}"
            path = os.path.join(folder, name)
            git.run("worktree", "add", "--detach", "--no-checkout", "--quiet", path, commit)
            added.append(Spare(name, path, commit, SpareState.FILLING, time.time(), os.getpid()))
        store.add(added)
    if not background:
        fill_spares(paths, config, [s.name for s in added])
        return [s for s in store.all() if s.name in {a.name for a in added}]
    log_dir = os.path.join(paths.wtpar_dir, "logs")
    os.makedirs(log_dir, exist_ok=True)
    with open(os.path.join(log_dir, "spares.log"), "a", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wtpar.worktrees.spare_filler", paths.root]
            + [s.name for s in added],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: drain stops it and its setup
            close_fds=True,
        )
    for spare in added:
        store.set_state(spare.name, SpareState.FILLING, filler_pid=proc.pid)
    return [s for s in store.all() if s.name in {a.name for a in added}]


def fill_spares(paths: RepoPaths, config: Config, names: Sequence[str]) -> None:
    """Check out and set up the named spares (the filler process's work)."""
    store = SpareStore(paths.wtpar_dir)
    git = Git(paths)
    wanted = {s.name: s for s in store.all() if s.name in names}
    plans: list[tuple[Spare, SpawnPlan]] = []
    for name in names:
        spare = wanted.get(name)
        if spare is None:
            continue
        plan = SpawnPlan(name, spare.path, how="spare", base_sha=spare.commit)
        try:
            git.run("-c", "checkout.workers=0", "reset", "--hard", "--quiet", cwd=spare.path)
        except CommandError as exc:
            plan.error = f"checkout failed: {exc.output.strip() or exc.message}"
        plans.append((spare, plan))
    set_up(paths, config, [plan for _, plan in plans])
    for spare, plan in plans:
        errors = [plan.error] if plan.error else list(plan.setup_errors)
        state = SpareState.FAILED if errors else SpareState.READY
        store.set_state(spare.name, state, "; ".join(errors))


def drain(paths: RepoPaths) -> list[Spare]:
    """Remove every spare not being handed out (stopping the fillers of filling ones, and
    their post_create commands)."""
    store = SpareStore(paths.wtpar_dir)
    git = Git(paths)
    with repo_lock(paths.wtpar_dir):
        spares = [s for s in store.all() if s.state is not SpareState.TAKEN]
        for pid in {s.filler_pid for s in spares if s.state is SpareState.FILLING}:
            if pid != os.getpid():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        recorded = {os.path.realpath(s.path) for s in store.all()}
        # Spares whose records were lost (a damaged spares.json) are drained too.
        orphans = [
            Spare(os.path.basename(wt.path), wt.path, wt.head or "", SpareState.FAILED, 0.0)
            for wt in git.worktrees()
            if is_spare_path(wt.path) and os.path.realpath(wt.path) not in recorded
        ]
        for spare in spares + orphans:
            # post_create commands run in groups of their own and keep the spare's busy
            # records after their filler died: stop them before their folder goes.
            busy_stop.stop_tasks(paths.wtpar_dir, spare.path)
            detach_worktree(git, paths.wtpar_dir, spare.path)
        store.drop([s.name for s in spares])
        spares += orphans
    CopyManifest(paths.wtpar_dir).forget([s.name for s in spares])
    return spares


def adopt_spare(git: Git, paths: RepoPaths, plan: SpawnPlan) -> bool:
    """Turn a ready spare into PLAN's worktree (under the repository lock): create the
    branch, point the spare's HEAD at it, move its folder to PLAN's path. False when no
    spare fits; the files are brought to the branch later by `switch_spare`."""
    store = SpareStore(paths.wtpar_dir)
    target = plan.base_sha if plan.how == "new" else _target_commit(git, plan)
    spare = store.take(target)
    if spare is None:
        return False
    problem = _used(git, spare)
    if problem:
        # Handed out, it gave the new branch another commit's files (staged), and a commit
        # made in it was reset away. It stays as it is, out of the pool.
        store.set_state(spare.name, SpareState.FAILED, error=problem, filler_pid=0)
        warn(f"spare {spare.path} {problem}: left out of the pool, as it is")
        return False
    try:
        os.makedirs(os.path.dirname(plan.path), exist_ok=True)
        if os.path.isdir(plan.path) and not os.listdir(plan.path):
            os.rmdir(plan.path)
        os.rename(spare.path, plan.path)
    except OSError as exc:
        # Another filesystem (or a folder that appeared): keep the spare, spawn afresh.
        store.set_state(spare.name, SpareState.READY, filler_pid=0)
        if exc.errno not in (errno.EXDEV, errno.ENOTEMPTY, errno.EEXIST):
            raise
        return False
    store.drop([spare.name])
    git.run("worktree", "repair", plan.path)
    admin_dir = worktree_git_dir(plan.path)
    if admin_dir is not None:
        repair_submodule_links(git, admin_dir, spare.path, plan.path)
    if plan.how == "new":
        assert plan.base_sha is not None
        git.run("branch", "--no-track", plan.branch, plan.base_sha)
    elif plan.how == "remote":
        assert plan.base_ref is not None
        plan.base_sha = git.resolve_commit(plan.base_ref)
        git.run("branch", "--quiet", "--track", plan.branch, plan.base_ref)
    git.run("symbolic-ref", "HEAD", f"refs/heads/{plan.branch}", cwd=plan.path)
    plan.spare_commit = spare.commit
    CopyManifest(paths.wtpar_dir).forget([spare.name])
    return True


def switch_spare(git: Git, plan: SpawnPlan) -> None:
    """Bring an adopted spare's index and files from its commit to its branch's, writing
    only the files that differ (a two-tree merge, as `git checkout` does)."""
    assert plan.spare_commit is not None
    if git.resolve_commit(plan.branch) == plan.spare_commit:
        return  # the spare is at the branch's commit already: its index and files are right
    try:
        git.run("read-tree", "-m", "-u", plan.spare_commit, "HEAD", cwd=plan.path)
    except CommandError as exc:
        plan.error = f"switching the spare failed: {exc.output.strip() or exc.message}"


def _used(git: Git, spare: Spare) -> str | None:
    """How someone moved a spare's HEAD (to another commit, onto a branch), or None while
    it is detached at the commit it was made at. Changes to its files are not judged:
    its post_create may make them (`npm install` rewriting a lock file), as it would in
    a fresh worktree, and they are carried over as a checkout carries them."""
    args = ("rev-parse", "HEAD", "--symbolic-full-name", "HEAD")  # its commit, then its ref
    res = git.run(*args, cwd=spare.path, check=False)
    if res.returncode != 0:
        return "cannot be read (`git rev-parse HEAD` there says why)"
    oid, ref = output_lines(res.stdout)
    if ref != "HEAD":
        return f"has branch {ref.removeprefix('refs/heads/')} checked out"
    if oid != spare.commit:
        return f"was moved to {oid[:10]} (made at {spare.commit[:10]})"
    return None


def _target_commit(git: Git, plan: SpawnPlan) -> str | None:
    if plan.how == "local":
        return git.resolve_commit(plan.branch)
    if plan.how == "remote" and plan.base_ref:
        return git.resolve_commit(plan.base_ref)
    return None
