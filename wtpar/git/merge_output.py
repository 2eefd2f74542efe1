"""Parsers of what `merge-tree --stdin` and the replay log print, with their result types.

Only the commands that merge or land (check, land, update) use them: kept apart from
parse.py, which every command loads, they are not created at every start (two frozen
dataclasses cost `wtpar list` about 1 ms)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from wtpar.errors import WtparError
from wtpar.git.parse import HEX_RE


@dataclass(frozen=True)
class MergeTreeResult:
    """One simulated merge: clean or not, the merged tree, the conflicted paths."""

    clean: bool
    tree: str
    files: tuple[str, ...] = ()


def parse_merge_tree_stdin(out: str) -> list[MergeTreeResult]:
    """Parse `merge-tree --stdin -z --name-only` records: `status\\0tree\\0paths...\\0\\0`."""
    results: list[MergeTreeResult] = []
    fields = out.split("\0")
    i = 0
    while i + 1 < len(fields) and fields[i] in ("0", "1"):
        status, tree = fields[i], fields[i + 1]
        if not HEX_RE.match(tree):
            raise WtparError(f"git merge-tree --stdin gave no tree id for merge {len(results) + 1}")
        i += 2
        files: list[str] = []
        while i < len(fields) and fields[i]:
            files.append(fields[i])
            i += 1
        i += 1
        results.append(MergeTreeResult(status == "1", tree, tuple(dict.fromkeys(files))))
    return results


@dataclass(frozen=True)
class ReplayCommit:
    """A commit a rebase replays: its id, first parent, message and author variables."""

    sha: str
    parent: str
    message: str
    author: Mapping[str, str]


def parse_replay_log(out: str) -> list[ReplayCommit]:
    """Parse `log -z --format=%H%x01%P%x01%an%x01%ae%x01%ad%x01%B --date=raw`."""
    commits = []
    for record in out.split("\0"):
        if not record:
            continue
        sha, parents, name, email, date, message = record.split("\x01", 5)
        author = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date}
        commits.append(ReplayCommit(sha, parents.split()[0], message, author))
    return commits
