"""Remembered task outcomes keyed by (task, command, HEAD commit), recorded only for runs
on a clean tree, so `wtpar run --changed` and `wtpar check` can reuse them."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

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

    @property
    def passed(self) -> bool:
        """True when the task succeeded."""
        return self.status == "ok"


def _key(task: str, command: str, head: str) -> str:
    return f"{task}\x1f{command}\x1f{head}"


class ResultStore:
    """`wtpar/cache/results.json`: the latest result per (task, command, commit)."""

    def __init__(self, wtpar_dir: str, keep: int = 5000) -> None:
        self.path = os.path.join(wtpar_dir, "cache", "results.json")
        self.keep = keep

    def record(self, results: Iterable[RecordedResult]) -> None:
        """Remember these results (the newest wins), under the file's lock."""
        new = {_key(r.task, r.command, r.head): asdict(r) for r in results}
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

    def lookup(self, task: str, command: str, head: str) -> RecordedResult | None:
        """The remembered result of TASK running COMMAND at commit HEAD, if any."""
        entry = read_json(self.path, {}).get("results", {}).get(_key(task, command, head))
        if not isinstance(entry, dict):
            return None
        return RecordedResult(**entry)

    def all(self) -> list[RecordedResult]:
        """Every remembered result."""
        entries = read_json(self.path, {}).get("results", {})
        return [RecordedResult(**e) for e in entries.values() if isinstance(e, dict)]
