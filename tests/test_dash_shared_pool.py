"""What other wtpar processes (agents' runs) do on the repository shows in the dashboard:
the slots of the shared pool they hold count as busy in the pool bar, and the tasks they
run in a worktree show in an Elsewhere column."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from fixtures.waiting import wait_for
from tests.conftest import ROOT, Invoke
from tests.dash_helpers import FIXED_NOW, branches_shown, cell, column_title, rows_read, until
from tests.test_dash_runs import pool_text
from wtpar.services import Services
from wtpar.tui.app import make_app


@contextlib.contextmanager
def another_wtpar(does: str, tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    """Another process that does what `does` says with wtpar's own code (ARGS in `args`),
    then waits; SIGKILLed by the block or at its end."""
    ready = tmp_path / "ready"
    code = f"import sys, time\nargs = sys.argv[2:]\n{does}\nopen(sys.argv[1], 'w').close()\n"
    code += "time.sleep(600)\n"  # wait-ok: a holder the test kills
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", code, str(ready), *args], env=env)
    try:
        wait_for(ready.exists, 30, "the other wtpar process")
        yield proc
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


# As a run does: one slot of the shared pool taken.
_TAKES_A_SLOT = (
    "from wtpar.run.pool import SlotPool\npool = SlotPool(args[0], 1)\n"
    "assert pool.try_acquire() == 0"
)
# As a run does: a task's busy record held in a worktree.
_RUNS_A_TASK = "from wtpar import busy\nheld = busy.running_in(*args, 'build')\nheld.__enter__()"


async def test_slots_held_by_another_wtpar_process_show_as_busy(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    assert wtpar("spawn", "a").exit_code == 0
    with another_wtpar(_TAKES_A_SLOT, tmp_path, str(repo / ".git" / "wtpar")) as agent:
        services = Services.from_cwd(repo)
        app = make_app(services, now=lambda: FIXED_NOW, refresh_interval=0.2, jobs=2)
        async with app.run_test(size=(150, 40)) as pilot:
            held = "pool: 1/2 busy (1 elsewhere), 1 free, 0 queued"
            await until(pilot, lambda: pool_text(app).startswith(held), what="the held slot")
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait()
            free = "pool: 0/2 busy, 2 free, 0 queued"
            await until(pilot, lambda: pool_text(app).startswith(free), what="the slot free")


async def test_tasks_other_wtpar_processes_run_show_in_an_elsewhere_column(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    assert wtpar("spawn", "a", "b").exit_code == 0
    worktree = repo.parent / f"{repo.name}.worktrees" / "a"
    wtpar_dir = str(repo / ".git" / "wtpar")
    with another_wtpar(_RUNS_A_TASK, tmp_path, wtpar_dir, str(worktree)) as agent:
        services = Services.from_cwd(repo)
        app = make_app(services, now=lambda: FIXED_NOW, refresh_interval=0.2, jobs=2)
        async with app.run_test(size=(150, 40)) as pilot:
            await until(pilot, lambda: rows_read(app) == 3, what="three rows")
            await until(pilot, lambda: cell(app, "a", "elsewhere") == "▶ build", what="a's task")
            assert cell(app, "b", "elsewhere") == "-"
            assert branches_shown(app)[0] != "a"
            # `s` cycles branch, changes, base, then the shown Elsewhere: busy rows first.
            for _ in range(4):
                await pilot.press("s")
            assert column_title(app, "elsewhere") == "Elsewhere ▼"
            assert branches_shown(app)[0] == "a"
            os.kill(agent.pid, signal.SIGKILL)
            agent.wait()
            await until(pilot, lambda: cell(app, "a", "elsewhere") == "", what="the column gone")
