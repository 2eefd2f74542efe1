"""`wtpar check`: gather the facts about each branch (git, worktrees, remembered task results),
run the missing check tasks through a runner, simulate the merges, and judge each branch
with the pure rules of `readiness.py`."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from wtpar import git as gitmod
from wtpar.check.merging import ConflictMatrix, MergeSimulator
from wtpar.check.model import (
    BaseMerge,
    BranchFacts,
    CheckFact,
    CheckState,
    Policy,
    UpstreamFacts,
)
from wtpar.check.order import MergeOrder, suggested_order
from wtpar.check.rules import evaluate, is_integrated
from wtpar.config import Config
from wtpar.errors import UsageError, WtparError
from wtpar.git import Git
from wtpar.locks import repo_lock
from wtpar.model import BranchTracking, Readiness, StatusCounts, Worktree
from wtpar.notices import warn
from wtpar.run.results import ResultStore
from wtpar.state import StateStore

CheckRunner = Callable[[Sequence[str], Sequence[str]], None]
"""(task names, branches) -> None: runs the check tasks in those branches' worktrees and
records the results (clean trees only) in the ResultStore."""

_CHECK_KEYS = {"tasks", "require_upstream", "require_up_to_date", "base"}


@dataclass(frozen=True)
class CheckConfig:
    """The `[check]` table."""

    tasks: tuple[str, ...] = ()
    require_upstream: bool = False
    require_up_to_date: bool = False
    base: str | None = None

    @property
    def policy(self) -> Policy:
        """The readiness policy these settings ask for."""
        return Policy(self.require_upstream, self.require_up_to_date)


def parse_check_config(config: Config) -> CheckConfig:
    """Read and validate `[check]` (ConfigError with file:line otherwise)."""
    table = config.check
    for key in sorted(set(table) - _CHECK_KEYS):
        raise config.error(
            f"unknown setting check.{key} (known: {', '.join(sorted(_CHECK_KEYS))})", key
        )
    tasks = table.get("tasks", [])
    if isinstance(tasks, str):
        tasks = [tasks]
    if not isinstance(tasks, list) or not all(isinstance(t, str) for t in tasks):
        raise config.error("check.tasks must be a list of task names", "tasks")
    flags: dict[str, bool] = {}
    for key in ("require_upstream", "require_up_to_date"):
        value = table.get(key, False)
        if not isinstance(value, bool):
            raise config.error(f"check.{key} must be true or false", key)
        flags[key] = value
    base = table.get("base")
    if base is not None and not isinstance(base, str):
        raise config.error("check.base must be a string", "base")
    return CheckConfig(tuple(dict.fromkeys(tasks)), base=base, **flags)


@dataclass(frozen=True)
class BranchCheck:
    """One branch's facts and verdict."""

    branch: str
    head: str
    worktree: str | None
    facts: BranchFacts
    readiness: Readiness


@dataclass(frozen=True)
class CheckReport:
    """Everything `wtpar check` found."""

    base: str
    base_sha: str
    git_version: str
    branches: tuple[BranchCheck, ...]
    matrix: ConflictMatrix
    order: MergeOrder
    tasks: tuple[str, ...] = ()
    ran: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ready(self) -> bool:
        """True when no selected branch is blocked (ready or already merged)."""
        return not any(b.readiness.blocked for b in self.branches)

    def branch(self, name: str) -> BranchCheck:
        """The check of one branch."""
        return next(b for b in self.branches if b.branch == name)


def fetch_base(git: Git, base: str) -> str | None:
    """Fetch the remote the base comes from, under the repository lock; a note if none."""
    remote = git.remote_of(base)
    if remote is None:
        return f"--fetch: {base} comes from no remote; nothing fetched"
    with repo_lock(git.paths.wtpar_dir):
        git.fetch(remote)
    return None


@dataclass(frozen=True)
class _Local:
    """What the worktree and the refs say about one branch."""

    ahead: int
    behind: int
    dirty: StatusCounts | None
    operation: str | None

    @property
    def clean(self) -> bool:
        """True for a worktree without uncommitted changes (results can be recorded there)."""
        return self.dirty is not None and not self.dirty.dirty


def run_check(
    git: Git,
    base: str,
    settings: CheckConfig,
    task_commands: Mapping[str, str],
    branches: Sequence[str] = (),
    runner: CheckRunner | None = None,
    use_stdin: bool | None = None,
) -> CheckReport:
    """Judge the selected branches (default: every worktree's branch but the main one)."""
    gitmod.require_version((2, 38), "wtpar check (git merge-tree --write-tree)")
    worktrees = {wt.branch: wt for wt in git.worktrees() if wt.branch and not wt.prunable}
    names = _select(git, base, branches, worktrees)
    resolved = git.resolve_commits([base, *(f"refs/heads/{n}" for n in names)])
    base_sha = resolved[base]
    if base_sha is None:
        raise UsageError(f"base {base!r} is not a commit (use --base REF)")
    heads = {n: resolved[f"refs/heads/{n}"] or "" for n in names}
    tracking = git.branch_tracking()
    sim = MergeSimulator(git, use_stdin=use_stdin)
    local = _local_facts(git, sim.ahead_behind(base_sha, heads), worktrees)
    store = ResultStore(git.paths.wtpar_dir)
    store.trees(heads.values())  # results are keyed by tree: read them all in one call
    ran: tuple[str, ...] = ()
    if runner is not None and settings.tasks:
        missing = {
            n: [t for t in settings.tasks if store.lookup(t, task_commands[t], heads[n]) is None]
            for n in names
            if n in worktrees and local[n].clean
        }
        ran = tuple(n for n, tasks in missing.items() if tasks)
        if ran:
            wanted = [t for t in settings.tasks if any(t in missing[n] for n in ran)]
            runner(wanted, ran)
    spawned = _still_spawned(git, heads)
    with sim:
        merged = sim.base_results(base_sha, heads)
        checks: list[BranchCheck] = []
        for n in names:
            track = tracking.get(n, BranchTracking())
            wt = worktrees.get(n)
            unread = wt is not None and os.path.isdir(wt.path) and local[n].dirty is None
            facts = BranchFacts(
                branch=n,
                base=base,
                ahead=local[n].ahead,
                behind=local[n].behind,
                merge=_base_merge(merged[n].related, merged[n].clean, merged[n].files, base),
                dirty=local[n].dirty,
                upstream=UpstreamFacts(
                    track.upstream, track.ahead or 0, track.behind or 0, track.gone
                ),
                checks=_check_facts(
                    settings.tasks,
                    task_commands,
                    store,
                    heads[n],
                    local[n].dirty,
                    has_worktree=n in worktrees,
                    runner=runner is not None,
                    unread=unread,
                ),
                integrated=merged[n].integrated,
                operation=local[n].operation,
                spawned_from=spawned.get(n) if n in worktrees else None,
                status_unread=unread,
            )
            checks.append(
                BranchCheck(
                    n, heads[n], wt.path if wt else None, facts, evaluate(facts, settings.policy)
                )
            )
        pending = {
            c.branch: c.head
            for c in checks
            if merged[c.branch].related and not is_integrated(c.facts)
        }
        matrix = sim.matrix(base_sha, pending)
        ready = [c.branch for c in checks if c.readiness.ready and c.branch in pending]
        order = sim.merge_order(base_sha, suggested_order(ready, matrix), pending, matrix)
    return CheckReport(
        base=base,
        base_sha=base_sha,
        git_version=".".join(str(x) for x in gitmod.version()),
        branches=tuple(checks),
        matrix=matrix,
        order=order,
        tasks=settings.tasks,
        ran=ran,
    )


def _select(
    git: Git, base: str, wanted: Sequence[str], worktrees: Mapping[str, Worktree]
) -> list[str]:
    if not wanted:
        return sorted(str(b) for b, wt in worktrees.items() if b and not wt.is_main and b != base)
    names = list(dict.fromkeys(wanted))
    known = git.resolve_commits([f"refs/heads/{n}" for n in names])
    unknown = [n for n in names if known[f"refs/heads/{n}"] is None]
    if unknown:
        raise UsageError(f"no local branch named {unknown[0]!r}")
    if base in names:
        raise UsageError(f"{base!r} is the base; name the branches to merge into it")
    return names


def _local_facts(
    git: Git, counts: Mapping[str, tuple[int, int]], worktrees: Mapping[str, Worktree]
) -> dict[str, _Local]:
    def one(name: str) -> _Local:
        ahead, behind = counts[name]
        wt = worktrees.get(name)
        if wt is None or not os.path.isdir(wt.path):
            return _Local(ahead, behind, None, None)
        return _Local(ahead, behind, git.status(wt.path), git.operation_in_progress(wt.path))

    names = list(counts)
    with ThreadPoolExecutor(max(1, min(8, len(names)))) as pool:
        return dict(zip(names, pool.map(one, names), strict=True))


def _still_spawned(git: Git, heads: Mapping[str, str]) -> dict[str, str]:
    """What each branch still at the commit it was spawned at was spawned from (the rule
    `prune --merged` keeps such a branch by: new, not merged)."""
    try:
        records = StateStore(git.paths.wtpar_dir).records()
    except WtparError as exc:
        # A damaged state.json: `list` and `remove` stop at it; check judges without, and
        # says what that costs (a new branch reads as merged, and `prune --merged` is near).
        warn(f"{exc}; until then a branch with no commit since its spawn reads as merged")
        return {}
    return {
        n: rec.base_ref or rec.base_sha[:10]
        for n, rec in records.items()
        if n in heads and rec.base_sha and heads[n] == rec.base_sha
    }


def _base_merge(related: bool, clean: bool, files: tuple[str, ...], base: str) -> BaseMerge:
    if not related:
        return BaseMerge(False, error=f"no common history with {base}: it cannot be merged")
    return BaseMerge(clean, files)


def _check_facts(
    tasks: Sequence[str],
    commands: Mapping[str, str],
    store: ResultStore,
    head: str,
    dirty: StatusCounts | None,
    has_worktree: bool,
    runner: bool,
    unread: bool = False,
) -> tuple[CheckFact, ...]:
    facts: list[CheckFact] = []
    for task in tasks:
        if unread:
            facts.append(CheckFact(task, CheckState.UNKNOWN))
            continue
        if dirty is not None and dirty.dirty:
            facts.append(CheckFact(task, CheckState.DIRTY))
            continue
        found = store.lookup(task, commands[task], head)
        if found is None:
            if not has_worktree:
                detail = "no worktree to run it in (`wtpar spawn` one)"
            elif runner:
                detail = "it did not record a result (see `wtpar run` logs)"
            else:
                detail = "run with --run, or `wtpar run " + task + "`"
            facts.append(CheckFact(task, CheckState.MISSING, detail))
            continue
        where = f"exit {found.exit_code}, run {found.run_id}"
        state = CheckState.PASSED if found.passed else CheckState.FAILED
        facts.append(CheckFact(task, state, where if not found.passed else ""))
    return tuple(facts)
