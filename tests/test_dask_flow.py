"""How attempts flow through the cluster, counted on an in-process LocalCluster whose
scheduler the test can read: what keeps a worker from waiting for this coordinator
between two tasks (tasks queued ahead, results that need no fetch, releases that do not
hold a submission back), and what a cancel does to those waiting."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.waiting import wait_for
from tests.run_helpers import configure, make_dispatcher, run_request, spawn
from wtpar.model import RunEvent, RunReport, RunStatus, TaskStarted
from wtpar.run.plan import RunRequest
from wtpar.run.runner import run_sync
from wtpar.services.base import default_jobs

pytestmark = pytest.mark.dask

THREADS = default_jobs() + 1  # more than this machine's CPUs: the default -j would cap


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """A LocalCluster of one in-process worker with THREADS threads."""
    from distributed import LocalCluster

    local = LocalCluster(
        n_workers=1,
        threads_per_worker=THREADS,
        processes=False,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    try:
        yield local
    finally:
        local.close()


def _dask(cluster: Any, **fields: Any) -> RunRequest:
    return RunRequest(backend="dask", scheduler=str(cluster.scheduler_address), **fields)


def _at_scheduler(cluster: Any, prefix: str) -> int:
    """How many of the run's tasks the scheduler holds (queued, processing or finished)."""
    return sum(1 for key in list(cluster.scheduler.tasks) if str(key).startswith(prefix))


def test_without_j_each_thread_runs_a_task_and_as_many_wait_at_the_scheduler(
    repo: Path, tmp_path: Path, cluster: Any
) -> None:
    marks, go = tmp_path / "marks", tmp_path / "go"
    marks.mkdir()
    count = 2 * THREADS + 1
    configure(
        repo,
        "".join(
            f'[tasks.wide{i}]\ncmd = "touch {marks}/{i}; '
            f'while [ ! -e {go} ]; do sleep 0.02; done"\n'
            for i in range(count)
        ),
    )
    spawn(repo, "a")
    request = _dask(cluster, task_names=tuple(f"wide{i}" for i in range(count)), branches=("a",))
    reports: list[RunReport] = []
    thread = threading.Thread(target=lambda: reports.append(run_request(repo, request)))
    thread.start()
    try:
        wait_for(lambda: len(list(marks.iterdir())) == THREADS, 60, "a task on every thread")
        # The next ones wait at the scheduler: a thread whose task ends starts one at once.
        wait_for(lambda: _at_scheduler(cluster, "wtpar-wide") == 2 * THREADS, 30, "queued")
        assert len(list(marks.iterdir())) == THREADS
    finally:
        go.write_text("")
        thread.join(120)
    assert reports and reports[0].ok
    assert len(list(marks.iterdir())) == count


def test_results_come_with_the_output_and_releases_with_the_next_submission(
    repo: Path, cluster: Any
) -> None:
    configure(repo, "".join(f'[tasks.seq{i}]\ncmd = "echo {i}"\n' for i in range(4)))
    spawn(repo, "a")
    scheduler = cluster.scheduler
    gathers: list[object] = []
    original = scheduler.handlers["gather"]

    async def counting(**kwargs: Any) -> Any:
        gathers.append(kwargs.get("keys"))
        return await original(**kwargs)

    scheduler.handlers["gather"] = counting
    try:
        names = tuple(f"seq{i}" for i in range(4))
        report = run_request(repo, _dask(cluster, task_names=names, branches=("a",), jobs=1))
    finally:
        scheduler.handlers["gather"] = original
    assert report.ok
    # Each result arrived behind its output, with no fetch from the worker.
    assert gathers == []
    # Each finished task left the scheduler after the next one arrived (one message).
    submitted: dict[str, float] = {}
    left: dict[str, float] = {}
    for key, start, finish, *_, stamp in list(scheduler.transition_log):
        name = str(key)
        if not name.startswith("wtpar-seq"):
            continue
        if start == "released" and finish == "waiting":
            submitted.setdefault(name, stamp)
        elif finish in ("released", "forgotten"):
            left.setdefault(name, stamp)
    order = sorted(submitted, key=submitted.__getitem__)
    assert len(order) == 4
    released_alone = [
        done for done, after in zip(order, order[1:], strict=False) if left[done] < submitted[after]
    ]
    assert released_alone == []


def test_a_cancelled_run_starts_none_of_the_tasks_waiting_on_the_cluster(
    repo: Path, cluster: Any
) -> None:
    count = THREADS + 1
    configure(repo, "".join(f'[tasks.held{i}]\ncmd = "exec sleep 60"\n' for i in range(count)))
    spawn(repo, "a")
    request = _dask(cluster, task_names=tuple(f"held{i}" for i in range(count)), branches=("a",))
    dispatcher = make_dispatcher(repo, request)
    started: list[RunEvent] = []

    def on_event(event: RunEvent) -> None:
        # Every thread runs a task, and the last one waits on the cluster: cancel the run.
        if isinstance(event, TaskStarted):
            started.append(event)
            if len(started) == THREADS:
                dispatcher.cancel_all()

    dispatcher.subscribe(on_event)
    report = run_sync(dispatcher)
    assert [t.status for t in report.tasks] == [RunStatus.CANCELLED] * count
    # The one waiting on the cluster was taken off it: it never started.
    assert len(started) == THREADS
