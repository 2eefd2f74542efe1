"""Worker affinity together with `resources`: a task prefers a worker that has its commit
checked out only when that worker has the resources the task needs (Dask would otherwise
put it there and fail in its scheduler), on a LocalCluster whose workers have different
resources."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.waiting import wait_for
from tests.run_helpers import by_key, configure, run_request, spawn
from wtpar.model import RunReport, RunStatus, TaskKey
from wtpar.run.dask.affinity import Affinity
from wtpar.run.plan import RunRequest

pytestmark = pytest.mark.dask

GRAPH = """
[tasks.build]
cmd = "echo built"
resources = { plain = 1 }
[tasks.hog1]
cmd = "while [ ! -e {go} ]; do sleep 0.02; done"
resources = { gpu = 1 }
[tasks.hog2]
cmd = "while [ ! -e {go} ]; do sleep 0.02; done"
resources = { gpu = 1 }
""" + "".join(
    f'[tasks.{name}]\ncmd = "echo {name}"\nresources = {{ gpu = 1 }}\ndepends_on = ["{dep}"]\n'
    for name, dep in (("test1", "build"), ("test2", "test1"), ("test3", "test2"))
)


@pytest.fixture(scope="module")
def mixed() -> Iterator[tuple[Any, list[str]]]:
    """A LocalCluster of three in-process workers: plain=1, gpu=1, gpu=1 (their addresses)."""
    from distributed import LocalCluster, Worker

    cluster = LocalCluster(
        n_workers=0,
        processes=False,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )

    async def add(resources: dict[str, float]) -> Any:
        return await Worker(
            cluster.scheduler_address, nthreads=1, resources=resources, host="127.0.0.1"
        )

    workers = [cluster.sync(add, r) for r in ({"plain": 1}, {"gpu": 1}, {"gpu": 1})]
    try:
        yield cluster, [w.address for w in workers]
    finally:
        for worker in workers:
            cluster.sync(worker.close)
        cluster.close()


def test_a_task_with_resources_never_prefers_a_worker_without_them(
    repo: Path, tmp_path: Path, mixed: tuple[Any, list[str]]
) -> None:
    cluster, (plain, *gpus) = mixed
    go = tmp_path / "go"
    configure(repo, GRAPH.replace("{go}", str(go)))
    spawn(repo, "a")
    request = RunRequest(
        task_names=("build", "hog1", "hog2", "test1", "test2", "test3"),
        branches=("a",),
        backend="dask",
        scheduler=str(cluster.scheduler_address),
    )
    reports: list[RunReport] = []
    thread = threading.Thread(target=lambda: reports.append(run_request(repo, request)))
    thread.start()
    try:
        # test1 comes while both gpu workers are busy, after build ran on the plain worker:
        # preferring that worker, Dask would put test1 there, the least busy, without a gpu.
        wait_for(lambda: _submitted(cluster, "wtpar-test1-"), 60, "test1 submitted")
    finally:
        go.write_text("")
        thread.join(120)
    tasks = by_key(reports[0])
    assert {t.status for t in tasks.values()} == {RunStatus.OK}, [t.reason for t in tasks.values()]
    assert tasks[TaskKey("a", "build")].worker == plain
    # The gpu tasks preferred the gpu workers that had the commit (the hogs checked it out
    # on both), never the plain one that had it too.
    ran_on = {tasks[TaskKey("a", name)].worker for name in ("test1", "test2", "test3")}
    assert ran_on <= set(gpus)


def _submitted(cluster: Any, prefix: str) -> bool:
    return any(str(key).startswith(prefix) for key in list(cluster.scheduler.tasks))


def test_affinity_prefers_the_workers_with_the_commit_that_have_the_resources() -> None:
    affinity = Affinity()
    assert affinity.prefer("c1", {}, 4) == []
    affinity.ran("c1", "gpu-old", {"gpu": 2})
    affinity.ran("c1", "plain", {})
    assert affinity.prefer("c1", {}, 4) == ["plain", "gpu-old"]
    assert affinity.prefer("c1", {"gpu": 1}, 4) == ["gpu-old"]
    assert affinity.prefer("c1", {"gpu": 3}, 4) == []
    assert affinity.prefer("c2", {}, 4) == []
    affinity.ran("c1", "gpu-old", {"gpu": 2})
    assert affinity.prefer("c1", {}, 4) == ["gpu-old", "plain"]
    # Every worker of the cluster has it: no preference, the scheduler balances.
    assert affinity.prefer("c1", {}, 2) == []
    affinity.forget("gpu-old")
    assert affinity.prefer("c1", {"gpu": 1}, 4) == []
