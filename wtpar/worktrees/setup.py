"""Setting up a freshly populated worktree: submodules, copied files, `post_create` commands.

Runs after the checkout, outside the repository lock except for `submodule update`, which
writes the shared git config.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from wtpar import busy, procs
from wtpar.config import Config
from wtpar.errors import CommandError
from wtpar.git import Git, RepoPaths
from wtpar.locks import repo_lock
from wtpar.names import safe_component
from wtpar.procs import workers
from wtpar.worktrees.environment import Environments
from wtpar.worktrees.lifecycle import command_env
from wtpar.worktrees.sync import CopyManifest, source_files, sync_worktree


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
    created: float | None = None  # when it was first recorded (by an earlier spawn, completing)
    env: dict[str, str] = field(default_factory=dict)  # ports and [env] vars, for commands
    spare_commit: str | None = None  # set when a warm-pool spare became this worktree


def set_up(paths: RepoPaths, config: Config, plans: list[SpawnPlan]) -> None:
    """Submodules, copied files, `[env] file` and `post_create` for the populated plans."""
    ready = [p for p in plans if not p.error]
    git = Git(paths)
    if not ready:
        return
    cfg = config.worktrees
    has_submodules = os.path.exists(os.path.join(paths.root, ".gitmodules"))
    if cfg.submodules if cfg.submodules is not None else has_submodules:
        # `submodule update --init` writes the shared config: one worktree at a time. git's
        # own protocol rules hold (no `protocol.file.allow=always`: local-path submodules
        # are refused unless the user allowed them, CVE-2022-39253).
        with repo_lock(paths.wtpar_dir):
            for plan in ready:
                try:
                    git.run(
                        "submodule",
                        "update",
                        "--init",
                        "--recursive",
                        "--quiet",
                        cwd=plan.path,
                    )
                except CommandError as exc:
                    plan.setup_errors += (f"submodules: {exc.output.strip()}",)
    copy_files(paths, config, ready)
    if cfg.post_create:
        log_dir = os.path.join(paths.wtpar_dir, "logs", "post_create")
        os.makedirs(log_dir, exist_ok=True)
        with ThreadPoolExecutor(workers(len(ready))) as pool:
            try:
                errors = list(
                    pool.map(
                        lambda p: run_post_create(paths.wtpar_dir, p, cfg.post_create, log_dir),
                        ready,
                    )
                )
            except BaseException:
                # Ctrl-C, SIGTERM or SIGHUP: the commands stop with us (and before the pool
                # waits for its threads, which wait for the commands).
                procs.terminate_groups()
                raise
        for plan, errs in zip(ready, errors, strict=True):
            plan.setup_errors += errs


def copy_files(paths: RepoPaths, config: Config, plans: list[SpawnPlan]) -> None:
    """Copy `[worktrees] copy` and `.worktreeinclude` files, and write `[env] file`."""
    files = source_files(paths.root, config.worktrees.copy)
    manifest = CopyManifest(paths.wtpar_dir)
    envs = Environments(paths, config)
    for plan in plans:
        if files:
            synced = sync_worktree(manifest, paths.root, plan.branch, plan.path, files)
            plan.setup_errors += tuple(f"copy {f.error}" for f in synced.files if f.error)
        plan.env = envs.current(plan.branch, plan.path)
        error = envs.write_file(plan.path, plan.env)
        if error:
            plan.setup_errors += (error,)


def run_post_create(
    wtpar_dir: str, plan: SpawnPlan, commands: Sequence[str], log_dir: str
) -> tuple[str, ...]:
    """Run the configured post_create commands in one new worktree; log to a file. Each
    holds a busy record naming its process group (kept by the command itself should wtpar
    die): `remove` refuses the worktree while it runs, `remove --force` stops it."""
    log_path = os.path.join(log_dir, f"{safe_component(plan.branch)}.log")
    errors: list[str] = []
    with open(log_path, "w", encoding="utf-8") as log:
        for command in commands:
            log.write(f"$ {command}\n")
            log.flush()
            with busy.running_in(wtpar_dir, plan.path, "post_create", kind="hook") as record:
                returncode = procs.run_in_group(
                    command,
                    cwd=plan.path,
                    env=command_env(plan.env, plan.branch, plan.path),
                    output=log,
                    keep_fd=record.fd,
                    on_start=record.started,
                )
            if returncode != 0:
                errors.append(f"post_create `{command}` exited {returncode} (log: {log_path})")
                break
    return tuple(errors)
