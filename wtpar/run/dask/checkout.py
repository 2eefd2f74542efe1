"""The worker-side repository cache: the exact commit a task must run on.

One bare mirror per repository (named after where it is fetched from) and one detached
worktree per commit, under `$WTPAR_DASK_CACHE` (default `~/.cache/wtpar/dask`):

    <cache>/<repo-name>-<hash>/mirror.git
    <cache>/<repo-name>-<hash>/trees/<commit>/         reused by later tasks on that commit
    <cache>/<repo-name>-<hash>/trees/<commit>.ready    written once the worktree is complete

Worker processes on one machine share the cache, so creating a mirror or a worktree happens
under a file lock per repository (and a thread lock: a worker runs tasks in threads, and a
file lock is re-entrant within one process). Reusing a ready worktree takes no lock.
"""

from __future__ import annotations

import os
import re
import shutil
import threading

from wtpar.errors import CommandError, WtparError
from wtpar.locks import file_lock
from wtpar.names import hash_stable
from wtpar.procs import run

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


class CheckoutError(WtparError):
    """The worker could not get the commit (the message says why)."""


def cache_root() -> str:
    """Where this worker keeps mirrors and worktrees."""
    configured = os.environ.get("WTPAR_DASK_CACHE")
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "wtpar", "dask")


def repo_folder(root: str, source: str) -> str:
    """The cache folder of the repository fetched from `source`."""
    trimmed = source.rstrip("/").removesuffix("/.git")
    name = os.path.basename(trimmed).removesuffix(".git") or "repo"
    safe = _UNSAFE.sub("_", name).strip("_")[:40] or "repo"
    return os.path.join(root, f"{safe}-{hash_stable(source):08x}")


def checkout(source: str, ref: str, commit: str, root: str) -> str:
    """The path of a worktree at `commit` (fetched from `source` at `ref` when missing)."""
    folder = repo_folder(root, source)
    tree = os.path.join(folder, "trees", commit)
    ready = tree + ".ready"
    if os.path.exists(ready):
        return tree
    os.makedirs(os.path.join(folder, "trees"), exist_ok=True)
    with _thread_lock(folder), file_lock(os.path.join(folder, "cache.lock")):
        if os.path.exists(ready):
            return tree
        mirror = os.path.join(folder, "mirror.git")
        try:
            if not os.path.isdir(mirror):
                run(["git", "init", "-q", "--bare", mirror])
            if not _has_commit(mirror, commit):
                run(["git", "-C", mirror, "fetch", "-q", "--no-tags", source, ref])
                if not _has_commit(mirror, commit):
                    raise CheckoutError(f"{source} {ref} does not hold commit {commit[:10]}")
            if os.path.exists(tree):
                # A worktree left half-made by a worker that died while creating it.
                shutil.rmtree(tree)
                run(["git", "-C", mirror, "worktree", "prune"])
            run(["git", "-C", mirror, "worktree", "add", "-q", "--detach", tree, commit])
        except CommandError as exc:
            raise CheckoutError(f"cannot check out {commit[:10]} from {source}: {exc}") from None
        with open(ready, "w", encoding="utf-8") as fh:
            fh.write(source + "\n")
    return tree


def _has_commit(mirror: str, commit: str) -> bool:
    found = run(["git", "-C", mirror, "cat-file", "-e", f"{commit}^{{commit}}"], check=False)
    return found.returncode == 0


def _thread_lock(folder: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(folder, threading.Lock())
