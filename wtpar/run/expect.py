"""A plan seen through its history: each instance's expected duration and rank, and the
attempts of a run turned into history entries. The glue between the dispatcher, the
history store (history.py) and the pure ordering (schedule.py)."""

from __future__ import annotations

from collections.abc import Mapping

from wtpar.model import TaskKey
from wtpar.run.history import Attempted, Estimate, History, TaskId, estimate
from wtpar.run.plan import RunPlan, TaskInstance
from wtpar.run.schedule import Node, Rank, ranks
from wtpar.run.shards import shard_name


def task_id(instance: TaskInstance) -> TaskId:
    """The history key of a task instance."""
    return TaskId(shard_name(instance.key), instance.key.branch, instance.command)


def estimates(plan: RunPlan, history: History | None) -> dict[TaskKey, Estimate]:
    """The expected duration (and CPU, memory) of every instance of the plan."""
    ids = {i.key: task_id(i) for i in plan.instances}
    known = history.load() if history is not None else {}
    found = estimate(list(ids.values()), known)
    return {key: found[tid] for key, tid in ids.items()}


def graph(plan: RunPlan, expected: Mapping[TaskKey, Estimate]) -> list[Node[TaskKey]]:
    """The plan as scheduler nodes; instances skipped before the run take no time."""
    return [
        Node(
            i.key,
            0.0 if i.skip_reason else expected[i.key].seconds,
            (*i.deps, *([i.trigger] if i.trigger else [])),
            i.spec.priority,
        )
        for i in plan.instances
    ]


def start_order(nodes: list[Node[TaskKey]]) -> dict[TaskKey, Rank]:
    """Each instance's rank among the ready ones (see schedule.py)."""
    return ranks(nodes)


def attempt_entry(
    instance: TaskInstance,
    duration: float,
    exit_code: int | None,
    finished: float,
    cpu_seconds: float | None,
    peak_rss: int | None,
) -> Attempted:
    """One finished attempt as a history entry."""
    tid = task_id(instance)
    return Attempted(
        tid.task, tid.branch, tid.command, duration, exit_code, finished, cpu_seconds, peak_rss
    )
