"""Setting up a freshly populated worktree: submodules, copied files, `post_create` commands.

Runs after the checkout, outside the repository lock except for `submodule update`, which
writes the shared git config.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wtpar import procs
from wtpar.config import Config
from wtpar.errors import CommandError
from wtpar.git import Git, RepoPaths
from wtpar.locks import repo_lock
from wtpar.names import safe_component
from wtpar.procs import workers

_FICLONE = 0x40049409  # ioctl number of FICLONE on Linux


@dataclass
class SpawnPlan:
    """One branch being spawned: where, how, and what went wrong so far."""

    branch: str
    path: str
    how: str = ""
    base_ref: str | None = None
    base_sha: str | None = None
    error: str | None = None
    existing: bool = False
    setup_errors: tuple[str, ...] = ()
    created: float | None = None  # when an earlier spawn created it (completing its checkout)


def set_up(paths: RepoPaths, config: Config, plans: list[SpawnPlan]) -> None:
    """Submodules, `copy` and `post_create` for the plans that were populated."""
    ready = [p for p in plans if not p.error]
    git = Git(paths)
    if not ready:
        return
    cfg = config.worktrees
    has_submodules = os.path.exists(os.path.join(paths.root, ".gitmodules"))
    if cfg.submodules if cfg.submodules is not None else has_submodules:
        # `submodule update --init` writes the shared config: one worktree at a time.
        with repo_lock(paths.wtpar_dir):
            for plan in ready:
                try:
                    git.run(
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
            plan.setup_errors += tuple(copy_globs(paths.root, plan.path, cfg.copy))
    if cfg.post_create:
        log_dir = os.path.join(paths.wtpar_dir, "logs", "post_create")
        os.makedirs(log_dir, exist_ok=True)
        with ThreadPoolExecutor(workers(len(ready))) as pool:
            try:
                errors = list(
                    pool.map(lambda p: run_post_create(p, cfg.post_create, log_dir), ready)
                )
            except BaseException:
                # Ctrl-C, SIGTERM or SIGHUP: the commands stop with us (and before the pool
                # waits for its threads, which wait for the commands).
                procs.terminate_groups()
                raise
        for plan, errs in zip(ready, errors, strict=True):
            plan.setup_errors += errs


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


def run_post_create(plan: SpawnPlan, commands: Sequence[str], log_dir: str) -> tuple[str, ...]:
    """Run the configured post_create commands in one new worktree; log to a file."""
    log_path = os.path.join(log_dir, f"{safe_component(plan.branch)}.log")
    errors: list[str] = []
    with open(log_path, "w", encoding="utf-8") as log:
        for command in commands:
            log.write(f"$ {command}\n")
            log.flush()
            returncode = procs.run_in_group(
                command,
                cwd=plan.path,
                env=procs.clean_env({"WTPAR_BRANCH": plan.branch, "WTPAR_WORKTREE": plan.path}),
                output=log,
            )
            if returncode != 0:
                errors.append(f"post_create `{command}` exited {returncode} (log: {log_path})")
                break
    return tuple(errors)
