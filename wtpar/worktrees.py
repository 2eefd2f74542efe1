"""Spawn, list, remove and prune one worktree per branch, fast and without losing work.

Git metadata changes (worktree add, branch create/delete, prune) happen under the
repository lock, because concurrent `git worktree add` races on `.git/config` and on
`.git/worktrees/`. Populating the working trees, the slow part, runs in parallel outside it.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from wtpar import procs
from wtpar.config import Config
from wtpar.errors import CommandError, UsageError
from wtpar.git import Git, RepoPaths, worktree_git_dir
from wtpar.locks import repo_lock
from wtpar.model import (
    BranchStatus,
    PruneResult,
    RemoveResult,
    SpawnOutcome,
    SpawnResult,
    StatusCounts,
    Worktree,
    WorktreeRecord,
)
from wtpar.state import StateStore
from wtpar.text import plural

_UNSAFE_PATH = re.compile(r"[^A-Za-z0-9._-]+")
_FICLONE = 0x40049409  # ioctl number of FICLONE on Linux


def workers(n: int) -> int:
    """How many threads to use for `n` independent git calls."""
    return max(1, min(n, 2 * (os.cpu_count() or 2), 16))


def safe_component(branch: str) -> str:
    """A branch name as one path component: `/` and unsafe characters become `-`."""
    return _UNSAFE_PATH.sub("-", branch).strip("-.") or "branch"


def worktree_path(paths: RepoPaths, config: Config, branch: str) -> str:
    """Where `branch`'s worktree goes, from the configured template."""
    root = paths.root
    text = config.worktrees.path_template.format(
        repo=os.path.basename(root),
        repo_parent=os.path.dirname(root),
        repo_root=root,
        branch=safe_component(branch),
    )
    text = os.path.expanduser(text)
    return os.path.normpath(text if os.path.isabs(text) else os.path.join(root, text))


@dataclass
class _Plan:
    branch: str
    path: str
    how: str = ""
    base_ref: str | None = None
    base_sha: str | None = None
    error: str | None = None
    existing: bool = False
    setup_errors: tuple[str, ...] = ()


class WorktreeManager:
    """The worktree operations of one repository."""

    def __init__(self, paths: RepoPaths, config: Config) -> None:
        self.paths = paths
        self.config = config
        self.git = Git(paths)
        self.state = StateStore(paths.wtpar_dir)

    # -- lookups -------------------------------------------------------------------------

    def worktrees(self) -> list[Worktree]:
        """Every worktree, main first."""
        return self.git.worktrees()

    def find(self, branch: str) -> Worktree:
        """The worktree that has BRANCH checked out (or is at that path)."""
        wts = self.worktrees()
        for wt in wts:
            if wt.branch == branch:
                return wt
        target = os.path.realpath(branch)
        for wt in wts:
            if os.path.realpath(wt.path) == target:
                return wt
        names = ", ".join(wt.branch or "(detached)" for wt in wts if not wt.is_main) or "none"
        raise UsageError(f"no worktree for branch {branch!r} (worktrees: {names})")

    def base_ref(self, worktrees: list[Worktree] | None = None) -> str:
        """The configured base, else the remote's default branch, else the main worktree's."""
        main = next((wt.branch for wt in worktrees or [] if wt.is_main), None)
        return self.git.default_base(self.config.base, main)

    # -- spawn ---------------------------------------------------------------------------

    def spawn(self, branches: Sequence[str], from_ref: str | None = None) -> list[SpawnResult]:
        """Create a worktree for each branch; one failure never stops the others."""
        self.state.records()  # a damaged state.json stops us before anything changes
        plans = [_Plan(b, "") for b in dict.fromkeys(branches)]
        base_name: str | None = None
        base_sha: str | None = None
        needs_base = False
        with repo_lock(self.paths.wtpar_dir):
            existing = {wt.branch: wt for wt in self.worktrees() if wt.branch}
            taken_paths = {os.path.realpath(wt.path) for wt in existing.values()}
            for plan in plans:
                self._plan_one(plan, existing, taken_paths)
                needs_base = needs_base or plan.how == "new"
            if needs_base:
                base_name = from_ref or self.base_ref()
                base_sha = self.git.resolve_commit(base_name)
            for plan in plans:
                if plan.error or plan.existing:
                    continue
                if plan.how == "new":
                    if base_sha is None:
                        plan.error = f"base {base_name!r} is not a commit"
                        continue
                    plan.base_ref, plan.base_sha = base_name, base_sha
                self._add_metadata(plan)
        created = [p for p in plans if not p.error and not p.existing]
        with ThreadPoolExecutor(workers(len(created))) as pool:
            list(pool.map(self._populate, created))
        self._setup(created)
        self.state.put(
            [
                WorktreeRecord(p.branch, p.path, p.base_ref, p.base_sha, time.time())
                for p in created
                if not p.error
            ]
        )
        return [self._result(p) for p in plans]

    def _plan_one(self, plan: _Plan, existing: dict[str, Worktree], taken: set[str]) -> None:
        branch = plan.branch
        if not self.git.is_valid_branch_name(branch):
            plan.error = f"invalid branch name {branch!r}"
            return
        if branch in existing:
            plan.path, plan.existing, plan.how = existing[branch].path, True, "exists"
            return
        plan.path = worktree_path(self.paths, self.config, branch)
        real = os.path.realpath(plan.path)
        if real in taken:
            plan.error = f"path {plan.path} is already the worktree of another branch"
            return
        if os.path.lexists(plan.path) and (not os.path.isdir(plan.path) or os.listdir(plan.path)):
            plan.error = f"path {plan.path} exists and is not an empty folder"
            return
        taken.add(real)
        if self.git.local_branch_exists(branch):
            plan.how = "local"
            return
        remotes = self.git.remote_branches_named(branch)
        if len(remotes) == 1:
            plan.how, plan.base_ref = "remote", remotes[0]
        elif len(remotes) > 1:
            plan.error = f"branch {branch!r} exists on several remotes ({', '.join(remotes)})"
        else:
            plan.how = "new"

    def _add_metadata(self, plan: _Plan) -> None:
        os.makedirs(os.path.dirname(plan.path), exist_ok=True)
        args = ["worktree", "add", "--no-checkout", "--quiet"]
        if plan.how == "local":
            args += [plan.path, plan.branch]
        elif plan.how == "remote":
            assert plan.base_ref is not None
            plan.base_sha = self.git.resolve_commit(plan.base_ref)
            args += ["--track", "-b", plan.branch, plan.path, plan.base_ref]
        else:
            assert plan.base_sha is not None
            args += ["--no-track", "-b", plan.branch, plan.path, plan.base_sha]
        try:
            self.git.run(*args)
        except CommandError as exc:
            plan.error = exc.output.strip().splitlines()[-1] if exc.output.strip() else exc.message

    def _populate(self, plan: _Plan) -> None:
        # The index of a --no-checkout worktree is empty; reading HEAD into it fills the tree.
        try:
            self.git.run("-c", "checkout.workers=0", "reset", "--hard", "--quiet", cwd=plan.path)
        except CommandError as exc:
            plan.error = f"checkout failed: {exc.output.strip() or exc.message}"

    def _setup(self, plans: list[_Plan]) -> None:
        ready = [p for p in plans if not p.error]
        if not ready:
            return
        cfg = self.config.worktrees
        has_submodules = os.path.exists(os.path.join(self.paths.root, ".gitmodules"))
        if cfg.submodules if cfg.submodules is not None else has_submodules:
            # `submodule update --init` writes the shared config: one worktree at a time.
            with repo_lock(self.paths.wtpar_dir):
                for plan in ready:
                    try:
                        self.git.run(
                            "-c",
                            "protocol.file.allow=always",
                            "submodule",
                            "update",
                            "--init",
                            "--recursive",
                            "--quiet",
                            cwd=plan.path,
                        )
                    except CommandError as exc:
                        plan.setup_errors += (f"submodules: {exc.output.strip()}",)
        if cfg.copy:
            for plan in ready:
                plan.setup_errors += tuple(copy_globs(self.paths.root, plan.path, cfg.copy))
        if cfg.post_create:
            log_dir = os.path.join(self.paths.wtpar_dir, "logs", "post_create")
            os.makedirs(log_dir, exist_ok=True)
            with ThreadPoolExecutor(workers(len(ready))) as pool:
                errors = list(
                    pool.map(lambda p: run_post_create(p, cfg.post_create, log_dir), ready)
                )
            for plan, errs in zip(ready, errors, strict=True):
                plan.setup_errors += errs

    def _result(self, plan: _Plan) -> SpawnResult:
        if plan.error:
            return SpawnResult(
                plan.branch, SpawnOutcome.FAILED, plan.path or None, error=plan.error
            )
        outcome = SpawnOutcome.EXISTS if plan.existing else SpawnOutcome.CREATED
        return SpawnResult(
            plan.branch,
            outcome,
            plan.path,
            plan.how,
            plan.base_ref,
            plan.base_sha,
            setup_errors=plan.setup_errors,
        )

    # -- list ----------------------------------------------------------------------------

    def statuses(self, worktrees: list[Worktree] | None = None) -> list[BranchStatus]:
        """Status of every worktree: a few batched calls, the per-worktree ones in parallel."""
        wts = self.worktrees() if worktrees is None else worktrees
        records = self.state.records()
        tracking = self.git.branch_tracking()
        try:
            default_base = self.base_ref(wts)
        except UsageError:
            default_base = None

        def one(wt: Worktree) -> BranchStatus:
            rec = records.get(wt.branch or "")
            base = (rec.base_ref if rec and rec.base_ref else None) or default_base
            counts: StatusCounts | None = None
            operation = None
            if not wt.prunable and not wt.bare and os.path.isdir(wt.path):
                counts = self.git.status(wt.path)
                operation = self.git.operation_in_progress(wt.path)
            ahead = behind = None
            if base and wt.head and not wt.prunable:
                ab = self.git.ahead_behind(base, wt.head)
                if ab is not None:
                    ahead, behind = ab
            up, up_ahead, up_behind, gone, date = tracking.get(
                wt.branch or "", (None, None, None, False, 0)
            )
            if not wt.branch and wt.head:
                date = int(self.git.run("log", "-1", "--format=%ct", wt.head).stdout.strip() or 0)
            return BranchStatus(
                worktree=wt,
                status=counts,
                base=base,
                ahead=ahead,
                behind=behind,
                upstream=up,
                upstream_ahead=up_ahead,
                upstream_behind=up_behind,
                upstream_gone=gone,
                last_commit_time=date or None,
                operation=operation,
                record=rec,
            )

        with ThreadPoolExecutor(workers(len(wts))) as pool:
            return list(pool.map(one, wts))

    # -- remove --------------------------------------------------------------------------

    def remove(
        self, branches: Sequence[str], force: bool = False, delete_branch: bool = False
    ) -> list[RemoveResult]:
        """Remove worktrees, refusing any that would lose work unless `force`."""
        self.state.records()  # a damaged state.json stops us before anything changes
        targets = [(b, self.find(b)) for b in dict.fromkeys(branches)]
        results: list[RemoveResult] = []
        base = self.base_ref() if delete_branch else None
        for branch, wt in targets:
            refusal = self.removal_refusal(wt, force)
            if refusal:
                results.append(RemoveResult(branch, False, wt.path, error=refusal))
                continue
            with repo_lock(self.paths.wtpar_dir):
                self._detach_worktree(wt)
                result = RemoveResult(branch, True, wt.path)
                if delete_branch and wt.branch and base:
                    result = self._delete_branch_if_integrated(result, wt.branch, base)
            results.append(result)
        removed = [r.branch for r in results if r.removed]
        if removed:
            self.state.drop(removed)
        self.sweep_trash()
        return results

    def removal_refusal(self, wt: Worktree, force: bool) -> str | None:
        """Why this worktree must not be removed (None when it may)."""
        if wt.is_main:
            return "the main worktree is never removed"
        if wt.locked:
            reason = f" ({wt.locked_reason})" if wt.locked_reason else ""
            return f"worktree is locked{reason}; unlock it with `git worktree unlock {wt.path}`"
        if force or wt.prunable:
            return None
        lost: list[str] = []
        counts = self.git.status(wt.path)
        if counts is None:
            return f"cannot read the status of {wt.path}; use --force to remove it anyway"
        if counts.dirty:
            lost.append("uncommitted changes: " + counts.words())
        if wt.head:
            unique = self.git.unique_commits(wt.head, wt.branch)
            if unique and not self._integrated(wt.head):
                lost.append(f"{plural(unique, 'commit')} on no other branch or remote")
        if lost:
            return "would lose " + "; ".join(lost) + " (use --force to remove anyway)"
        return None

    def _integrated(self, commit: str) -> bool:
        # Squash-merged work has unique commits, yet nothing is lost by removing it.
        try:
            base = self.base_ref()
        except UsageError:
            return False
        return self.git.resolve_commit(base) is not None and self.git.is_integrated(commit, base)

    def _detach_worktree(self, wt: Worktree) -> None:
        gitdir = worktree_git_dir(wt.path) if os.path.exists(wt.path) else None
        if os.path.exists(wt.path):
            self._move_to_trash(wt.path)
        if gitdir and os.path.isdir(gitdir) and os.path.dirname(gitdir).endswith("worktrees"):
            shutil.rmtree(gitdir, ignore_errors=True)
        else:
            self.git.run("worktree", "prune")

    def _move_to_trash(self, path: str) -> None:
        trash = os.path.join(self.paths.wtpar_dir, "trash")
        os.makedirs(trash, exist_ok=True)
        dest = os.path.join(trash, f"{os.path.basename(path)}-{time.time_ns()}")
        try:
            os.rename(path, dest)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise
            # Another filesystem: a trash folder beside the worktree keeps the move a rename.
            local = os.path.join(os.path.dirname(path), ".wtpar-trash")
            os.makedirs(local, exist_ok=True)
            dest = os.path.join(local, f"{os.path.basename(path)}-{time.time_ns()}")
            os.rename(path, dest)
        delete_in_background(dest)

    def _delete_branch_if_integrated(
        self, result: RemoveResult, branch: str, base: str
    ) -> RemoveResult:
        if branch == base or self.git.resolve_commit(base) is None:
            return replace(result, message=f"kept branch {branch}: base {base!r} is not usable")
        if not self.git.is_integrated(branch, base):
            return replace(result, message=f"kept branch {branch}: not integrated into {base}")
        self.git.run("branch", "-D", "--quiet", branch)
        return replace(result, branch_deleted=True, message=f"deleted branch {branch}")

    def sweep_trash(self) -> None:
        """Delete, in the background, trash left by earlier removals."""
        trash = os.path.join(self.paths.wtpar_dir, "trash")
        if os.path.isdir(trash) and os.listdir(trash):
            delete_in_background(trash, keep_root=True)

    # -- prune ---------------------------------------------------------------------------

    def prune(self, merged: bool = False, dry_run: bool = False) -> PruneResult:
        """Forget worktrees whose folder is gone; with `merged`, remove clean integrated ones."""
        self.state.records()  # a damaged state.json stops us before anything changes
        wts = self.worktrees()
        stale = tuple(wt.path for wt in wts if wt.prunable)
        merged_paths: list[str] = []
        kept: list[tuple[str, str]] = []
        if merged:
            base = self.base_ref()
            for wt in wts:
                if wt.is_main or wt.prunable or not wt.branch or wt.branch == base:
                    continue
                if not self.git.is_integrated(wt.branch, base):
                    continue
                refusal = self.removal_refusal(wt, force=False)
                if refusal:
                    kept.append((wt.branch, refusal))
                    continue
                merged_paths.append(wt.branch)
        if not dry_run:
            if stale:
                with repo_lock(self.paths.wtpar_dir):
                    self.git.run("worktree", "prune")
            if merged_paths:
                self.remove_integrated(merged_paths)
            self.sweep_trash()
        return PruneResult(stale, tuple(merged_paths), tuple(kept), dry_run)

    def remove_integrated(self, branches: Iterable[str]) -> None:
        """Remove worktrees already judged clean and integrated."""
        names = list(branches)
        with repo_lock(self.paths.wtpar_dir):
            for branch in names:
                self._detach_worktree(self.find(branch))
        self.state.drop(names)


def delete_in_background(path: str, keep_root: bool = False) -> None:
    """Delete `path` in a detached process, so that removing a large worktree returns at once."""
    code = (
        "import os, shutil, sys\n"
        "p, keep = sys.argv[1], sys.argv[2] == '1'\n"
        "targets = [os.path.join(p, n) for n in os.listdir(p)] if keep else [p]\n"
        "for t in targets:\n"
        "    shutil.rmtree(t, ignore_errors=True)\n"
    )
    subprocess.Popen(
        [sys.executable, "-c", code, path, "1" if keep_root else "0"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


def copy_globs(src_root: str, dst_root: str, patterns: Iterable[str]) -> list[str]:
    """Copy files matching `patterns` (usually ignored ones like `.env`); return errors."""
    errors: list[str] = []
    for pattern in patterns:
        for src in glob.glob(os.path.join(src_root, pattern), recursive=True, include_hidden=True):
            rel = os.path.relpath(src, src_root)
            if rel.split(os.sep, 1)[0] == ".git":
                continue
            dst = os.path.join(dst_root, rel)
            try:
                if os.path.isdir(src):
                    shutil.copytree(src, dst, copy_function=clone_file, dirs_exist_ok=True)
                elif not os.path.exists(dst):
                    os.makedirs(os.path.dirname(dst), exist_ok=True)
                    clone_file(src, dst)
            except OSError as exc:
                errors.append(f"copy {rel}: {exc.strerror or exc}")
    return errors


def clone_file(src: str, dst: str) -> str:
    """Copy one file, copy-on-write (FICLONE) where the filesystem can, a plain copy otherwise."""
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
        shutil.copystat(src, dst)
        return dst
    except OSError:
        return shutil.copy2(src, dst)


def run_post_create(plan: _Plan, commands: Sequence[str], log_dir: str) -> tuple[str, ...]:
    """Run the configured post_create commands in one new worktree; log to a file."""
    log_path = os.path.join(log_dir, f"{safe_component(plan.branch)}.log")
    errors: list[str] = []
    with open(log_path, "w", encoding="utf-8") as log:
        for command in commands:
            log.write(f"$ {command}\n")
            log.flush()
            proc = subprocess.run(
                command,
                shell=True,
                cwd=plan.path,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=procs.clean_env({"WTPAR_BRANCH": plan.branch, "WTPAR_WORKTREE": plan.path}),
            )
            if proc.returncode != 0:
                errors.append(f"post_create `{command}` exited {proc.returncode} (log: {log_path})")
                break
    return tuple(errors)
