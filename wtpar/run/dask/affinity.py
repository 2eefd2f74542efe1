"""Which worker a task should prefer: one that already has the task's commit checked out
(its worktree is ready there) and has the resources the task needs.

Dask places a task with a loose worker restriction (`workers=[w], allow_other_workers=True`)
on that worker even when it lacks the task's `resources`; its scheduler then fails to
account for them (KeyError in `acquire_resources`) and the task never runs. So a worker is
preferred for a task only when its resources, which the runner reports with each result,
cover the task's. Pure: no Dask import.
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

    def prefer(self, commit: str, needs: Resources) -> str | None:
        """The latest worker with `commit` that has everything in `needs`, or None."""
        for worker, has in reversed(self._workers.get(commit, {}).items()):
            if all(has.get(name, 0) >= amount for name, amount in needs.items()):
                return worker
        return None
