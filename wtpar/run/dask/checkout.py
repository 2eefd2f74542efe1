"""The worker-side repository cache: the exact commit a task must run on.

One bare mirror per repository (named after where it is fetched from) and one detached
worktree per commit, under `$WTPAR_DASK_CACHE` (default `~/.cache/wtpar/dask`):

    <cache>/<repo-name>-<hash>/mirror.git
    <cache>/<repo-name>-<hash>/trees/<commit>/         reused by later tasks on that commit
    <cache>/<repo-name>-<hash>/trees/<commit>.ready    written once the worktree is complete,
                                                       touched at each use (recency)
    <cache>/<repo-name>-<hash>/trees/<commit>.use      held (shared flock) by running tasks

Worker processes on one machine share the cache, so creating a mirror or a worktree happens
under a file lock per repository (and a thread lock: a worker runs tasks in threads, and a
file lock is re-entrant within one process). Reusing a ready worktree takes no such lock.

The cache is bounded: after creating a worktree, the same lock holder removes the least
recently used ones beyond `keep` (`[dask] cache_worktrees`) of that repository, skipping any
whose `.use` lock a running task holds (flock(2), so across worker processes too). A task
takes its `.use` lock before it looks for the worktree, so a worktree is either removed
before the task sees it (and made again) or kept while the task runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


@contextmanager
def checked_out(source: str, ref: str, commit: str, root: str, keep: int) -> Iterator[str]:
    """The path of a worktree at `commit` (fetched from `source` at `ref` when missing),
    kept for the duration of the block; older ones beyond `keep` are removed."""
    folder = repo_folder(root, source)
    tree = os.path.join(folder, "trees", commit)
    os.makedirs(os.path.join(folder, "trees"), exist_ok=True)
    use = _hold_shared(tree + ".use")
    try:
        if not _touch(tree + ".ready"):
            _create(source, ref, commit, folder, tree, keep)
        yield tree
    finally:
        os.close(use)


def _create(source: str, ref: str, commit: str, folder: str, tree: str, keep: int) -> None:
    ready = tree + ".ready"
    with _thread_lock(folder), file_lock(os.path.join(folder, "cache.lock")):
        if os.path.exists(ready):
            return
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
        _prune(folder, mirror, keep)


def _prune(folder: str, mirror: str, keep: int) -> None:
    """Remove the least recently used worktrees beyond `keep`, unless a task uses them
    (called under the repository's cache lock)."""
    trees = os.path.join(folder, "trees")
    ready = []
    for name in os.listdir(trees):
        if name.endswith(".ready"):
            with contextlib.suppress(FileNotFoundError):
                ready.append((os.stat(os.path.join(trees, name)).st_mtime_ns, name))
    removed = 0
    for _, name in sorted(ready, reverse=True)[max(keep, 1) :]:
        tree = os.path.join(trees, name.removesuffix(".ready"))
        fd = os.open(tree + ".use", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a running task has it
            os.unlink(tree + ".ready")
            shutil.rmtree(tree, ignore_errors=True)
            os.unlink(tree + ".use")  # a task waiting on it finds it gone and opens anew
            removed += 1
        finally:
            os.close(fd)
    if removed:
        run(["git", "-C", mirror, "worktree", "prune"], check=False)


def _hold_shared(path: str) -> int:
    """A descriptor holding a shared flock on `path` (the file as it is now linked)."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_SH)
        try:
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # removed by a prune while this waited: lock the new one


def _touch(ready: str) -> bool:
    """Mark the worktree as used now; False when it is not (or no longer) ready."""
    try:
        os.utime(ready)
    except FileNotFoundError:
        return False
    return True


def _has_commit(mirror: str, commit: str) -> bool:
    found = run(["git", "-C", mirror, "cat-file", "-e", f"{commit}^{{commit}}"], check=False)
    return found.returncode == 0


def _thread_lock(folder: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(folder, threading.Lock())
