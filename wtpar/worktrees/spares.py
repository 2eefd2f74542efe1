"""The records of the warm pool's spare worktrees, in `<common-dir>/wtpar/spares.json`.

A spare is a worktree checked out and set up ahead of time, detached at a commit, waiting
for `spawn` or `claim --any` to turn it into a branch's worktree. Its record says where it
is, at which commit, and its state. Taking a spare is one locked read-modify-write of this
file, so a spare is never handed to two callers.
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass
from typing import Any

from wtpar.procs import pid_alive
from wtpar.state import JsonDict, read_json, update_json

SPARES_FILE = "spares.json"
class SpareState(enum.Enum):
    """Where a spare is in its life."""

    FILLING = "filling"  # being checked out and set up in the background
    READY = "ready"  # may be handed out
    FAILED = "failed"  # its checkout or setup failed (or its filler died); drain removes it
    TAKEN = "taken"  # being turned into a branch's worktree (never shown)


@dataclass(frozen=True)
class Spare:
    """One spare worktree of the warm pool."""

    name: str
    path: str
    commit: str
    state: SpareState
    created: float
    filler_pid: int = 0
    error: str = ""


class SpareStore:
    """The warm pool's records of one repository."""

    def __init__(self, wtpar_dir: str) -> None:
        self.path = os.path.join(wtpar_dir, SPARES_FILE)

    def all(self) -> list[Spare]:
        """Every spare, oldest first; a `filling` one whose filler died shows as failed."""
        spares = _parse(read_json(self.path, {}))
        return sorted((_settled(s) for s in spares.values()), key=lambda s: (s.created, s.name))

    def add(self, spares: list[Spare]) -> None:
        """Record new spares (or replace the records of these names)."""

        def change(data: Any) -> JsonDict:
            known = _parse(data)
            known.update({s.name: s for s in spares})
            return _dump(known)

        update_json(self.path, change, {})

    def set_state(
        self, name: str, state: SpareState, error: str = "", filler_pid: int | None = None
    ) -> bool:
        """Move one spare to `state`; False when it is gone (drained meanwhile)."""
        found = False

        def change(data: Any) -> JsonDict:
            nonlocal found
            known = _parse(data)
            spare = known.get(name)
            if spare is not None:
                found = True
                pid = spare.filler_pid if filler_pid is None else filler_pid
                known[name] = Spare(
                    name, spare.path, spare.commit, state, spare.created, pid, error
                )
            return _dump(known)

        update_json(self.path, change, {})
        return found

    def take(self, prefer_commit: str | None = None) -> Spare | None:
        """Atomically take one ready spare (one at `prefer_commit` if any) for this process."""
        taken: Spare | None = None
        # Without a ready spare there is nothing to lock and rewrite (with an fsync) for
        # each branch spawned; one becoming ready meanwhile is taken by the next spawn.
        if not any(s.state is SpareState.READY for s in _parse(read_json(self.path, {})).values()):
            return None

        def change(data: Any) -> JsonDict:
            nonlocal taken
            known = _parse(data)
            ready = [
                s
                for s in sorted(known.values(), key=lambda s: s.created)
                if s.state is SpareState.READY and os.path.isdir(s.path)
            ]
            exact = [s for s in ready if s.commit == prefer_commit]
            if exact or ready:
                pick = (exact or ready)[0]
                taken = Spare(
                    pick.name, pick.path, pick.commit, SpareState.TAKEN, pick.created, os.getpid()
                )
                known[pick.name] = taken
            return _dump(known)

        update_json(self.path, change, {})
        return taken

    def drop(self, names: list[str]) -> None:
        """Forget these spares (handed out, or drained)."""

        def change(data: Any) -> JsonDict:
            known = _parse(data)
            for name in names:
                known.pop(name, None)
            return _dump(known)

        update_json(self.path, change, {})


def _settled(spare: Spare) -> Spare:
    if spare.state in (SpareState.FILLING, SpareState.TAKEN) and not pid_alive(spare.filler_pid):
        why = "its filler process ended" if spare.state is SpareState.FILLING else "interrupted"
        return Spare(
            spare.name,
            spare.path,
            spare.commit,
            SpareState.FAILED,
            spare.created,
            spare.filler_pid,
            spare.error or why,
        )
    return spare


def _parse(data: Any) -> dict[str, Spare]:
    raw = data.get("spares", {}) if isinstance(data, dict) else {}
    spares: dict[str, Spare] = {}
    if not isinstance(raw, dict):
        return spares
    for name, entry in raw.items():
        # A damaged record is dropped: drain and the next fill start clean.
        try:
            spares[name] = Spare(
                str(name),
                str(entry["path"]),
                str(entry["commit"]),
                SpareState(entry["state"]),
                float(entry.get("created", time.time())),
                int(entry.get("filler_pid", 0)),
                str(entry.get("error", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    return spares


def _dump(spares: dict[str, Spare]) -> JsonDict:
    return {
        "schema": 1,
        "spares": {
            s.name: {
                "path": s.path,
                "commit": s.commit,
                "state": s.state.value,
                "created": s.created,
                "filler_pid": s.filler_pid,
                "error": s.error,
            }
            for s in spares.values()
        },
    }
