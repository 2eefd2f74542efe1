"""Remembered task outcomes keyed by (task, command with its env, tested tree), so
`wtpar run --changed` and `wtpar check` can reuse them wherever the same content was
tested: after a rebase that left the tree as it was, on another branch with the same
tree, or on a dirty worktree whose state already passed (treekey.py)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from typing import Any

from wtpar.model import RunStatus
from wtpar.run.treekey import commit_trees
from wtpar.state import update_cache
from wtpar.stored import Corrupt, Fields, read_cache

SCHEMA = 1
_STATUSES = {s.value for s in RunStatus}


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


_FIELDS = tuple(f.name for f in fields(RecordedResult))


def _as_dict(result: RecordedResult) -> dict[str, Any]:
    # dataclasses.asdict deep-copies every field: slow for thousands of flat results
    return {name: getattr(result, name) for name in _FIELDS}


def _key(task: str, command: str, tree: str) -> str:
    return f"{task}\x1f{command}\x1ftree:{tree}"


# What this process recorded, by file: its own later look-ups find it even when the file
# could not be written (another process held its lock past the wait): `check` judges the
# tasks it has just run by their results, not by whether the cache took them.
_recorded_here: dict[str, dict[str, RecordedResult]] = {}


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
        new = {_key(r.task, r.command, r.tree): r for r in results if r.tree}
        if not new:
            return
        here = _recorded_here.setdefault(self.path, {})
        here.update(new)
        if len(here) > self.keep:  # a dashboard open for days: the newest only
            ordered = sorted(here.items(), key=lambda kv: kv[1].finished)[-self.keep :]
            _recorded_here[self.path] = dict(ordered)

        def change(entries: dict[str, RecordedResult]) -> dict[str, Any]:
            entries.update(new)
            ordered = sorted(entries.items(), key=lambda kv: kv[1].finished)[-self.keep :]
            return {"schema": SCHEMA, "results": {k: _as_dict(r) for k, r in ordered}}

        empty: dict[str, RecordedResult] = {}
        update_cache(self.path, _parse_results, empty, change)

    def lookup(
        self, task: str, command: str, head: str = "", tree: str | None = None
    ) -> RecordedResult | None:
        """The remembered result of TASK running COMMAND on TREE (by default, the tree of
        commit HEAD), if any."""
        tree = tree or self.trees([head]).get(head)
        if not tree:
            return None
        return self._load().get(_key(task, command, tree))

    def all(self) -> list[RecordedResult]:
        """Every remembered result."""
        return list(self._load().values())

    def _load(self) -> dict[str, RecordedResult]:
        empty: dict[str, RecordedResult] = {}
        loaded = read_cache(self.path, _parse_results, empty)
        for key, mine in _recorded_here.get(self.path, {}).items():
            known = loaded.get(key)
            if known is None or known.finished < mine.finished:
                loaded[key] = mine
        return loaded


def _parse_results(data: Any) -> dict[str, RecordedResult]:
    """The typed loader of results.json (Corrupt when any part has the wrong shape)."""
    doc = Fields(data)
    doc.schema(SCHEMA)
    return {key: _parse_result(entry) for key, entry in doc.objects("results").items()}


def _parse_result(entry: Fields) -> RecordedResult:
    result = RecordedResult(
        task=entry.text("task"),
        command=entry.text("command"),
        branch=entry.text("branch"),
        head=entry.text("head"),
        status=entry.text("status"),
        exit_code=entry.opt_integer("exit_code"),
        finished=entry.number("finished"),
        run_id=entry.text("run_id"),
        tree=entry.opt_text("tree") or "",
    )
    if result.status not in _STATUSES:
        raise Corrupt(f"{entry.where}.status {result.status!r} is not a task status")
    return result
