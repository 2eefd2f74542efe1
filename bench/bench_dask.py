"""Benchmark the Dask executor against the local executor, in the same run.

Set-up: a temporary repository with one worktree (`b0`) and named tasks, and a real
`dask scheduler` with two `dask worker` processes of one thread each, on 127.0.0.1.
Both backends are driven the same way, in this process, through `Services.make_dispatcher`
and `run_sync` (so Python start-up is not in the figures; connecting to the cluster, the
snapshot of the worktree and publishing its commit are).

Printed (medians over --runs):
- per-task overhead: (time for 200 x `true` - time for 1) / 199, local at -j 2 against the
  cluster (two single-thread workers, no -j cap). Goal: at most 10 ms a task.
- 20 x `sleep 0.2` on the two single-thread workers against the ideal 2.0 s (and the
  local executor at -j 2). Goal: at most 2.3 s. Also with `-j 2` on the cluster, where each
  start waits for a finished task's result to reach this coordinator.
- recovery: a task sleeps on a worker; the worker is SIGKILLed; the time from the kill to
  the task finishing on the other worker.

Re-run: `python bench/bench_dask.py [--runs N] [--only PART] [--wtpar SOURCE]` (needs
`wtpar[dask]`); `--wtpar` measures another copy of the source (a "before" checkout): this
process and the workers import wtpar from it.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _source(argv: list[str]) -> Path:
    """`--wtpar SOURCE`, read before wtpar is imported (default: this checkout)."""
    for at, arg in enumerate(argv):
        if arg == "--wtpar" and at + 1 < len(argv):
            return Path(argv[at + 1]).resolve()
        if arg.startswith("--wtpar="):
            return Path(arg.split("=", 1)[1]).resolve()
    return ROOT


SOURCE = _source(sys.argv)
sys.path.insert(0, str(SOURCE))
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(SOURCE), os.environ.get("PYTHONPATH")])
)

from fixtures.dask_cluster import RealCluster  # noqa: E402
from fixtures.recipes import git, make_repo  # noqa: E402
from wtpar.model import RunEvent, TaskFinished  # noqa: E402
from wtpar.run.plan import RunRequest  # noqa: E402
from wtpar.run.runner import run_sync  # noqa: E402
from wtpar.services import Services  # noqa: E402

TRUE_TASKS = 200
SLEEP_TASKS = 20
PARTS = ("overhead", "sleep", "recovery")


def setup(workdir: Path) -> Path:
    """A repository with worktree b0 and tasks t0..t199 (`true`), s0..s19 (`sleep 0.2`)."""
    repo = make_repo(workdir / "proj")
    lines = [f'[tasks.t{i}]\ncmd = "true"\n' for i in range(TRUE_TASKS)]
    lines += [f'[tasks.s{i}]\ncmd = "sleep 0.2"\n' for i in range(SLEEP_TASKS)]
    (repo / "wtpar.toml").write_text("\n".join(lines))
    git(repo, "add", "wtpar.toml")
    git(repo, "commit", "-q", "-m", "bench tasks")
    Services.from_cwd(repo).spawn(["b0"])
    return repo


def timed(repo: Path, request: RunRequest) -> float:
    """Seconds to plan and run `request`; it must succeed."""
    started = time.perf_counter()
    report = run_sync(Services.from_cwd(repo).make_dispatcher(request))
    elapsed = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"a benchmark run failed: {[t.status.value for t in report.tasks]}")
    return elapsed


def median(runs: int, measure: Callable[[], float]) -> float:
    """The median of `runs` calls of `measure()`."""
    return statistics.median(measure() for _ in range(runs))


def recovery(repo: Path, cluster: RealCluster, workdir: Path) -> float:
    """Seconds from SIGKILL of the worker running a task to the task finishing elsewhere."""
    starts = workdir / f"starts-{time.monotonic_ns()}"
    command = (
        f"echo $PPID >> {starts}; "
        f'if [ "$(wc -l < {starts})" -eq 1 ]; then exec sleep 30; fi; echo finished'
    )
    request = RunRequest(
        command=command, branches=("b0",), backend="dask", scheduler=cluster.address
    )
    dispatcher = Services.from_cwd(repo).make_dispatcher(request)
    finished: list[float] = []

    def on_event(event: RunEvent) -> None:
        if isinstance(event, TaskFinished):
            finished.append(time.perf_counter())

    dispatcher.subscribe(on_event)
    thread = threading.Thread(target=run_sync, args=(dispatcher,))
    thread.start()
    while not (starts.exists() and starts.read_text().strip()):
        time.sleep(0.005)  # wait-ok: polling for the task to start
    worker = int(starts.read_text().split()[0])
    if worker not in cluster.pids():
        raise SystemExit("the task's parent is not one of the bench's workers")
    killed = time.perf_counter()
    os.kill(worker, signal.SIGKILL)
    thread.join(timeout=120)
    result = finished[0] - killed
    cluster.revive()
    return result


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="measurements per figure")
    parser.add_argument("--only", choices=PARTS, help="one figure only")
    parser.add_argument("--wtpar", type=Path, default=ROOT, help="the source tree to measure")
    args = parser.parse_args()
    print(
        f"# {platform.node()}: {len(os.sched_getaffinity(0))} usable CPUs, "
        f"load {os.getloadavg()[0]:.1f}, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}, wtpar from {SOURCE}"
    )
    with tempfile.TemporaryDirectory(prefix="wtpar-bench-dask-") as tmp:
        workdir = Path(tmp)
        os.environ["WTPAR_DASK_CACHE"] = str(workdir / "cache")
        repo = setup(workdir)
        cluster = RealCluster(workdir / "cluster")
        (workdir / "cluster").mkdir()
        try:
            cluster.start_scheduler()
            cluster.start_worker("w1")
            cluster.start_worker("w2")
            report(repo, cluster, workdir, args.runs, args.only)
        finally:
            cluster.stop()


def report(repo: Path, cluster: RealCluster, workdir: Path, runs: int, only: str | None) -> None:
    """Measure and print."""
    true_all = tuple(f"t{i}" for i in range(TRUE_TASKS))
    sleeps = tuple(f"s{i}" for i in range(SLEEP_TASKS))

    def local_run(names: tuple[str, ...]) -> float:
        return timed(repo, RunRequest(task_names=names, branches=("b0",), jobs=2))

    def dask_run(names: tuple[str, ...], jobs: int | None = None) -> float:
        request = RunRequest(
            task_names=names,
            branches=("b0",),
            jobs=jobs,
            backend="dask",
            scheduler=cluster.address,
        )
        return timed(repo, request)

    dask_run(sleeps[:2])  # warm: each worker checks the commit out once, before any figure
    if only in (None, "overhead"):
        overhead(runs, true_all, local_run, dask_run)
    if only in (None, "sleep"):
        local_sleep = median(runs, lambda: local_run(sleeps))
        dask_sleep = median(runs, lambda: dask_run(sleeps))
        capped = median(runs, lambda: dask_run(sleeps, jobs=2))
        print(
            f"20 x sleep 0.2: dask on two 1-thread workers {dask_sleep:.3f}s, ideal 2.000s "
            f"({dask_sleep / 2.0:.2f}x ideal; goal <= 2.3 s); local -j 2 {local_sleep:.3f}s; "
            f"dask -j 2 {capped:.3f}s"
        )
    if only in (None, "recovery"):
        lost = [recovery(repo, cluster, workdir) for _ in range(runs)]
        print(
            f"worker killed mid-task -> task finished on the other worker: median "
            f"{statistics.median(lost):.3f}s (runs: {', '.join(f'{x:.3f}' for x in lost)})"
        )


def overhead(
    runs: int,
    true_all: tuple[str, ...],
    local_run: Callable[[tuple[str, ...]], float],
    dask_run: Callable[[tuple[str, ...]], float],
) -> None:
    """Per-task overhead: 200 x `true` against 1, locally and on the cluster."""
    local_1 = median(runs, lambda: local_run(true_all[:1]))
    local_200 = median(runs, lambda: local_run(true_all))
    dask_1 = median(runs, lambda: dask_run(true_all[:1]))
    dask_200 = median(runs, lambda: dask_run(true_all))
    local_per = (local_200 - local_1) / (TRUE_TASKS - 1) * 1000
    dask_per = (dask_200 - dask_1) / (TRUE_TASKS - 1) * 1000
    print(f"200 x true: local -j 2 {local_200:.3f}s (1 task {local_1:.3f}s)")
    print(f"            dask 2x1  {dask_200:.3f}s (1 task {dask_1:.3f}s)")
    print(
        f"per-task overhead: local {local_per:.2f} ms, dask {dask_per:.2f} ms "
        f"({dask_per / local_per:.1f}x local; goal <= 10 ms)"
    )


if __name__ == "__main__":
    main()
