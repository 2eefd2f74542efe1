"""Shards: a task with `shards = N` runs as N instances per worktree, each told which part
it is (`WTPAR_SHARD`=1..N, `WTPAR_SHARDS`=N, `{shard}`/`{shards}` in its command), so one
test suite spreads across the pool. Dependents wait for every shard; reports show the task
once, with its shards inside.

Pure: plan instances in, instances out; task runs in, groups out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from wtpar.model import RunStatus, TaskKey, TaskRun, TaskSpec
from wtpar.run.treekey import result_command
from wtpar.text import plural

if TYPE_CHECKING:
    from wtpar.run.plan import TaskInstance
    from wtpar.run.results import RecordedResult

# The status a group shows: the first of these that any shard has.
_WORST_FIRST = (
    RunStatus.FAILED,
    RunStatus.TIMED_OUT,
    RunStatus.CANCELLED,
    RunStatus.RUNNING,
    RunStatus.QUEUED,
    RunStatus.OK,
    RunStatus.SKIPPED,
)


def shard_name(key: TaskKey) -> str:
    """The name results and history file one instance under (a shard counts as its own)."""
    return f"{key.task}#{key.shard}" if key.shard else key.task


def shard_command(spec: TaskSpec, shard: int) -> str:
    """The task's command with `{shard}` and `{shards}` expanded."""
    if "{shard" not in spec.cmd:
        return spec.cmd
    return spec.cmd.replace("{shards}", str(spec.shards)).replace("{shard}", str(shard or 1))


def shard_env(spec: TaskSpec, shard: int) -> dict[str, str]:
    """`WTPAR_SHARD` and `WTPAR_SHARDS` for one shard of a sharded task (none otherwise)."""
    if not shard:
        return {}
    return {"WTPAR_SHARD": str(shard), "WTPAR_SHARDS": str(spec.shards)}


def expand_shards(instances: Sequence[TaskInstance]) -> list[TaskInstance]:
    """Each instance of a task with `shards = N` as N instances; an edge to it becomes an
    edge to every one of them."""
    parts: dict[TaskKey, tuple[TaskKey, ...]] = {}
    for inst in instances:
        if inst.spec.shards > 1:
            parts[inst.key] = tuple(
                replace(inst.key, shard=n) for n in range(1, inst.spec.shards + 1)
            )
    if not parts:
        return list(instances)
    result: list[TaskInstance] = []
    for inst in instances:
        deps = tuple(k for dep in inst.deps for k in parts.get(dep, (dep,)))
        inst = replace(inst, deps=deps)
        result += [replace(inst, key=k) for k in parts.get(inst.key, (inst.key,))]
    return result


ShardLookup = Callable[[str, str, str, str], "RecordedResult | None"]
"""(task#n, command, head, tree) -> the stored result of that shard, if any."""


def whole_task_results(
    pairs: Sequence[tuple[TaskInstance, RecordedResult]], lookup: ShardLookup
) -> list[RecordedResult]:
    """A result for each sharded task on each tree whose every shard has one, from this run
    or an earlier one (`--failed` runs only some): passed only when every shard passed.
    `wtpar check` looks these up by the task's name."""
    groups: dict[tuple[str, str, str], list[tuple[TaskInstance, RecordedResult]]] = {}
    for inst, rec in pairs:
        if inst.key.shard:
            group = (inst.key.branch, inst.key.task, rec.tree or rec.head)
            groups.setdefault(group, []).append((inst, rec))
    whole = []
    for (_, task, _), members in groups.items():
        inst, last = max(members, key=lambda m: m[1].finished)
        spec = inst.spec
        found = {i.key.shard: r for i, r in members}
        for n in range(1, spec.shards + 1):
            if n not in found:
                command = result_command(shard_command(spec, n), spec.env)
                earlier = lookup(f"{task}#{n}", command, last.head, last.tree)
                if earlier is not None:
                    found[n] = earlier
        if len(found) != spec.shards:
            continue
        failed = next((r for r in found.values() if not r.passed), None)
        whole.append(
            replace(
                failed or last,
                task=task,
                command=result_command(spec.cmd, spec.env),
                finished=last.finished,
                head=last.head,
                tree=last.tree,
            )
        )
    return whole


@dataclass(frozen=True)
class TaskGroup:
    """A task on one branch: one run, or the runs of its shards."""

    branch: str
    task: str
    runs: tuple[TaskRun, ...]

    @property
    def sharded(self) -> bool:
        """True when the task ran as shards."""
        return any(r.key.shard for r in self.runs)

    @property
    def status(self) -> RunStatus:
        """The worst status among the shards."""
        present = {r.status for r in self.runs}
        return next(s for s in _WORST_FIRST if s in present)

    @property
    def started(self) -> float | None:
        """The first shard's start."""
        starts = [r.started for r in self.runs if r.started is not None]
        return min(starts) if starts else None

    @property
    def ended(self) -> float | None:
        """The last shard's end, once every shard that started has ended."""
        if any(r.started is not None and r.ended is None for r in self.runs):
            return None
        ends = [r.ended for r in self.runs if r.ended is not None]
        return max(ends) if ends else None

    def counts(self) -> str:
        """`4 shards: 3 ok, 1 failed`."""
        tally: dict[RunStatus, int] = {}
        for r in self.runs:
            tally[r.status] = tally.get(r.status, 0) + 1
        parts = ", ".join(f"{n} {s.value}" for s, n in tally.items())
        return f"{plural(len(self.runs), 'shard')}: {parts}"


def group_runs(runs: Sequence[TaskRun]) -> list[TaskGroup]:
    """Runs grouped by (branch, task), in the order each group first appears."""
    groups: dict[tuple[str, str], list[TaskRun]] = {}
    for run in runs:
        groups.setdefault((run.key.branch, run.key.task), []).append(run)
    return [
        TaskGroup(b, t, tuple(sorted(rs, key=lambda r: r.key.shard)))
        for (b, t), rs in groups.items()
    ]
