"""Which worker a task should prefer: one that already has the task's commit checked out
(its worktree is ready there) and has the resources the task needs.

Dask places a task with a loose worker restriction (`workers=[w], allow_other_workers=True`)
on that worker even when it lacks the task's `resources`; its scheduler then fails to
account for them (KeyError in `acquire_resources`) and the task never runs. So a worker is
preferred for a task only when its resources, which the runner reports with each result,
cover the task's, and workers that left the cluster are forgotten. (One that leaves after
the task was given to it still sends the task back through that fallback: Dask's own gap.)

When every worker could take the task, no preference is given at all: the scheduler then
queues the task and hands it to whichever worker frees a thread first, where a preferred
worker would get tasks queued behind each other while another waits.
Pure: no Dask import.
"""

from __future__ import annotations

from collections.abc import Mapping

Resources = Mapping[str, float]


class Affinity:
    """The workers that ran tasks on each commit, with their resources, the latest last."""

    def __init__(self) -> None:
        self._workers: dict[str, dict[str, dict[str, float]]] = {}

    def ran(self, commit: str, worker: str, resources: Resources) -> None:
        """`worker`, which has `resources`, ran a task on `commit` (so it has it checked out)."""
        seen = self._workers.setdefault(commit, {})
        seen.pop(worker, None)
        seen[worker] = dict(resources)

    def forget(self, worker: str) -> None:
        """`worker` left the cluster."""
        for seen in self._workers.values():
            seen.pop(worker, None)

    def prefer(self, commit: str, needs: Resources, workers: int) -> list[str]:
        """The workers with `commit` that have everything in `needs`, the latest first;
        none when they are all of the cluster's `workers`."""
        found = [
            worker
            for worker, has in reversed(self._workers.get(commit, {}).items())
            if all(has.get(name, 0) >= amount for name, amount in needs.items())
        ]
        return found if len(found) < workers else []
