"""`wtpar dash --backend dask`: runs started from the dashboard go to the cluster, the
footer names its workers and threads, and an unreachable scheduler is a notice, not a crash."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from textual.widgets import Static

from tests.conftest import Invoke
from tests.dash_helpers import FIXED_NOW, cell, log_text, rows_read, until
from tests.dask_helpers import inproc_cluster  # noqa: F401 - a fixture
from wtpar.model import RunStatus
from wtpar.run.activity import WaitOutcome
from wtpar.services import Services
from wtpar.tui.app import WtparApp, make_app

pytestmark = pytest.mark.dask


def _dask_app(repo: Path, wtpar: Invoke, scheduler: str) -> WtparApp:
    assert wtpar("spawn", "one").exit_code == 0
    services = Services.from_cwd(repo)
    services.backend, services.scheduler = "dask", scheduler
    return make_app(services, now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)


def _footer(app: WtparApp) -> str:
    return str(app.main.query_one("#pool", Static).render())


async def test_a_run_from_the_dashboard_goes_to_the_cluster(
    repo: Path,
    wtpar: Invoke,
    tmp_path: Path,
    inproc_cluster: str,  # noqa: F811
) -> None:
    app = _dask_app(repo, wtpar, inproc_cluster)
    go = tmp_path / "go"
    command = (
        f'echo "ran in $WTPAR_WORKTREE"; i=0; while [ ! -f "{go}" ] && [ $i -lt 3000 ]; '
        "do sleep 0.01; i=$((i+1)); done; echo bye"
    )
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        assert _footer(app).startswith(f"dask: {inproc_cluster}")
        await pilot.press("down")
        app.start_run(["one"], command)
        await until(pilot, lambda: "workers" in _footer(app), what="the cluster in the footer")
        assert "2 workers, 4 threads" in _footer(app)
        go.touch()
        await until(pilot, lambda: cell(app, "one", "task:cmd").startswith("ok"), what="ok")
        await until(pilot, lambda: "bye" in log_text(app), what="the output in the log pane")
        assert "/trees/" in log_text(app)


async def test_an_unreachable_scheduler_is_a_notice_and_the_task_fails(
    repo: Path, wtpar: Invoke
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (repo / "wtpar.toml").write_text('[dask]\nconnect_timeout = "0.5s"\n')
    app = _dask_app(repo, wtpar, f"tcp://127.0.0.1:{port}")
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        app.start_run(["one"], "echo hi")
        await until(
            pilot,
            lambda: any("cannot reach the Dask scheduler" in n.message for n in app._notifications),
            what="the notice",
        )
        await until(pilot, lambda: not app.runs.busy, what="the run to end")
        # The task ends failed with the reason (never queued forever), the run has its
        # report, `wtpar wait` returns, and quitting asks nothing.
        await until(
            pilot, lambda: cell(app, "one", "task:cmd").startswith("failed"), what="failed"
        )
        assert app.main.dash.state.running_keys() == []
        report = app.services.last_run_report()
        assert report is not None
        [task] = report.tasks
        assert task.status is RunStatus.FAILED
        assert task.reason is not None
        assert task.reason.startswith("cannot reach the Dask scheduler")
        waited = app.services.wait(["one"], timeout=5)
        assert waited.outcome is WaitOutcome.FAILED
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, what="quit without a question")
