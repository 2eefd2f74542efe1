"""What a run leaves for `--changed` and `check`: one result per task instance that ended
ok, failed or timed out on a known tree, and a whole-task result per sharded task."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from wtpar.model import RunReport, RunStatus
from wtpar.run.plan import TaskInstance
from wtpar.run.results import RecordedResult, ResultStore
from wtpar.run.shards import shard_name, whole_task_results
from wtpar.run.treekey import result_command
from wtpar.state import CacheWaits, cache_waits

if TYPE_CHECKING:
    from wtpar.run.cleanliness import CleanReads
    from wtpar.run.expect import Pacer

_FINAL = (RunStatus.OK, RunStatus.FAILED, RunStatus.TIMED_OUT)


def record_run_results(
    store: ResultStore,
    report: RunReport,
    instances: Sequence[TaskInstance],
    clean: dict[str, bool],
) -> None:
    """Record the results of `report` (its tasks in the order of `instances`); `clean` says,
    per worktree path, whether its tree was clean when the results were read."""
    pairs = [
        (
            inst,
            RecordedResult(
                task=shard_name(run.key),
                command=result_command(run.command, inst.spec.env),
                branch=run.key.branch,
                head=inst.worktree.head or "",
                status=run.status.value,
                exit_code=run.exit_code,
                finished=run.ended or report.ended,
                run_id=report.run_id,
                tree=inst.worktree.tree or "",
            ),
        )
        for run, inst in zip(report.tasks, instances, strict=True)
        if run.status in _FINAL
        and inst.worktree.head
        # the tree read before the run is what was tested; else a clean HEAD vouches
        and (inst.worktree.tree or clean.get(inst.worktree.path, inst.worktree.clean))
    ]

    def shard_result(task: str, command: str, head: str, tree: str) -> RecordedResult | None:
        return store.lookup(task, command, head, tree or None)

    store.record([r for _, r in pairs] + whole_task_results(pairs, shard_result))


async def record_run(
    report: RunReport,
    instances: Sequence[TaskInstance],
    results: ResultStore | None,
    clean_reads: CleanReads | None,
    pacer: Pacer,
    waits: CacheWaits,
) -> None:
    """What a run's end writes to the caches (its results, its history), in a thread and
    with its waits for other processes' locks as WAITS says: the loop stays free meanwhile,
    so Ctrl-C reaches the run, and `waits.stop()` ends those waits at once. REPORT, saved
    before, stays the tasks' own: a Ctrl-C now stops only the waits."""
    clean = await clean_reads.results() if clean_reads is not None else {}

    def save() -> None:
        with cache_waits(waits):
            if results is not None:
                record_run_results(results, report, instances, clean)
            pacer.save()

    try:
        await asyncio.get_running_loop().run_in_executor(None, save)
    except asyncio.CancelledError:
        waits.stop()  # the dashboard quitting: its loop's end waits for the thread
        raise
