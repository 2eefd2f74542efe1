"""New worktrees of new branches without a `git worktree add` each.

`git worktree add --no-checkout -b B PATH COMMIT` starts three git processes one after
another (itself, `git branch`, `git symbolic-ref HEAD`), and spawn runs it under the
repository lock, so a fleet of new branches held that lock for tens of milliseconds a
branch. Here every branch is created by one `git update-ref --stdin` transaction, and each
worktree's administrative files are written as git writes them (absolute paths; the layout
of every git since 2.5, read by every later one):

    $GIT_COMMON_DIR/worktrees/<id>/gitdir      /real/path/of/the/worktree/.git
    $GIT_COMMON_DIR/worktrees/<id>/commondir   ../..
    $GIT_COMMON_DIR/worktrees/<id>/HEAD        ref: refs/heads/B
    $GIT_COMMON_DIR/worktrees/<id>/logs/HEAD   (the reflog's first entry, as the branch's)
    PATH/.git                                  gitdir: $GIT_COMMON_DIR/worktrees/<id>

with a `locked` file while they are being written, as git has, so that a concurrent
`git worktree prune` never takes a half-made one, and `gitdir` written last, so that git
never reads a half-made one. The index and the files come later, from
the same `checkout_all` as after `git worktree add --no-checkout`. A repository whose
configuration makes `git worktree add` write more or elsewhere (shared permissions,
per-worktree config, sparse checkout, relative paths, reftable) keeps using it:
`plain_worktree_layout` says which.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Sequence

from wtpar.git.base import GitBase
from wtpar.git.parse import worktree_git_dir

# Settings under which `git worktree add` writes more than the four files above.
# (refstorage: with reftable a worktree's HEAD is no file of its own.)
_RICHER_LAYOUT = (
    r"^(core\.sharedrepository|core\.worktree|core\.sparsecheckout|extensions\.refstorage"
    r"|extensions\.worktreeconfig|extensions\.relativeworktrees|worktree\.userelativepaths)$"
)
_NOT_IN_ID = re.compile(r"[^\w.-]+")


class AdminFileCommands(GitBase):
    """New branches in one transaction, and worktree metadata written as git writes it."""

    def plain_worktree_layout(self) -> bool:
        """True when `git worktree add` would write just the four files (none of the
        settings that make it write more is set, at any level)."""
        res = self.run("config", "-z", "--get-regexp", _RICHER_LAYOUT, check=False)
        return res.returncode == 1  # 1: no such setting

    def create_branches(self, branches: Sequence[tuple[str, str]], reason: str) -> bool:
        """Create `refs/heads/NAME` at each (NAME, COMMIT), all or none, with REASON in the
        reflog (as `git branch` writes it); False when any already exists or cannot be."""
        if not branches:
            return True
        lines = "".join(f"create refs/heads/{name}\0{commit}\0" for name, commit in branches)
        res = self.run("update-ref", "-z", "--stdin", "-m", reason, input=lines, check=False)
        return res.returncode == 0

    def write_worktree(self, path: str, branch: str) -> str:
        """Register PATH (missing or an empty folder) as a worktree of BRANCH, not checked
        out, as `git worktree add --no-checkout PATH BRANCH` does; its admin folder."""
        admin_root = os.path.join(os.path.realpath(self.paths.common_dir), "worktrees")
        os.makedirs(admin_root, exist_ok=True)
        admin = _new_admin_dir(admin_root, path)
        dot_git = os.path.join(path, ".git")
        # Not a flag set after the write: Ctrl-C may land between the two.
        had_dot_git = os.path.lexists(dot_git)
        try:
            _write(os.path.join(admin, "locked"), "initializing")
            # `gitdir` last: git skips an admin folder without it, and reads every other
            # one (an empty `commondir` there stopped `git branch` and `gc` everywhere, a
            # missing HEAD failed `fsck`), so a spawn killed here leaves nothing git sees.
            _write(os.path.join(admin, "commondir"), "../..")
            _write(os.path.join(admin, "HEAD"), f"ref: refs/heads/{branch}")
            head_log = _first_head_log(self.paths.common_dir, branch)
            if head_log is not None:
                os.mkdir(os.path.join(admin, "logs"))
                _write(os.path.join(admin, "logs", "HEAD"), head_log)
            os.makedirs(path, exist_ok=True)
            _write(dot_git, f"gitdir: {admin}")
            _write(os.path.join(admin, "gitdir"), os.path.join(os.path.realpath(path), ".git"))
            os.unlink(os.path.join(admin, "locked"))
        except BaseException:
            shutil.rmtree(admin, ignore_errors=True)
            if not had_dot_git:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(dot_git)
            raise
        return admin


def clear_half_written(path: str, common_dir: str) -> bool:
    """Clear what a killed `write_worktree` left in PATH: a folder holding only a `.git` file
    that names no admin folder git knows (one of COMMON_DIR/worktrees without `gitdir`,
    which is written last, or with it still empty; or none), and that admin folder. True
    when PATH is now empty; False (nothing touched) for anything else. Call under the
    repository lock, which every write_worktree holds."""
    dot_git = os.path.join(path, ".git")
    try:
        if os.listdir(path) != [".git"]:
            return False
        admin = worktree_git_dir(path)
        if admin is None:
            if os.path.getsize(dot_git):
                return False  # a file of someone else's
        else:
            admin_root = os.path.join(os.path.realpath(common_dir), "worktrees")
            if os.path.dirname(os.path.realpath(admin)) != admin_root:
                return False
            if _read_small(os.path.join(admin, "gitdir")):
                return False  # a worktree git knows: not ours to clear
            shutil.rmtree(admin, ignore_errors=True)
        os.unlink(dot_git)
    except (OSError, UnicodeDecodeError):
        return False
    return True


ORPHAN_AGE = 60.0
"""Seconds after which an admin folder without `gitdir` is a killed writer's, not one that
git or wtpar is writing now (both write `gitdir` within milliseconds of the folder)."""


def clear_orphan_admin_dirs(common_dir: str, now: float | None = None) -> list[str]:
    """Remove the folders under COMMON_DIR/worktrees that a killed writer left: no `gitdir`
    (or an empty one), still locked "initializing" (or with the lock file still empty),
    older than ORPHAN_AGE. Git ignores them but never prunes them, since they are locked.
    Call under the repository lock; their names, removed."""
    root = os.path.join(common_dir, "worktrees")
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return []
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat().st_mtime < ORPHAN_AGE:
                continue
            if _read_small(os.path.join(entry.path, "gitdir")):
                continue  # a worktree git knows
            if _read_small(os.path.join(entry.path, "locked")) not in ("", "initializing\n"):
                continue  # locked by someone, for a reason of their own
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(entry.name)
    return removed


def _read_small(path: str) -> str:
    """The start of a small file, "" when it is missing."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read(4096)
    except FileNotFoundError:
        return ""


def drop_initializing_lock(admin: str) -> None:
    """Unlock a worktree whose admin folder ADMIN still has the `locked` file that git (or
    write_worktree) writes while adding it, once its checkout is complete; any other lock
    (a user's, `worktree add --lock`'s) stays."""
    locked = os.path.join(admin, "locked")
    with contextlib.suppress(OSError):
        with open(locked, encoding="utf-8", errors="surrogateescape") as fh:
            reason = fh.read()
        if reason == "initializing\n":
            os.unlink(locked)


def _first_head_log(common_dir: str, branch: str) -> str | None:
    """The entry git starts a new worktree's HEAD reflog with (from nothing to the branch's
    commit, by the same person at the same moment, no message), taken from the branch's
    own creation entry; None when the branch has no reflog (nor then would HEAD)."""
    log = os.path.join(common_dir, "logs", "refs", "heads", *branch.split("/"))
    try:
        with open(log, "rb") as fh:
            fh.seek(max(0, os.fstat(fh.fileno()).st_size - 4096))
            last = fh.read().rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    old, new, rest = (last.split("\t", 1)[0].split(" ", 2) + ["", ""])[:3]
    if len(old) != len(new) or not rest:
        return None
    return f"{'0' * len(new)} {new} {rest}"  # no tab: git writes none without a message


def _new_admin_dir(admin_root: str, path: str) -> str:
    """`worktrees/<id>`, made: the folder's name as a ref component, numbered as git
    numbers it (`name`, `name1`, `name2`, ...) when taken."""
    name = _NOT_IN_ID.sub("-", os.path.basename(os.path.normpath(path)))
    name = name.lstrip(".").replace("..", "-").removesuffix(".lock") or "worktree"
    counter = 0
    while True:
        admin = os.path.join(admin_root, f"{name}{counter or ''}")
        try:
            os.mkdir(admin)
            return admin
        except FileExistsError:
            counter += 1


def _write(path: str, text: str) -> None:
    """One line, as git's write_file writes it; a file that exists is an error."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    # A path's bytes that are not UTF-8 (a folder named in another encoding) go as they are.
    with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(text + "\n")
