"""What a result is about: the tree that was tested, the command and the task's env.

Keying results on the tree rather than the commit lets a branch rebased onto an unchanged
tree, two branches with the same content, and a dirty worktree whose state already passed
reuse a result. A clean worktree's tree is its HEAD commit's. A dirty one's is computed
without touching its index: its index is copied to a scratch file (so unchanged files are
not hashed again), `git add -A` updates the copy (untracked files and hidden changes
included, ignored files not: wtpar/git/hidden.py), and `git write-tree` stores the tree.
bench/bench_tree_key.py measures the cost.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable

from wtpar import procs
from wtpar.errors import CommandError
from wtpar.git.hidden import unhide

_HEX = set("0123456789abcdef")


def result_command(command: str, env: Iterable[tuple[str, str]]) -> str:
    """The command as results know it: with a digest of the task's `env` when it has one,
    so the same command under another environment is another result."""
    pairs = sorted(env)
    if not pairs:
        return command
    import hashlib  # here: loading OpenSSL's hashes costs a run without `env` about 2 ms

    digest = hashlib.sha256(repr(pairs).encode()).hexdigest()[:16]
    return f"{command} [env {digest}]"


def commit_trees(git_dir: str, commits: Iterable[str]) -> dict[str, str | None]:
    """The tree of each commit id (None when unknown), in one git call."""
    wanted = [c for c in dict.fromkeys(commits) if c and set(c) <= _HEX]
    result: dict[str, str | None] = dict.fromkeys(wanted)
    if not wanted:
        return result
    res = procs.run(
        ["git", f"--git-dir={git_dir}", "cat-file", "--batch-check=%(objectname) %(objecttype)"],
        input="".join(f"{c}^{{tree}}\n" for c in wanted),
        check=False,
    )
    for commit, line in zip(wanted, res.stdout.splitlines(), strict=False):
        sha, _, kind = line.partition(" ")
        result[commit] = sha if kind == "tree" else None
    return result


def working_tree(path: str, scratch_dir: str) -> str | None:
    """The tree of the worktree's files as they are now (untracked included, ignored not),
    stored in the object database; None when git cannot tell. The real index is untouched."""
    try:
        index = procs.run(
            ["git", "rev-parse", "--path-format=absolute", "--git-path", "index"], cwd=path
        ).stdout.strip()
        os.makedirs(scratch_dir, exist_ok=True)
        import tempfile  # here: only `--changed` on a dirty worktree needs it

        fd, scratch = tempfile.mkstemp(dir=scratch_dir, prefix="index-")
        os.close(fd)
        try:
            if os.path.exists(index):
                shutil.copyfile(index, scratch)
            else:
                os.unlink(scratch)  # no index yet: git starts an empty one
            env = {"GIT_INDEX_FILE": scratch}
            unhide(path, env)  # assume-unchanged and skip-worktree files as they are
            procs.run(["git", "add", "-A", "--", "."], cwd=path, env=env)
            tree = procs.run(["git", "write-tree"], cwd=path, env=env).stdout.strip()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch)
    except (CommandError, OSError):
        return None
    return tree if len(tree) >= 40 and set(tree) <= _HEX else None
