"""wtpar's files under the common git dir, and the one way to change shared ones:
take the lock, re-read, write a temp file in the same folder, `os.replace`."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from typing import Any

from wtpar.locks import file_lock, locks_dir
from wtpar.model import WorktreeRecord

JsonDict = dict[str, Any]


def atomic_write_text(path: str, text: str) -> None:
    """Replace `path` with `text` so that readers see the old or the new file, never half."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    import tempfile  # here: reading state (`wtpar list`) never needs it

    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str, data: Any) -> None:
    """Write `data` as indented JSON, atomically."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path: str, default: Any) -> Any:
    """Read a JSON file, or `default` when it is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (FileNotFoundError, json.JSONDecodeError):
        return default


def update_json(path: str, change: Callable[[Any], Any], default: Any) -> Any:
    """Under the file's lock: read, apply `change`, write back atomically; return the new data."""
    lock = file_lock(
        os.path.join(locks_dir(os.path.dirname(path)), os.path.basename(path) + ".lock")
    )
    with lock:
        data = change(read_json(path, default))
        atomic_write_json(path, data)
        return data


class StateStore:
    """The worktree records in `wtpar/state.json`."""

    def __init__(self, wtpar_dir: str) -> None:
        self.wtpar_dir = wtpar_dir
        self.path = os.path.join(wtpar_dir, "state.json")

    def records(self) -> dict[str, WorktreeRecord]:
        """Records by branch name."""
        data = read_json(self.path, {})
        result: dict[str, WorktreeRecord] = {}
        for branch, rec in data.get("worktrees", {}).items():
            result[branch] = WorktreeRecord(
                branch=branch,
                path=str(rec.get("path", "")),
                base_ref=rec.get("base_ref"),
                base_sha=rec.get("base_sha"),
                created=float(rec.get("created", 0.0)),
                populated=rec.get("populated", True) is not False,
            )
        return result

    def put(self, records: list[WorktreeRecord]) -> None:
        """Add or replace records."""

        def change(data: JsonDict) -> JsonDict:
            worktrees = data.setdefault("worktrees", {})
            for rec in records:
                worktrees[rec.branch] = {
                    "path": rec.path,
                    "base_ref": rec.base_ref,
                    "base_sha": rec.base_sha,
                    "created": rec.created,
                    "populated": rec.populated,
                }
            data["schema"] = 1
            return data

        update_json(self.path, change, {})

    def drop(self, branches: list[str]) -> None:
        """Forget the records of these branches."""

        def change(data: JsonDict) -> JsonDict:
            worktrees = data.setdefault("worktrees", {})
            for branch in branches:
                worktrees.pop(branch, None)
            data["schema"] = 1
            return data

        update_json(self.path, change, {})
