"""`wtpar run --backend dask` against a real `dask scheduler` and two `dask worker`
processes on 127.0.0.1: the exact content of each branch, a worker killed mid-task,
cancel and timeout leaving no process behind, a lock shared by two coordinators."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.dask_cluster import RealCluster
from fixtures.recipes import commit_file, git, make_repo
from fixtures.waiting import wait_for
from tests.conftest import run_wtpar_process
from tests.dask_helpers import cancel_on_line, children_of, gone, real_cluster  # noqa: F401
from tests.run_helpers import (
    by_key,
    configure,
    intervals,
    kill_quietly,
    make_dispatcher,
    max_overlap,
    spawn,
    stamped,
    wtpar_popen,
)
from wtpar.model import RunStatus, TaskKey
from wtpar.run.plan import RunRequest

pytestmark = pytest.mark.dask


@pytest.fixture
def cluster(real_cluster: RealCluster) -> Iterator[RealCluster]:  # noqa: F811
    """The module's cluster, with both workers up."""
    real_cluster.revive()
    yield real_cluster


def _report(repo: Path) -> dict[str, dict[str, object]]:
    last = (repo / ".git" / "wtpar" / "runs" / "last").read_text().strip()
    data = json.loads((repo / ".git" / "wtpar" / "runs" / last / "report.json").read_text())
    return {f"{t['branch']}:{t['task']}": t for t in data["tasks"]}


def test_each_branch_runs_on_exactly_its_own_state(repo: Path, cluster: RealCluster) -> None:
    configure(
        repo,
        '[tasks.show]\ncmd = "cat state.txt; cat extra.txt 2>/dev/null; true"\n'
        '[tasks.gpu]\ncmd = "true"\nresources = { gpu = 1 }\n',
    )
    commit_file(repo, "state.txt", "main\n")
    paths = spawn(repo, "committed", "unpushed", "dirty", "untracked")
    commit_file(paths["committed"], "state.txt", "committed\n")
    commit_file(paths["unpushed"], "state.txt", "unpushed 1\n")
    commit_file(paths["unpushed"], "state.txt", "unpushed 2\n")
    (paths["dirty"] / "state.txt").write_text("dirty, not committed\n")
    (paths["untracked"] / "extra.txt").write_text("untracked\n")

    result = run_wtpar_process(
        "run", "show", "gpu", "--backend", "dask", "--scheduler", cluster.address,
        "--output", "quiet", cwd=repo,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    runs = _report(repo)
    shown = {
        branch: Path(str(runs[f"{branch}:show"]["log"])).read_text()
        for branch in ("committed", "unpushed", "dirty", "untracked")
    }
    assert shown == {
        "committed": "committed\n",
        "unpushed": "unpushed 2\n",
        "dirty": "dirty, not committed\n",
        "untracked": "main\nuntracked\n",
    }
    gpu_workers = {runs[f"{b}:gpu"]["worker"] for b in shown}
    assert len(gpu_workers) == 1 and gpu_workers != {None}  # only w2 has a gpu
    assert git(paths["dirty"], "status", "--porcelain") == " M state.txt\n"
    assert git(repo, "for-each-ref", "refs/wtpar") == ""


def test_a_worker_killed_mid_task_is_an_infrastructure_retry(
    repo: Path, tmp_path: Path, cluster: RealCluster
) -> None:
    spawn(repo, "a")
    starts = tmp_path / "starts"
    command = (
        f"echo $PPID $$ >> {starts}; "
        f'if [ "$(wc -l < {starts})" -eq 1 ]; then sleep 30; fi; echo finished'
    )
    proc = wtpar_popen(
        "run", "--backend", "dask", "--scheduler", cluster.address, "--output", "stream",
        "--", command, cwd=repo,
    )  # fmt: skip
    try:
        wait_for(lambda: starts.exists() and starts.read_text().strip(), 30, "the task to start")
        worker_pid, group = (int(p) for p in starts.read_text().split())
        assert worker_pid in cluster.pids()  # the task's parent is a dask worker
        os.kill(worker_pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_quietly([-int(line.split()[1]) for line in starts.read_text().splitlines()])
    assert proc.returncode == 0, out + err
    run = _report(repo)["a:cmd"]
    assert (run["status"], run["attempts"], run["infra_retries"]) == ("ok", 1, 1)
    assert len(starts.read_text().splitlines()) == 2
    log = Path(str(run["log"])).read_text()
    assert "was lost while it had this task; Dask runs it again on another worker" in log
    assert log.endswith("finished\n")
    del group


def test_cancel_and_timeout_leave_no_process_on_any_worker(
    repo: Path, tmp_path: Path, cluster: RealCluster
) -> None:
    configure(
        repo,
        f"""
[tasks.hang]
cmd = 'sleep 60 & echo $! $$ > {tmp_path}/hang.pids; echo up; wait'
branches = ["a"]
[tasks.slow]
cmd = 'sleep 60 & echo $! $$ > {tmp_path}/slow.pids; wait'
timeout = "1s"
branches = ["b"]
""",
    )
    spawn(repo, "a", "b")
    request = RunRequest(task_names=("hang", "slow"), backend="dask", scheduler=cluster.address)
    dispatcher = make_dispatcher(repo, request)

    report = cancel_on_line(dispatcher, "up")
    runs = by_key(report)
    assert runs[TaskKey("a", "hang")].status is RunStatus.CANCELLED
    assert runs[TaskKey("b", "slow")].status is RunStatus.TIMED_OUT
    pids = [
        int(p) for name in ("hang", "slow") for p in (tmp_path / f"{name}.pids").read_text().split()
    ]
    try:
        assert gone(pids)
        assert children_of(cluster.pids()) == []
    finally:
        kill_quietly(pids)


def test_a_lock_holds_across_two_coordinators(tmp_path: Path, cluster: RealCluster) -> None:
    stamps = tmp_path / "stamps"
    repos = [make_repo(tmp_path / name) for name in ("one", "two")]
    procs = []
    for repo in repos:
        configure(
            repo,
            f'[tasks.db]\ncmd = """{stamped("sleep 0.3", "$WTPAR_RUN_ID-$WTPAR_BRANCH", stamps)}"""\n'  # noqa: E501
            'locks = ["shared-db"]\n',
        )
        spawn(repo, "a", "b")
    for repo in repos:
        procs.append(
            wtpar_popen(
                "run",
                "db",
                "--backend",
                "dask",
                "--scheduler",
                cluster.address,
                "--output",
                "quiet",
                cwd=repo,
            )  # fmt: skip
        )
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, out + err
    spans = intervals(stamps)
    assert len(spans) == 4
    assert max_overlap(spans.values()) == 1


def test_a_killed_coordinator_leaves_no_task_running_on_the_workers(
    repo: Path, tmp_path: Path, cluster: RealCluster
) -> None:
    spawn(repo, "a")
    pids = tmp_path / "pids"
    proc = wtpar_popen(
        "run", "--backend", "dask", "--scheduler", cluster.address, "--output", "quiet",
        "--", f"sleep 60 & echo $! $$ > {pids}; wait", cwd=repo,
    )  # fmt: skip
    try:
        wait_for(lambda: pids.exists() and pids.read_text().strip(), 30, "the task to start")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        started = [int(p) for p in pids.read_text().split()]
        wait_for(lambda: gone(started), 15, "the task's processes to end on the worker")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if pids.exists():
            kill_quietly([int(p) for p in pids.read_text().split()])
