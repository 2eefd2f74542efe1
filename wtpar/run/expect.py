"""A plan seen through its history: each instance's expected duration and rank, the start
gate that enforces the ranks and the memory hold-back, the ETA, and the attempts of a run
turned into history entries. The glue between the dispatcher, the history store
(history.py), the pure ordering (schedule.py) and the gate (gate.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from wtpar.model import TaskKey
from wtpar.run.executor import AttemptResult, Ending
from wtpar.run.gate import Queued, StartGate
from wtpar.run.history import Attempted, Estimate, History, Tally, TaskId, estimate
from wtpar.run.plan import RunPlan, TaskInstance
from wtpar.run.schedule import Node, Rank, ranks, remaining_time
from wtpar.run.shards import shard_name

_OVERRUN_SHARE = 0.25  # of what a task past its estimate has run: what it still needs, say


def task_id(instance: TaskInstance) -> TaskId:
    """The history key of a task instance."""
    return TaskId(shard_name(instance.key), instance.key.branch, instance.command)


def estimates(plan: RunPlan, history: History | None) -> dict[TaskKey, Estimate]:
    """The expected duration (and CPU, memory) of every instance of the plan."""
    ids = {i.key: task_id(i) for i in plan.instances}
    known: Mapping[TaskId, Tally] = {}
    if history is not None:
        # Only the planned tasks' history is read (thousands of other keys cost a run of
        # one task a quarter of a second); all of it when none of them was ever seen.
        known = history.tallies(tasks={tid.task for tid in ids.values()}) or history.tallies()
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


class Pacer:
    """One run's use of history: who starts first, when to hold back, how long is left,
    and what to remember; and the stagger between starts."""

    def __init__(
        self,
        plan: RunPlan,
        history: History | None,
        memory_percent: Callable[[], float] | None = None,
    ) -> None:
        self.history = history
        self.expected = estimates(plan, history)
        self.nodes = graph(plan, self.expected)
        self.ranks = start_order(self.nodes)
        self.memory_percent = memory_percent  # injected in tests; psutil otherwise
        self.attempted: list[Attempted] = []
        self._gate: StartGate | None = None
        self._limit: float | None = None
        self._next_start = 0.0

    def open_gate(
        self,
        jobs: int | Callable[[], int],
        max_memory_percent: float | None,
        start: Callable[[Any], None],
    ) -> None:
        """Make the start gate for `jobs` slots, a number or a function read at each start
        (on the run's loop, before the first start); `start(item)` starts an item queued
        with `queue` when its turn comes."""
        self._limit = max_memory_percent
        self._gate = StartGate(jobs, self._memory_hold, start=start)

    def queue(self, key: TaskKey, item: Queued) -> None:
        """Start `item` (through the gate's `start`) at `key`'s turn; it holds its place until
        `leave()`."""
        assert self._gate is not None, "open_gate first"
        self._gate.queue(self.ranks[key], item)

    def leave(self) -> None:
        """Give back the place of an item started from `queue`."""
        assert self._gate is not None, "open_gate first"
        self._gate.leave()

    @asynccontextmanager
    async def turn(self, key: TaskKey) -> AsyncIterator[None]:
        """Wait for `key`'s turn to start among the ready instances; hold it meanwhile."""
        assert self._gate is not None, "open_gate first"
        async with self._gate.turn(self.ranks[key]):
            yield

    async def stagger(self, seconds: float) -> None:
        """Wait until `seconds` after the previous start that waited here (`--stagger`)."""
        if seconds <= 0:
            return
        now = asyncio.get_running_loop().time()
        start = max(now, self._next_start)
        self._next_start = start + seconds
        if start > now:
            await asyncio.sleep(start - now)

    @property
    def holding_back(self) -> str | None:
        """Why no new task starts now, or None."""
        return self._gate.holding if self._gate is not None else None

    def _memory_hold(self) -> str | None:
        if self._limit is None:
            return None
        if self.memory_percent is None:
            from wtpar.run.resources import memory_percent

            self.memory_percent = memory_percent
        used = self.memory_percent()
        return None if used <= self._limit else f"memory {used:.1f}% > {self._limit:g}%"

    def eta(
        self, finished: Iterable[TaskKey], running: Mapping[TaskKey, float], jobs: int
    ) -> float:
        """Seconds left: the longest remaining chain or the remaining work over the slots,
        whichever is larger; `running` maps an instance to the seconds it has run. One that
        has run past its estimate (no history, or a slow day) is expected to take another
        quarter of what it has run, not nothing: the ETA then grows while it runs."""
        done = dict.fromkeys(finished, 1.0)
        longer: dict[TaskKey, float] = {}
        for key, elapsed in running.items():
            expected = self.expected[key].seconds
            if elapsed >= expected:
                longer[key] = expected = elapsed * (1 + _OVERRUN_SHARE)
            done[key] = elapsed / expected if expected > 0 else 1.0
        nodes = self.nodes
        if longer:
            nodes = [
                Node(n.key, longer[n.key], n.after, n.priority) if n.key in longer else n
                for n in nodes
            ]
        return remaining_time(nodes, done, jobs)

    def remember(self, instance: TaskInstance, result: AttemptResult, seconds: float) -> None:
        """Keep a finished attempt (one that ran to its end or its timeout) for history."""
        if result.ending in (Ending.EXITED, Ending.TIMED_OUT):
            self.attempted.append(
                attempt_entry(
                    instance, seconds, result.exit_code, time.time(),
                    result.cpu_seconds, result.peak_rss,
                )
            )  # fmt: skip

    def save(self) -> None:
        """Write the run's attempts to the history (under its lock)."""
        if self.history is not None:
            self.history.record(self.attempted)
