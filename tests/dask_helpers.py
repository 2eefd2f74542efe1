"""Dask clusters for tests: an in-process LocalCluster, and real `dask scheduler` and
`dask worker` processes on 127.0.0.1 (ended by pid in teardown, never by name)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

import pytest

from fixtures.dask_cluster import RealCluster
from tests.run_helpers import alive
from wtpar.model import RunEvent, RunReport, TaskOutput
from wtpar.run.dispatch import Dispatcher
from wtpar.run.runner import run_sync


@pytest.fixture(scope="module")
def inproc_cluster() -> Iterator[str]:
    """The address of a LocalCluster whose two workers are threads of this process."""
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=False,
        host="127.0.0.1",
        protocol="tcp://",
        dashboard_address="127.0.0.1:0",  # its HTTP server: loopback, any free port
        silence_logs=logging.ERROR,
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    """`dask scheduler` and two `dask worker`s (w2 has `--resources gpu=1`), on 127.0.0.1."""
    cluster = RealCluster(tmp_path_factory.mktemp("dask-cluster"))
    try:
        cluster.start_scheduler()
        cluster.start_worker("w1")
        cluster.start_worker("w2", "--resources", "gpu=1")
        yield cluster
    finally:
        cluster.stop()


def cancel_on_line(dispatcher: Dispatcher, line: str) -> RunReport:
    """Run `dispatcher`, cancelling each task when it prints `line`."""

    def on_event(event: RunEvent) -> None:
        if isinstance(event, TaskOutput) and event.line == line:
            dispatcher.cancel(event.key)

    dispatcher.subscribe(on_event)
    return run_sync(dispatcher)


def children_of(pids: list[int]) -> list[int]:
    """Live processes whose parent is one of `pids` (what a worker left running)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) in pids and fields[0] != "Z":
                found.append(int(entry))
    return found


def gone(pids: list[int]) -> bool:
    """True when none of `pids` is alive."""
    return not any(alive(pid) for pid in pids)
