"""Remembered task outcomes keyed by (task, command with its env, tested tree), so
`wtpar run --changed` and `wtpar check` can reuse them wherever the same content was
tested: after a rebase that left the tree as it was, on another branch with the same
tree, or on a dirty worktree whose state already passed (treekey.py)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from typing import Any

from wtpar.run.treekey import commit_trees
from wtpar.state import read_json, update_json


@dataclass(frozen=True)
class RecordedResult:
    """The outcome of one task at one commit with a clean tree."""

    task: str
    command: str
    branch: str
    head: str
    status: str  # a RunStatus value: "ok", "failed", "timed out", ...
    exit_code: int | None
    finished: float
    run_id: str
    tree: str = ""  # the tested tree; from `head` when recorded without one

    @property
    def passed(self) -> bool:
        """True when the task succeeded."""
        return self.status == "ok"


def _key(task: str, command: str, tree: str) -> str:
    return f"{task}\x1f{command}\x1ftree:{tree}"


class ResultStore:
    """`wtpar/cache/results.json`: the latest result per (task, command, tree)."""

    def __init__(self, wtpar_dir: str, keep: int = 5000) -> None:
        self.path = os.path.join(wtpar_dir, "cache", "results.json")
        self.keep = keep
        self._git_dir = os.path.dirname(wtpar_dir)
        self._trees: dict[str, str | None] = {}

    def trees(self, heads: Iterable[str]) -> dict[str, str | None]:
        """The tree of each commit (read once per store, in one git call)."""
        wanted = [h for h in dict.fromkeys(heads) if h not in self._trees]
        if wanted:
            self._trees.update(commit_trees(self._git_dir, wanted))
        return {h: self._trees.get(h) for h in heads}

    def record(self, results: Iterable[RecordedResult]) -> None:
        """Remember these results (the newest wins), under the file's lock."""
        results = list(results)
        trees = self.trees([r.head for r in results if not r.tree])
        results = [r if r.tree else replace(r, tree=trees.get(r.head) or "") for r in results]
        new = {_key(r.task, r.command, r.tree): asdict(r) for r in results if r.tree}
        if not new:
            return

        def change(data: dict[str, Any]) -> dict[str, Any]:
            entries: dict[str, Any] = data.get("results", {})
            entries.update(new)
            if len(entries) > self.keep:
                ordered = sorted(entries.items(), key=lambda kv: kv[1].get("finished", 0))
                entries = dict(ordered[-self.keep :])
            return {"schema": 1, "results": entries}

        update_json(self.path, change, {})

    def lookup(
        self, task: str, command: str, head: str = "", tree: str | None = None
    ) -> RecordedResult | None:
        """The remembered result of TASK running COMMAND on TREE (by default, the tree of
        commit HEAD), if any."""
        tree = tree or self.trees([head]).get(head)
        if not tree:
            return None
        entry = read_json(self.path, {}).get("results", {}).get(_key(task, command, tree))
        return _result(entry)

    def all(self) -> list[RecordedResult]:
        """Every remembered result."""
        entries = read_json(self.path, {}).get("results", {})
        found = [_result(e) for e in entries.values()] if isinstance(entries, dict) else []
        return [r for r in found if r is not None]


def _result(entry: Any) -> RecordedResult | None:
    """An entry read back, or None when it is not one (a damaged cache is ignored)."""
    if not isinstance(entry, dict):
        return None
    try:
        return RecordedResult(**entry)
    except TypeError:
        return None
