"""Parsers of git's machine-readable output (`-z` porcelain formats), pure except for
reading a worktree's `.git` file."""

from __future__ import annotations

import os
import re
from dataclasses import replace

from wtpar.model import StatusCounts, Worktree

HEX_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


def output_line(text: str) -> str:
    """Git's one line of output, or a line git wrote to a file, without its line break:
    `str.strip` also strips spaces, U+0085 and U+2028, which names and paths may hold."""
    return text.rstrip("\r\n")


def output_lines(text: str) -> list[str]:
    """Git's output a line each, split at "\\n" alone: `str.splitlines` also splits at
    U+0085, U+2028 and U+2029, which a branch's or a file's name may hold."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def with_rebased_branch(wt: Worktree) -> Worktree:
    """A worktree stopped mid-rebase has a detached HEAD, yet it belongs to the branch being
    rebased (`rebase-merge/head-name`): name it so `list`, `check`, `path`, `remove` find it."""
    if not wt.detached or wt.prunable:
        return wt
    gitdir = worktree_git_dir(wt.path)
    if gitdir is None:
        return wt
    for folder in ("rebase-merge", "rebase-apply"):
        try:
            name = os.path.join(gitdir, folder, "head-name")
            with open(name, encoding="utf-8", errors="surrogateescape") as fh:
                ref = output_line(fh.read())
        except OSError:
            continue
        if ref.startswith("refs/heads/"):
            return replace(wt, branch=ref.removeprefix("refs/heads/"))
    return wt


def worktree_git_dir(worktree_path: str) -> str | None:
    """The private git dir of a worktree (`.git` itself, or where a `.git` file points)."""
    dotgit = os.path.join(worktree_path, ".git")
    if os.path.isdir(dotgit):
        return dotgit
    try:
        with open(dotgit, encoding="utf-8", errors="surrogateescape") as fh:
            line = output_line(fh.readline())
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    target = line[len("gitdir:") :].lstrip(" ")
    return os.path.normpath(os.path.join(worktree_path, target))


def parse_worktree_list(out: str) -> list[Worktree]:
    """Parse `git worktree list --porcelain -z`."""
    result: list[Worktree] = []
    fields: dict[str, str | None] = {}
    for item in [*out.split("\0"), ""]:
        if item:
            key, _, value = item.partition(" ")
            fields[key] = value if value or key in ("worktree", "branch", "HEAD") else None
            if key in ("locked", "prunable") and not value:
                fields[key] = ""
            continue
        if not fields:
            continue
        branch = fields.get("branch")
        result.append(
            Worktree(
                path=fields.get("worktree") or "",
                head=fields.get("HEAD") or None,
                branch=branch.removeprefix("refs/heads/") if branch else None,
                is_main=not result,
                bare="bare" in fields,
                detached="detached" in fields,
                locked="locked" in fields,
                locked_reason=fields.get("locked") or None,
                prunable="prunable" in fields,
                prunable_reason=fields.get("prunable") or None,
            )
        )
        fields = {}
    return result


def parse_status_v2(out: str) -> StatusCounts:
    """Count staged, modified, untracked and conflicted entries of `status --porcelain=v2 -z`."""
    staged = modified = untracked = conflicted = 0
    items = iter(out.split("\0"))
    for item in items:
        if not item:
            continue
        kind = item[0]
        if kind in "12":
            xy = item[2:4]
            if xy[0] != ".":
                staged += 1
            if xy[1] != ".":
                modified += 1
            if kind == "2":
                next(items, None)  # the rename's original path is its own field
        elif kind == "u":
            conflicted += 1
        elif kind == "?":
            untracked += 1
    return StatusCounts(staged, modified, untracked, conflicted)


def parse_numstat(out: str) -> list[tuple[int | None, int | None, str]]:
    """Parse `diff --numstat -z --no-renames`: (added, deleted, path), None for binary."""
    rows = []
    for item in out.split("\0"):
        if not item:
            continue
        added, deleted, path = item.split("\t", 2)
        rows.append(
            (None if added == "-" else int(added), None if deleted == "-" else int(deleted), path)
        )
    return rows


# `git push --porcelain` summaries (not translated) that mean the remote branch moved on.
_SOMEONE_PUSHED = ("non-fast-forward", "fetch first")


def push_refusal(stdout: str, stderr: str) -> str:
    """Why `git push --porcelain` refused, in a line: the rejected ref's reason (a remote
    that moved on says so), else git's error; never the porcelain's closing `Done`."""
    for line in output_lines(stdout):
        fields = line.split("\t")
        if len(fields) < 3 or fields[0] != "!":
            continue
        summary = fields[2].strip()
        status, _, reason = summary.partition(" (")
        reason = reason.rstrip(")")
        if reason in _SOMEONE_PUSHED:
            return (
                f"{status.strip('[]')} ({reason}): the remote branch has commits this one "
                "lacks (someone pushed first); fetch and merge them, then push"
            )
        return summary
    error = git_error_line(stderr)
    if error:
        return error
    rest = [ln for ln in (stderr + stdout).strip().splitlines() if ln.strip() != "Done"]
    return rest[-1] if rest else "git push failed"


def git_error_line(output: str) -> str | None:
    """git's first `fatal:` or `error:` line in OUTPUT (what went wrong; the advice after
    it names no file), or None."""
    return next(
        (ln.strip() for ln in output.splitlines() if ln.startswith(("fatal:", "error:"))), None
    )


def git_reason(output: str) -> str:
    """The line of git's output that says what went wrong: its first `fatal:` or `error:`
    line, else its last line ("" for none)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return git_error_line(output) or (lines[-1] if lines else "")
