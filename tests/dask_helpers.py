"""Dask clusters for tests: an in-process LocalCluster, and real `dask scheduler` and
`dask worker` processes on 127.0.0.1 (ended by pid in teardown, never by name)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.run_helpers import alive
from wtpar.model import RunEvent, RunReport, TaskOutput
from wtpar.run.dispatch import Dispatcher
from wtpar.run.runner import run_sync

_STARTUP = 60.0  # two loaded cores: a dask process takes a few seconds to start


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
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


@dataclass
class RealCluster:
    """A scheduler and named workers, each a process of its own."""

    folder: Path
    address: str = ""
    scheduler: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    options: dict[str, list[str]] = field(default_factory=dict)

    @property
    def scheduler_file(self) -> Path:
        return self.folder / "scheduler.json"

    def start_scheduler(self) -> None:
        self.scheduler = _spawn(
            "distributed.cli.dask_scheduler",
            ["--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
            ["--scheduler-file", str(self.scheduler_file)],
            self.folder / "scheduler.log",
        )
        wait_for(self.scheduler_file.exists, _STARTUP, "the scheduler file")
        self.address = json.loads(self.scheduler_file.read_text())["address"]

    def start_worker(self, name: str, *options: str) -> None:
        """Start (or restart) worker `name`; wait until the scheduler counts it."""
        self.options[name] = list(options)
        cache = self.folder / f"cache-{name}"
        self.workers[name] = _spawn(
            "distributed.cli.dask_worker",
            ["--scheduler-file", str(self.scheduler_file), "--host", "127.0.0.1"],
            ["--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name, *options],
            self.folder / f"{name}.log",
            env={"WTPAR_DASK_CACHE": str(cache)},
        )
        wait_for(lambda: name in self.worker_names(), _STARTUP, f"worker {name}")

    def worker_names(self) -> set[str]:
        from distributed import Client

        try:
            with Client(self.address, timeout=20) as client:
                info = client.scheduler_info(n_workers=-1)
                return {str(w.get("name")) for w in info["workers"].values()}
        except (OSError, TimeoutError):
            return set()  # a loaded machine: the caller asks again until its deadline

    def revive(self) -> None:
        """Restart any worker a test killed."""
        for name, proc in list(self.workers.items()):
            if proc.poll() is not None:
                self.start_worker(name, *self.options[name])

    def pids(self) -> list[int]:
        """The worker processes' pids."""
        return [proc.pid for proc in self.workers.values()]

    def stop(self) -> None:
        for proc in [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _spawn(
    module: str, first: list[str], rest: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *first, *rest],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )


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
