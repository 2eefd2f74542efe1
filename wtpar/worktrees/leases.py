"""Leases: who holds which worktree, so that several agents (or people) on one repository
never work in the same worktree, and `remove`/`prune` never pull one from under its holder.

A lease names a holder, when it was taken and when it expires; an expired lease is free.
Leases live in `<common-dir>/wtpar/leases.json`, read and written under the repository
lock, so two processes claiming one branch at once get one winner and one refusal.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from wtpar.errors import UsageError, WtparError
from wtpar.locks import repo_lock
from wtpar.state import atomic_write_json, read_json
from wtpar.text import parse_duration, shell_word
from wtpar.worktrees.paths import LEASES_FILE

DEFAULT_TTL = 2 * 3600.0


@dataclass(frozen=True)
class Lease:
    """One worktree's holder: who, since when, until when, and why."""

    branch: str
    holder: str
    since: float
    expires: float
    note: str = ""

    def expired(self, now: float) -> bool:
        """True once the lease has run out (an expired lease is free to take)."""
        return now >= self.expires


class LeaseHeldError(WtparError):
    """The worktree is held by someone else; the message names them and since when."""

    exit_code = 1

    def __init__(self, lease: Lease, wanted_by: str, now: float) -> None:
        super().__init__(
            f"{lease.branch} is held by {lease.holder} since {describe_since(lease.since, now)}"
            f" (expires in {format_duration(lease.expires - now)}); "
            f"{wanted_by} cannot take it until it is released or expires"
        )
        self.lease = lease


def parse_ttl(text: str) -> float:
    """Seconds in a lease's `--ttl`: `90s`, `30m`, `2h`, `1h30m` (a bare number is seconds)."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"invalid duration for --ttl: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"invalid duration for --ttl: {text!r} is not positive")
    return seconds


def format_duration(seconds: float) -> str:
    """`45s`, `12m`, `1h59m`, `2d` for a positive span of time."""
    seconds = max(0.0, seconds)
    if 3600 <= seconds < 86400:
        return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def describe_since(since: float, now: float) -> str:
    """`14:02 UTC (5m ago)`: when a lease was taken, readable."""
    clock = time.strftime("%H:%M UTC", time.gmtime(since))
    return f"{clock} ({format_duration(now - since)} ago)"


def check_holder_name(name: str) -> str:
    """A holder name as given, refused when empty or when it holds a line break or another
    control character (it is printed in messages and tables, a line each)."""
    if not name.strip():
        raise UsageError("--by needs a holder name (the agent or person taking the worktree)")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name.strip()):
        raise UsageError(f"--by {name!r}: a holder name is one line, without control characters")
    return name.strip()


class LeaseStore:
    """The leases of one repository."""

    def __init__(self, wtpar_dir: str) -> None:
        self.wtpar_dir = wtpar_dir
        self.path = os.path.join(wtpar_dir, LEASES_FILE)

    def active(self, now: float | None = None) -> dict[str, Lease]:
        """Unexpired leases by branch (read without the lock: a snapshot for display)."""
        now = time.time() if now is None else now
        return {b: lease for b, lease in self._read().items() if not lease.expired(now)}

    def holder(self, branch: str, now: float | None = None) -> Lease | None:
        """The unexpired lease on `branch`, if any."""
        return self.active(now).get(branch)

    def claim(
        self,
        branch: str,
        holder: str,
        ttl: float = DEFAULT_TTL,
        note: str = "",
        now: float | None = None,
    ) -> Lease:
        """Take (or renew, for the same holder) the lease on `branch`; refuse another's."""
        holder = check_holder_name(holder)
        with repo_lock(self.wtpar_dir):
            return self.claim_locked(branch, holder, ttl, note, now)

    def claim_locked(
        self, branch: str, holder: str, ttl: float, note: str = "", now: float | None = None
    ) -> Lease:
        """`claim`, for a caller that already holds the repository lock."""
        now = time.time() if now is None else now
        leases = self._read()
        current = leases.get(branch)
        if current and not current.expired(now) and current.holder != holder:
            raise LeaseHeldError(current, holder, now)
        since = current.since if current and current.holder == holder else now
        if current and current.expired(now):
            since = now
        lease = Lease(branch, holder, since, now + ttl, note or (current.note if current else ""))
        leases[branch] = lease
        self._write(leases, now)
        return lease

    def release(self, branch: str, by: str | None = None, now: float | None = None) -> Lease | None:
        """Give the lease on `branch` back; with `by`, refuse when someone else holds it.

        Returns the lease that was released (None when the branch was not held).
        """
        now = time.time() if now is None else now
        with repo_lock(self.wtpar_dir):
            leases = self._read()
            current = leases.get(branch)
            if current is None or current.expired(now):
                leases.pop(branch, None)
                self._write(leases, now)
                return None
            if by is not None and current.holder != check_holder_name(by):
                raise LeaseHeldError(current, by, now)
            del leases[branch]
            self._write(leases, now)
            return current

    def forget(self, branches: list[str]) -> None:
        """Drop the leases of worktrees that are gone."""
        with repo_lock(self.wtpar_dir):
            leases = self._read()
            if any(b in leases for b in branches):
                for branch in branches:
                    leases.pop(branch, None)
                self._write(leases, time.time())

    def _read(self) -> dict[str, Lease]:
        data = read_json(self.path, {})
        raw = data.get("leases", {}) if isinstance(data, dict) else {}
        leases: dict[str, Lease] = {}
        if not isinstance(raw, dict):
            return leases
        for branch, entry in raw.items():
            lease = _parse(branch, entry)
            if lease is not None:
                leases[branch] = lease
        return leases

    def _write(self, leases: dict[str, Lease], now: float) -> None:
        # Expired leases are dropped on every write, so the file never grows.
        data = {
            "schema": 1,
            "leases": {
                b: {"holder": x.holder, "since": x.since, "expires": x.expires, "note": x.note}
                for b, x in sorted(leases.items())
                if not x.expired(now)
            },
        }
        atomic_write_json(self.path, data)


def _parse(branch: str, entry: Any) -> Lease | None:
    # A damaged entry is dropped: a lease protects work, but a bad one must not block all.
    try:
        return Lease(
            str(branch),
            str(entry["holder"]),
            float(entry["since"]),
            float(entry["expires"]),
            str(entry.get("note", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def lease_refusal(lease: Lease | None, now: float | None = None) -> str | None:
    """Why `remove`/`prune` refuse a claimed worktree, naming the holder (None when free)."""
    if lease is None:
        return None
    now = time.time() if now is None else now
    note = f", {lease.note}" if lease.note else ""
    return (
        f"claimed by {lease.holder} since {describe_since(lease.since, now)}{note}; "
        f"ask them to `wtpar release {shell_word(lease.branch)}`, or use --force"
    )
