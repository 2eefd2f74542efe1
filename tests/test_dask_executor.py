"""The Dask executor behind the dispatcher, on an in-process LocalCluster: the same
semantics as a local run, output while the task runs, stops that stop, refs cleaned up."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from fixtures.recipes import git
from fixtures.waiting import wait_for
from tests.conftest import Invoke, run_wtpar_process
from tests.dask_helpers import cancel_on_line, gone, inproc_cluster  # noqa: F401 - a fixture
from tests.run_helpers import (
    by_key,
    configure,
    intervals,
    make_dispatcher,
    max_overlap,
    run_request,
    spawn,
    stamped,
)
from wtpar.model import RunEvent, RunReport, RunStatus, TaskKey, TaskOutput
from wtpar.run.plan import RunRequest
from wtpar.run.report import summary
from wtpar.run.runner import run_sync
from wtpar.services import Services

pytestmark = pytest.mark.dask


def _dask(scheduler: str, **fields: object) -> RunRequest:
    return RunRequest(backend="dask", scheduler=scheduler, **fields)  # type: ignore[arg-type]


GRAPH = """
[tasks.build]
cmd = "echo built > built.txt"
[tasks.test]
cmd = 'cat built.txt && test "$WTPAR_BRANCH" != bad'
depends_on = ["build"]
retries = 1
[tasks.notify]
cmd = "echo notified"
after = "test"
when = "failure"
[tasks.slow]
cmd = "sleep 5"
timeout = "0.5s"
"""


def test_the_same_graph_reports_the_same_locally_and_on_a_cluster(
    repo: Path,
    inproc_cluster: str,  # noqa: F811
) -> None:
    configure(repo, GRAPH)
    spawn(repo, "good", "bad")
    names = ("test", "slow")
    local = run_request(repo, RunRequest(task_names=names, jobs=4))
    worktrees = repo.parent / "proj.worktrees"
    for branch in ("good", "bad"):
        (worktrees / branch / "built.txt").unlink()
    remote = run_request(repo, _dask(inproc_cluster, task_names=names, jobs=4))

    def outcome(report: RunReport) -> dict[TaskKey, tuple[object, ...]]:
        return {t.key: (t.status, t.attempts, t.exit_code, t.reason) for t in report.tasks}

    assert outcome(remote) == outcome(local)
    statuses = {key: run.status for key, run in by_key(remote).items()}
    assert statuses[TaskKey("bad", "test")] is RunStatus.FAILED
    assert statuses[TaskKey("bad", "notify")] is RunStatus.OK
    assert statuses[TaskKey("good", "notify")] is RunStatus.SKIPPED
    assert statuses[TaskKey("good", "slow")] is RunStatus.TIMED_OUT
    assert {run.worker for run in remote.tasks if run.attempts} <= set(_workers(inproc_cluster))
    assert all(run.worker is None for run in local.tasks)
    assert "WORKER" in summary(remote).splitlines()[0]
    assert "WORKER" not in summary(local).splitlines()[0]
    used = len({run.worker for run in remote.tasks if run.worker})
    assert f" on {used} worker" in summary(remote)  # not this machine's -j
    assert " at -j 4," in summary(local)
    assert not (worktrees / "good" / "built.txt").exists()  # built on a worker's checkout


def _workers(address: str) -> list[str]:
    from distributed import Client

    with Client(address, timeout=10) as client:
        return list(client.scheduler_info(n_workers=-1)["workers"])


def test_output_reaches_the_coordinator_while_the_task_runs(
    repo: Path,
    tmp_path: Path,
    inproc_cluster: str,  # noqa: F811
) -> None:
    spawn(repo, "a")
    go = tmp_path / "go"
    command = (
        f'echo ready; i=0; while [ ! -f "{go}" ] && [ $i -lt 1000 ]; do sleep 0.01; '
        f'i=$((i+1)); done; [ -f "{go}" ] && echo "saw go"'
    )
    dispatcher = make_dispatcher(repo, _dask(inproc_cluster, command=command))
    lines: list[str] = []

    def on_event(event: RunEvent) -> None:
        if isinstance(event, TaskOutput):
            lines.append(event.line)
            if event.line == "ready":
                go.touch()  # only possible if "ready" arrived while the task was waiting

    dispatcher.subscribe(on_event)
    report = run_sync(dispatcher)
    assert report.ok, lines
    assert lines == ["ready", "saw go"]
    log = report.tasks[0].log_path
    assert log is not None and Path(log).read_text() == "ready\nsaw go\n"


def test_cancel_and_timeout_stop_the_process_group(
    repo: Path,
    tmp_path: Path,
    inproc_cluster: str,  # noqa: F811
) -> None:
    spawn(repo, "a", "b")
    configure(
        repo,
        f"""
[tasks.hang]
cmd = 'sleep 30 & echo $! $$ > {tmp_path}/$WTPAR_BRANCH.pid; echo up; wait'
[tasks.hang-timed]
cmd = 'sleep 30 & echo $! $$ > {tmp_path}/timed.pid; wait'
timeout = "1s"
branches = ["b"]
""",
        commit=False,
    )
    dispatcher = make_dispatcher(
        repo, _dask(inproc_cluster, task_names=("hang", "hang-timed"), branches=("a", "b"))
    )

    report = cancel_on_line(dispatcher, "up")
    runs = by_key(report)
    assert runs[TaskKey("a", "hang")].status is RunStatus.CANCELLED
    assert runs[TaskKey("b", "hang")].status is RunStatus.CANCELLED
    assert runs[TaskKey("b", "hang-timed")].status is RunStatus.TIMED_OUT
    pids = [int(p) for f in tmp_path.glob("*.pid") for p in f.read_text().split()]
    assert len(pids) == 6
    wait_for(lambda: gone(pids), 5, "the tasks' processes to end")


def test_the_commits_are_published_for_the_run_only(
    repo: Path,
    tmp_path: Path,
    inproc_cluster: str,  # noqa: F811
) -> None:
    spawn(repo, "a")
    shared = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(shared))
    (repo / "wtpar.toml").write_text(f'[dask]\nrepo = "{shared}"\n')
    git(repo, "add", "wtpar.toml")
    git(repo, "commit", "-q", "-m", "dask repo")
    git(repo.parent / "proj.worktrees" / "a", "merge", "-q", "main")
    command = f"git --git-dir={shared} for-each-ref --format='%(refname)' refs/wtpar"
    report = run_request(repo, _dask(inproc_cluster, command=command))
    assert report.ok
    log = Path(report.tasks[0].log_path or "").read_text()
    assert log.startswith(f"refs/wtpar/runs/{report.run_id}/")
    assert git(shared, "for-each-ref") == ""
    assert git(repo, "for-each-ref", "refs/wtpar") == ""


def test_an_unreachable_scheduler_is_one_line_and_exit_2(repo: Path, wtpar: Invoke) -> None:
    spawn(repo, "a")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (repo / "wtpar.toml").write_text('[dask]\nconnect_timeout = "1s"\n')
    result = wtpar("run", "--scheduler", f"tcp://127.0.0.1:{port}", "--", "true")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == [
        f"wtpar: error: cannot reach the Dask scheduler at tcp://127.0.0.1:{port} within 1s"
    ]
    # The run ended with its report: the task failed with the reason, `wait` returns.
    report = Services.from_cwd(repo).last_run_report()
    assert report is not None
    assert [(t.status, t.reason) for t in report.tasks] == [(RunStatus.FAILED, lines[0][14:])]
    assert wtpar("wait", "a", "--timeout", "5").exit_code == 1


def _certificates(folder: Path) -> None:
    """A CA and one certificate signed by it (ca.pem, node.pem, node.key) in `folder`."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    days = ["-days", "1"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", *days, "-subj", "/CN=ca")
    openssl("req", *ec, "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=127.0.0.1")
    signed_by_ca = ["-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"]
    openssl("x509", "-req", "-in", "node.csr", *signed_by_ca, "-out", "node.pem", *days)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make certificates")
def test_tls_settings_reach_a_tls_only_scheduler(repo: Path, wtpar: Invoke) -> None:
    from distributed import LocalCluster
    from distributed.security import Security

    certs = repo / "certs"
    certs.mkdir()
    _certificates(certs)
    node = {"cert": str(certs / "node.pem"), "key": str(certs / "node.key")}
    security = Security(
        tls_ca_file=str(certs / "ca.pem"),
        tls_scheduler_cert=node["cert"],
        tls_scheduler_key=node["key"],
        tls_worker_cert=node["cert"],
        tls_worker_key=node["key"],
        tls_client_cert=node["cert"],
        tls_client_key=node["key"],
        require_encryption=True,
    )
    spawn(repo, "a")
    cluster = LocalCluster(
        n_workers=1,
        processes=False,
        protocol="tls://",
        host="127.0.0.1",
        security=security,
        dashboard_address="127.0.0.1:0",
        silence_logs=logging.ERROR,
    )
    try:
        address = str(cluster.scheduler_address)
        assert address.startswith("tls://")
        (repo / "wtpar.toml").write_text(
            '[dask]\ntls_ca_file = "certs/ca.pem"\ntls_cert = "certs/node.pem"\n'
            'tls_key = "certs/node.key"\n'
        )
        result = wtpar("run", "--scheduler", address, "--output", "stream", "--", "echo over tls")
        assert result.exit_code == 0, result.output
        assert "[a:cmd] over tls" in result.output
        assert "warning" not in result.output
        # A real process, where asyncio was imported without ssl (wtpar.run.aio): the
        # client's TLS is tornado's, which loads ssl itself.
        args = ("run", "--scheduler", address, "--output", "stream", "--", "echo in a process")
        proc = run_wtpar_process(*args, cwd=repo)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "[a:cmd] in a process" in proc.stdout
    finally:
        cluster.close()


def test_jobs_caps_the_tasks_in_flight_on_the_cluster(
    repo: Path,
    tmp_path: Path,
    inproc_cluster: str,  # noqa: F811
) -> None:
    stamps = tmp_path / "stamps"
    spawn(repo, "a", "b", "c")
    command = stamped("sleep 0.2", "$WTPAR_BRANCH", stamps)
    report = run_request(repo, _dask(inproc_cluster, command=command, jobs=1))
    assert report.ok
    spans = intervals(stamps)
    assert len(spans) == 3 and max_overlap(spans.values()) == 1  # the cluster has 4 threads
