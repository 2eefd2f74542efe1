"""What other wtpar processes (agents' runs) do on the repository shows in the dashboard:
the slots of the shared pool they hold count as busy in the pool bar, and the tasks they
run in a worktree show in an Elsewhere column."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from fixtures.waiting import wait_for
from tests.conftest import ROOT, Invoke
from tests.dash_helpers import FIXED_NOW, cell, until
from tests.test_dash_runs import pool_text
from wtpar.services import Services
from wtpar.tui.app import make_app

# Another wtpar process taking a slot of the shared pool as a run does, then waiting.
_HOLD_A_SLOT = (
    "import sys, time\n"
    "from wtpar.run.pool import SlotPool\n"
    "pool = SlotPool(sys.argv[1], 1)\n"
    "assert pool.try_acquire() == 0\n"
    "open(sys.argv[2], 'w').close()\n"
    "time.sleep(600)\n"  # wait-ok: a holder the test kills
)


async def test_slots_held_by_another_wtpar_process_show_as_busy(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    assert wtpar("spawn", "a").exit_code == 0
    ready = tmp_path / "ready"
    argv = [sys.executable, "-c", _HOLD_A_SLOT, str(repo / ".git" / "wtpar"), str(ready)]
    holder = subprocess.Popen(argv, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(ready.exists, 30, "the other process to hold a slot")
        services = Services.from_cwd(repo)
        app = make_app(services, now=lambda: FIXED_NOW, refresh_interval=0.2, jobs=2)
        async with app.run_test(size=(150, 40)) as pilot:
            held = "pool: 1/2 busy (1 by other wtpar processes), 1 free, 0 queued"
            await until(pilot, lambda: pool_text(app).startswith(held), what="the held slot")
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait()
            free = "pool: 0/2 busy, 2 free, 0 queued"
            await until(pilot, lambda: pool_text(app).startswith(free), what="the slot free")
    finally:
        if holder.poll() is None:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait()


# Another wtpar process running a task in a worktree, as an agent's `wtpar run` does.
_RUN_A_TASK = (
    "import sys, time\n"
    "from wtpar import busy\n"
    "held = busy.running_in(sys.argv[1], sys.argv[2], 'build')\n"
    "held.__enter__()\n"
    "open(sys.argv[3], 'w').close()\n"
    "time.sleep(600)\n"  # wait-ok: a holder the test kills
)


async def test_tasks_other_wtpar_processes_run_show_in_an_elsewhere_column(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    assert wtpar("spawn", "a", "b").exit_code == 0
    ready = tmp_path / "ready"
    worktree = repo.parent / f"{repo.name}.worktrees" / "a"
    argv = [str(repo / ".git" / "wtpar"), str(worktree), str(ready)]
    agent = subprocess.Popen(
        [sys.executable, "-c", _RUN_A_TASK, *argv], env={**os.environ, "PYTHONPATH": str(ROOT)}
    )
    try:
        wait_for(ready.exists, 30, "the other process's task to start")
        services = Services.from_cwd(repo)
        app = make_app(services, now=lambda: FIXED_NOW, refresh_interval=0.2, jobs=2)
        async with app.run_test(size=(150, 40)) as pilot:
            await until(pilot, lambda: cell(app, "a", "elsewhere") == "▶ build", what="a's task")
            assert cell(app, "b", "elsewhere") == "-"
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait()
            await until(pilot, lambda: cell(app, "a", "elsewhere") == "", what="the column gone")
    finally:
        if agent.poll() is None:
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait()
