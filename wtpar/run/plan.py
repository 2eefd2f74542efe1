"""The instance graph of one run: which task runs in which worktree, after what.

Everything here is pure: the task specs and the worktrees come in, a checked plan comes
out, dependencies before dependents.
"""

from __future__ import annotations

import fnmatch
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from wtpar.errors import UsageError
from wtpar.model import SkipKind, TaskKey, TaskSpec
from wtpar.run.schedule import post_order
from wtpar.run.shards import expand_shards, shard_command, shard_name
from wtpar.run.taskconfig import ADHOC_TASK
from wtpar.run.treekey import result_command
from wtpar.text import some_of

# -- one run ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunRequest:
    """What to run, as the CLI, the dashboard and `wtpar check` ask for it.

    `task_names` are named tasks; `command` an ad-hoc shell command for every selected branch;
    `per_branch` (branch, command) pairs override it per branch (and select those branches
    when no `branches` are given). `branches` empty means every worktree but the main one;
    entries may be glob patterns. `retries` and `timeout`, when set, override every task's own.
    `changed` skips tasks whose last run at the same commit with a clean tree succeeded;
    `failed_only` re-runs what did not succeed in the last run. `locks` are extra named locks
    for ad-hoc commands (`wtpar exec --lock`). `backend` and `scheduler` choose where tasks
    run (this machine, or a Dask cluster).
    """

    task_names: tuple[str, ...] = ()
    command: str | None = None
    per_branch: tuple[tuple[str, str], ...] = ()
    branches: tuple[str, ...] = ()
    jobs: int | None = None
    auto_jobs: bool = False  # -j auto (autojobs.py)
    stagger: float = 0.0
    fail_fast: bool = False
    retries: int | None = None
    timeout: float | None = None
    changed: bool = False
    failed_only: bool = False
    locks: tuple[str, ...] = ()
    backend: str | None = None  # "local" or "dask"; None: `[run] backend`, else local
    scheduler: str | None = None  # the Dask scheduler's address (over `[dask] scheduler`)


@dataclass(frozen=True)
class WorktreeInfo:
    """A worktree as the planner needs it: where, which commit, and whether it was clean."""

    branch: str
    path: str
    head: str | None = None
    clean: bool = False
    tree: str | None = None  # the tree to be tested (read for `--changed`; treekey.py)
    is_main: bool = False
    env: tuple[tuple[str, str], ...] = ()  # its ports and [env] vars


@dataclass(frozen=True)
class TaskInstance:
    """One task in one worktree, with its edges resolved to other instances."""

    key: TaskKey
    spec: TaskSpec
    worktree: WorktreeInfo
    deps: tuple[TaskKey, ...] = ()
    trigger: TaskKey | None = None
    skip: SkipKind | None = None  # decided before the run: unchanged, or not applicable here
    skip_reason: str | None = None  # the words shown with it

    @property
    def command(self) -> str:
        """The shell command line, `{shard}`/`{shards}` expanded."""
        return shard_command(self.spec, self.key.shard)

    @property
    def locks(self) -> tuple[str, ...]:
        """The named locks, with `{branch}` expanded."""
        return tuple(lock.replace("{branch}", self.worktree.branch) for lock in self.spec.locks)


@dataclass(frozen=True)
class RunPlan:
    """Every task instance of a run, dependencies before dependents."""

    instances: tuple[TaskInstance, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.instances)


_GLOB_CHARS = frozenset("*?[")

ResultLookup = Callable[[str, str, str], "tuple[bool, str] | None"]
"""(task, command with env, tree) -> (succeeded, where it was seen) for `--changed`, or None."""


def select_worktrees(
    worktrees: Sequence[WorktreeInfo], patterns: Iterable[str]
) -> list[WorktreeInfo]:
    """The worktrees named by `patterns` (exact names or globs); all but main when none."""
    wanted = list(patterns)
    if not wanted:
        return [wt for wt in worktrees if not wt.is_main]
    by_branch: dict[str, list[WorktreeInfo]] = {}
    for wt in worktrees:
        by_branch.setdefault(wt.branch, []).append(wt)
    chosen: dict[str, WorktreeInfo] = {}
    for pattern in wanted:
        # A name without glob characters matches only itself: a look-up, not a scan.
        if _GLOB_CHARS.isdisjoint(pattern):
            hits = by_branch.get(pattern, [])
        else:
            hits = [wt for wt in worktrees if fnmatch.fnmatchcase(wt.branch, pattern)]
        if not hits:
            names = some_of([wt.branch for wt in worktrees])
            raise UsageError(f"no worktree for branch {pattern!r} (worktrees: {names})")
        for wt in hits:
            chosen.setdefault(wt.branch, wt)
    return [wt for wt in worktrees if wt.branch in chosen]


def build_plan(
    specs: Mapping[str, TaskSpec],
    request: RunRequest,
    worktrees: Sequence[WorktreeInfo],
    lookup: ResultLookup | None = None,
    only: Iterable[TaskKey] | None = None,
) -> RunPlan:
    """Resolve a request into task instances; refuses unknown tasks and branches (UsageError).

    Named tasks pull in their `depends_on` (transitively) and the cascades triggered by them.
    `only`, when given, keeps just those instances; edges to instances left out are treated
    as already satisfied (they succeeded in the run being repeated).
    """
    unknown = [n for n in request.task_names if n not in specs]
    if unknown:
        known = ", ".join(sorted(specs)) or "none are configured"
        raise UsageError(f"unknown task {unknown[0]!r} (tasks: {known})")
    if not request.task_names and request.command is None and not request.per_branch:
        raise UsageError("nothing to run: name tasks, or give a command after --, or use -c")
    for command in (request.command, *(cmd for _, cmd in request.per_branch)):
        if command is not None and not command.strip():
            raise UsageError("empty command: give a shell command, e.g. -- make test")
    main = next((wt for wt in worktrees if wt.is_main), None)
    branch_patterns = request.branches
    if not branch_patterns and request.command is None and not request.task_names:
        branch_patterns = tuple(b for b, _ in request.per_branch)
    selected = select_worktrees(worktrees, branch_patterns)
    if not selected and (request.command is not None or _needs_branches(specs, request)):
        raise UsageError(
            "no worktrees to run in: create some with `wtpar spawn`, or name one with -b"
        )
    instances: list[TaskInstance] = []
    if request.task_names:
        instances += expand_shards(_named_instances(specs, request, selected, main))
    instances += _adhoc_instances(request, selected)
    instances = [_override(i, request) for i in instances]
    if only is not None:
        instances = _restrict(instances, set(only))
    if lookup is not None and request.changed:
        instances = [_skip_if_unchanged(i, lookup) for i in instances]
    return RunPlan(tuple(_topological(instances)))


def _needs_branches(specs: Mapping[str, TaskSpec], request: RunRequest) -> bool:
    return any(specs[n].scope == "branch" for n in _closure(specs, request.task_names))


def _closure(specs: Mapping[str, TaskSpec], names: Iterable[str]) -> list[str]:
    """The named tasks, their dependencies, and the cascades they trigger, transitively
    (breadth first; linear in the tasks and their edges)."""
    cascades: dict[str, list[str]] = {}
    for s in specs.values():
        if s.after:
            cascades.setdefault(s.after, []).append(s.name)
    wanted: dict[str, None] = {}
    todo = deque(names)
    while todo:
        name = todo.popleft()
        if name in wanted:
            continue
        wanted[name] = None
        spec = specs[name]
        todo += spec.depends_on
        if spec.after:
            todo.append(spec.after)
        todo += cascades.get(name, ())
    return list(wanted)


def _named_instances(
    specs: Mapping[str, TaskSpec],
    request: RunRequest,
    selected: Sequence[WorktreeInfo],
    main: WorktreeInfo | None,
) -> list[TaskInstance]:
    names = _closure(specs, request.task_names)
    where: dict[str, list[WorktreeInfo]] = {}
    for name in names:
        spec = specs[name]
        if spec.scope == "once":
            if main is None:
                raise UsageError(f"task {name!r} runs in the main worktree, which was not found")
            where[name] = [main]
        else:
            where[name] = [
                wt
                for wt in selected
                if spec.branches is None
                or any(fnmatch.fnmatchcase(wt.branch, p) for p in spec.branches)
            ]
    runs_on = {name: {wt.branch for wt in found} for name, found in where.items()}
    result: list[TaskInstance] = []
    for name in names:
        spec = specs[name]
        for wt in where[name]:
            deps: list[TaskKey] = []
            missing: list[str] = []
            for dep in spec.depends_on:
                target = _instance_key(specs[dep], dep, wt, main, runs_on)
                if target is None:
                    missing.append(dep)
                else:
                    deps.append(target)
            trigger = None
            if spec.after:
                trigger = _instance_key(specs[spec.after], spec.after, wt, main, runs_on)
                if trigger is None:
                    missing.append(spec.after)
            skip, skip_reason = None, None
            if missing:
                skip = SkipKind.NOT_APPLICABLE
                skip_reason = (
                    f"dependency {missing[0]!r} does not run on {wt.branch} (see its branches)"
                )
            result.append(
                TaskInstance(
                    TaskKey(wt.branch, name), spec, wt, tuple(deps), trigger, skip, skip_reason
                )
            )
    return result


def _instance_key(
    dep_spec: TaskSpec,
    dep: str,
    wt: WorktreeInfo,
    main: WorktreeInfo | None,
    runs_on: Mapping[str, set[str]],
) -> TaskKey | None:
    if dep_spec.scope == "once":
        return TaskKey(main.branch, dep) if main else None
    return TaskKey(wt.branch, dep) if wt.branch in runs_on[dep] else None


def _adhoc_instances(request: RunRequest, selected: Sequence[WorktreeInfo]) -> list[TaskInstance]:
    per_branch = dict(request.per_branch)
    known = {wt.branch for wt in selected}
    for branch in per_branch:
        if branch not in known:
            raise UsageError(f"-c {branch}=...: {branch!r} is not among the selected worktrees")
    result = []
    for wt in selected:
        cmd = per_branch.get(wt.branch, request.command)
        if cmd is None:
            continue
        spec = TaskSpec(name=ADHOC_TASK, cmd=cmd, locks=request.locks)
        result.append(TaskInstance(TaskKey(wt.branch, ADHOC_TASK), spec, wt))
    return result


def _override(instance: TaskInstance, request: RunRequest) -> TaskInstance:
    spec = instance.spec
    if request.retries is not None:
        spec = replace(spec, retries=request.retries)
    if request.timeout is not None:
        spec = replace(spec, timeout=request.timeout)
    return instance if spec is instance.spec else replace(instance, spec=spec)


def _restrict(instances: list[TaskInstance], keep: set[TaskKey]) -> list[TaskInstance]:
    kept = [i for i in instances if i.key in keep]
    present = {i.key for i in kept}
    return [
        replace(
            i,
            deps=tuple(d for d in i.deps if d in present),
            trigger=i.trigger if i.trigger in present else None,
        )
        for i in kept
    ]


def _skip_if_unchanged(instance: TaskInstance, lookup: ResultLookup) -> TaskInstance:
    wt = instance.worktree
    if instance.skip or wt.tree is None:
        return instance
    command = result_command(instance.command, instance.spec.env)
    seen = lookup(shard_name(instance.key), command, wt.tree)
    if seen is None or not seen[0]:
        return instance
    state = "clean" if wt.clean else "uncommitted"
    return replace(
        instance,
        skip=SkipKind.UNCHANGED,
        skip_reason=f"succeeded on the same {state} tree {wt.tree[:10]} ({seen[1]})",
    )


def _topological(instances: list[TaskInstance]) -> list[TaskInstance]:
    """Every instance after what it waits for, else in the given order."""
    by_key = {i.key: i for i in instances}

    def waits_for(key: TaskKey) -> Iterator[TaskKey]:
        instance = by_key[key]
        yield from (d for d in instance.deps if d in by_key)
        if instance.trigger is not None and instance.trigger in by_key:
            yield instance.trigger

    return [by_key[k] for k in post_order(by_key, waits_for)]
