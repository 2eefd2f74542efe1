"""What removing a worktree would lose that `git status` does not show: a task running in it,
a rebase in progress, hidden (assume-unchanged / skip-worktree) changes, submodule commits
kept only in its private module store; and the ignored files it would delete, to say so."""

from __future__ import annotations

import os
import time

from wtpar import busy
from wtpar.git import Git, worktree_git_dir
from wtpar.model import IgnoredFiles
from wtpar.text import plural

_SHOWN = 3
# Counting a huge build folder must not make `remove` slow: past this, say "at least".
_COUNT_BUDGET = 2.0


def ignored_files(git: Git, path: str, budget: float = _COUNT_BUDGET) -> IgnoredFiles:
    """Count and size the ignored files of a worktree (ignored folders are walked). After
    `budget` seconds the count stops: the result is then a lower bound."""
    deadline = time.monotonic() + budget
    files = size = 0
    stack: list[str] = []
    for rel in git.ignored_paths(path):
        full = os.path.join(path, rel)
        if rel.endswith("/"):
            stack.append(full)
        else:
            files, size = files + 1, size + _size(full)
    # scandir's entries carry their type, so only files cost a stat (os.walk costs more).
    while stack:
        if time.monotonic() > deadline:
            return IgnoredFiles(files, size, complete=False)
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    files += 1
                    size += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return IgnoredFiles(files, size)


def _size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def running_task_losses(wtpar_dir: str, path: str) -> list[str]:
    """`task T is running in it (pid N)` for each task running in the worktree."""
    return [task.describe() for task in busy.running_tasks(wtpar_dir, path)]


def operation_loss(git: Git, path: str) -> str | None:
    """`a rebase is in progress` (or merge, cherry-pick, ...), else None."""
    operation = git.operation_in_progress(path)
    if operation is None or operation == "bisect":
        return None
    return f"a {operation} is in progress (finish or abort it)"


def hidden_change_loss(git: Git, path: str) -> str | None:
    """`1 hidden change (assume-unchanged: README.md)`, else None."""
    hidden = git.hidden_changes(path)
    if not hidden:
        return None
    shown = ", ".join(f"{flag}: {rel}" for flag, rel in hidden[:_SHOWN])
    more = f", {len(hidden) - _SHOWN} more" if len(hidden) > _SHOWN else ""
    return f"{plural(len(hidden), 'hidden change')} ({shown}{more})"


def submodule_losses(git: Git, common_dir: str, path: str) -> list[str]:
    """Submodule commits kept only in this worktree's own module store: on no remote, and
    not in the main worktree's store (`.git/modules/...`) on any ref."""
    private = worktree_git_dir(path)
    return [] if private is None else _submodule_losses(git, path, private, common_dir, "")


def _submodule_losses(git: Git, path: str, private: str, shared: str, prefix: str) -> list[str]:
    # `private` is the git dir of the repository at `path`, `shared` its counterpart in the
    # main worktree: nested submodules live in `<store>/modules/<name>` at both places.
    losses: list[str] = []
    for sub in git.submodule_paths(path):
        sub_path = os.path.join(path, sub)
        store = worktree_git_dir(sub_path)
        if store is None or not store.startswith(private + os.sep):
            continue
        shared_store = os.path.join(shared, os.path.relpath(store, private))
        lost = git.unreachable_in(shared_store, git.unpublished_commits(sub_path))
        if lost:
            ids = ", ".join(c[:10] for c in lost[:_SHOWN])
            more = ", ..." if len(lost) > _SHOWN else ""
            losses.append(
                f"{plural(len(lost), 'commit')} in submodule {prefix}{sub} ({ids}{more}) "
                "kept only in this worktree's module store; push them first"
            )
        losses.extend(_submodule_losses(git, sub_path, store, shared_store, f"{prefix}{sub}/"))
    return losses


def worktree_ref_losses(git: Git, path: str) -> list[str]:
    """`2 commits only on refs/worktree/keep`: refs that die with the worktree's git dir."""
    return [
        f"{plural(n, 'commit')} only on {ref}" for ref, n in git.worktree_ref_commits(path).items()
    ]
