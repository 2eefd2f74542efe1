"""Spawning and claiming in one step: `spawn --claim NAME`, and `claim --any`, the one call
an agent makes to get a place to work (a warm spare when one is ready, else a new worktree
on a new branch), claimed for it before anyone else can take it."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from wtpar.errors import UsageError, WtparError
from wtpar.model import SpawnOutcome, SpawnResult
from wtpar.worktrees.environment import Environments
from wtpar.worktrees.leases import Lease, LeaseHeldError, LeaseStore, check_holder_name
from wtpar.worktrees.manager import WorktreeManager


@dataclass(frozen=True)
class Handout:
    """What `claim --any` gave: a worktree to work in, its new branch, ports and lease."""

    path: str
    branch: str
    lease: Lease
    ports: tuple[tuple[str, int], ...] = ()
    from_spare: bool = False
    setup_errors: tuple[str, ...] = ()  # post_create or copy failures (it is claimed anyway)


def fresh_branch_name(holder: str) -> str:
    """A new branch name for `claim --any`: the holder's name and a random suffix."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", holder).strip("-.") or "agent"

    return f"{stem}-{secrets.token_hex(3)}"


def spawn_claimed(
    manager: WorktreeManager,
    leases: LeaseStore,
    branches: Sequence[str],
    by: str,
    from_ref: str | None,
    ttl: float,
    note: str = "",
) -> list[SpawnResult]:
    """Spawn BRANCHES and claim each for BY; one held by someone else fails, untouched."""
    held = {b: x for b, x in leases.active().items() if b in branches and x.holder != by}
    free = [b for b in branches if b not in held]
    results = {r.branch: r for r in manager.spawn(free, from_ref)} if free else {}
    now = time.time()
    out: list[SpawnResult] = []
    for branch in dict.fromkeys(branches):
        if branch in held:
            error = LeaseHeldError(held[branch], by, now).message
            out.append(SpawnResult(branch, SpawnOutcome.FAILED, None, error=error))
            continue
        result = results[branch]
        if result.outcome is not SpawnOutcome.FAILED:
            try:
                leases.claim(branch, by, ttl, note)
            except LeaseHeldError as exc:
                result = replace(result, outcome=SpawnOutcome.FAILED, error=exc.message)
        out.append(result)
    return out


def claim_any(
    manager: WorktreeManager,
    leases: LeaseStore,
    by: str,
    from_ref: str | None,
    branch: str | None,
    ttl: float,
    note: str = "",
) -> Handout:
    """A worktree for BY on a new branch: a warm spare when one is ready, else spawned."""
    check_holder_name(by)
    name = branch or fresh_branch_name(by)
    if branch and manager.git.local_branch_exists(branch):
        raise UsageError(f"claim --any: branch {branch!r} already exists; pick a new name")
    (result,) = spawn_claimed(manager, leases, [name], by, from_ref, ttl, note)
    if result.outcome is not SpawnOutcome.CREATED or result.path is None:
        raise WtparError(f"claim --any: could not create {name}: {result.error}")
    lease = leases.holder(name)
    assert lease is not None
    ports = tuple(Environments(manager.paths, manager.config).ports_of(name).items())
    return Handout(result.path, name, lease, ports, result.from_spare, result.setup_errors)
