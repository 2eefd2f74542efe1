"""Untracked files in the worktree where the base is checked out that a land would run into.

Fast-forwarding that worktree (`read-tree -m -u`) refuses to overwrite an untracked (or
ignored) file, but only after the base ref has moved: the worktree would be left behind its
branch with a stale index. So a land asks first, before anything runs, and again under the
lock just before it moves the base.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

from wtpar.errors import WtparError
from wtpar.git import Git

_SHOWN = 5


def added_paths(
    git: Git, old: str, news: Iterable[str], env: Mapping[str, str] | None = None
) -> set[str]:
    """The paths each of NEWS has and OLD has not (what moving OLD to them would create);
    `env` reads a land's quarantined commits."""
    added: set[str] = set()
    for new in dict.fromkeys(news):
        out = git.run(
            "diff", "--name-only", "--no-renames", "--diff-filter=A", "-z", old, new, env=env
        ).stdout
        added.update(p for p in out.split("\0") if p)
    return added


def untracked_collisions(
    git: Git,
    worktree: str,
    old: str,
    news: Iterable[str],
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """The untracked files (or folders holding some) in WORKTREE, checked out at OLD, that
    bringing it to any of NEWS would have to overwrite; sorted."""
    added = added_paths(git, old, news, env)
    parents = {p for path in added for p in _parents(path)} - added
    found: set[str] = set()
    folders: list[str] = []
    for path in sorted(added | parents):
        full = os.path.join(worktree, path)
        if not os.path.lexists(full):
            continue
        if os.path.isdir(full) and not os.path.islink(full):
            if path in added:  # a file replaces this folder: only untracked content is lost
                folders.append(path)
        else:
            found.add(path)  # an added path, or a file (or link) where a folder must go
    tracked = set(_index_paths(git, worktree, sorted(found))) if found else set()
    found -= tracked  # a tracked file in a folder's way is one the new commits delete
    if folders:
        out = git.run(
            "--literal-pathspecs", "ls-files", "--others", "-z", "--", *folders, cwd=worktree
        ).stdout
        found.update(p for p in out.split("\0") if p)
    return sorted(found)


def refuse_untracked_collisions(
    git: Git, worktree: str, base: str, old: str, news: Sequence[str]
) -> None:
    """Raise, naming them, when untracked files in the checked-out base's WORKTREE are in
    the way of the branches to land."""
    found = untracked_collisions(git, worktree, old, news)
    if found:
        raise WtparError(f"{collision_text(base, worktree, found)}: nothing landed")


def collision_text(base: str, worktree: str, found: Sequence[str]) -> str:
    """`untracked file new.txt in /repo would be overwritten when main moves there ...`."""
    if len(found) == 1:
        files, them = f"untracked file {found[0]}", "it"
    else:
        more = f", {len(found) - _SHOWN} more" if len(found) > _SHOWN else ""
        files, them = f"{len(found)} untracked files ({', '.join(found[:_SHOWN])}{more})", "them"
    return (
        f"{files} in {worktree} would be overwritten when {base} moves there "
        f"(the landed branches add {them}): move or remove {them} first"
    )


def _parents(path: str) -> list[str]:
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def _index_paths(git: Git, worktree: str, paths: Sequence[str]) -> list[str]:
    out = git.run("--literal-pathspecs", "ls-files", "-z", "--", *paths, cwd=worktree).stdout
    return [p for p in out.split("\0") if p]
