"""The dashboard driving real dispatcher runs: live states, logs, cancel, re-run failed."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot
from textual.widgets import Static

from fixtures.waiting import wait_for
from tests.conftest import Invoke
from tests.dash_helpers import FIXED_NOW, cell, log_text, rows_read, until
from tests.run_helpers import alive
from tests.test_spawn import worktree_dir
from wtpar.model import RunStatus, TaskKey
from wtpar.services import Services
from wtpar.tui.app import WtparApp, make_app
from wtpar.tui.screens import ConfirmScreen, PromptScreen
from wtpar.tui.widgets.log_pane import LogPane

TASKS = """
[tasks.hello]
cmd = "echo hello from $WTPAR_BRANCH; echo second line"

[tasks.flaky]
cmd = "test -f ok.flag"
"""


async def start_slow(app: WtparApp, pilot: Pilot[int], pid_file: Path) -> int:
    """Run a task on `slow` whose shell waits for a background `sleep 60`; its pid."""
    app.start_run(["slow"], f"sleep 60 & echo $! > {pid_file}; wait")
    await until(pilot, lambda: pid_file.exists() and pid_file.read_text().strip() != "")
    return int(pid_file.read_text())


async def select_running_slow(app: WtparApp, pilot: Pilot[int], pid_file: Path) -> int:
    """Select the `slow` row and run the slow task there, until it shows as running."""
    await until(pilot, lambda: rows_read(app) == 2)
    await pilot.press("down")
    child = await start_slow(app, pilot, pid_file)
    await until(pilot, lambda: cell(app, "slow", "task:cmd").startswith("▶"))
    return child


def pool_text(app: WtparApp) -> str:
    """The pool line under the table (busy, free, queued, outcomes, ETA)."""
    return str(app.screen.query_one("#pool", Static).content)


def slow_app(repo: Path, wtpar: Invoke) -> WtparApp:
    """The dashboard on a repository with one worktree, `slow`."""
    setup_repo(repo, wtpar, "slow")
    return make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)


def setup_repo(repo: Path, wtpar: Invoke, *branches: str) -> None:
    (repo / "wtpar.toml").write_text(TASKS)
    assert wtpar("spawn", *branches).exit_code == 0


async def test_run_named_task_on_all_branches_updates_rows_and_log(
    repo: Path, wtpar: Invoke
) -> None:
    setup_repo(repo, wtpar, "one", "two")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"hello", "enter")
        await until(
            pilot,
            lambda: (
                app.state.tasks.get(TaskKey("two", "hello")) is not None
                and app.state.tasks[TaskKey("two", "hello")].status is RunStatus.OK
                and app.state.tasks[TaskKey("one", "hello")].status is RunStatus.OK
            ),
            what="both tasks ok",
        )
        await until(pilot, lambda: cell(app, "one", "task:hello").startswith("ok"))
        assert cell(app, "main", "task:hello") == "-"
        await pilot.press("down")  # select "one"
        await until(pilot, lambda: "hello from one" in log_text(app), what="log of one")
        assert "second line" in log_text(app)
        await pilot.press("down")
        await until(pilot, lambda: "hello from two" in log_text(app), what="log of two")


async def test_adhoc_command_failure_then_rerun_failed(repo: Path, wtpar: Invoke) -> None:
    setup_repo(repo, wtpar, "one", "two")
    (worktree_dir(repo, "one") / "ok.flag").write_text("")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 3)
        app.start_run(["one", "two"], "flaky")
        two = TaskKey("two", "flaky")
        await until(
            pilot,
            lambda: (
                app.state.tasks.get(two) is not None
                and app.state.tasks[two].status is RunStatus.FAILED
                and app.state.tasks[TaskKey("one", "flaky")].status is RunStatus.OK
            ),
            what="two failed, one ok",
        )
        await until(pilot, lambda: cell(app, "two", "task:flaky").startswith("failed 1"))
        (worktree_dir(repo, "two") / "ok.flag").write_text("")
        await pilot.press("f")
        await until(
            pilot, lambda: app.state.tasks[two].status is RunStatus.OK, what="re-run passes"
        )


async def test_cancel_terminates_the_running_process_group(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    app = slow_app(repo, wtpar)
    async with app.run_test(size=(150, 36)) as pilot:
        child = await select_running_slow(app, pilot, tmp_path / "child.pid")
        key = TaskKey("slow", "cmd")
        await until(pilot, lambda: "ETA" in pool_text(app), what="an ETA while it runs")
        await pilot.press("c")
        await until(
            pilot,
            lambda: app.state.tasks[key].status is RunStatus.CANCELLED,
            what="cancelled",
        )
        wait_for(lambda: not alive(child), 10, "the grandchild sleep to be gone")
        await until(pilot, lambda: cell(app, "slow", "task:cmd").startswith("cancelled"))
        await until(pilot, lambda: "ETA" not in pool_text(app), what="no ETA when idle")


async def test_quit_with_running_tasks_asks_then_cancels(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    setup_repo(repo, wtpar, "slow")
    pid_file = tmp_path / "child.pid"
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        child = await start_slow(app, pilot, pid_file)
        await until(pilot, lambda: bool(app.state.running_keys()))
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: app.return_code is not None, what="exit")
    assert app.return_code == 0
    assert app.state.tasks[TaskKey("slow", "cmd")].status is RunStatus.CANCELLED
    wait_for(lambda: not alive(child), 10, "the sleep to be gone")


async def test_log_follows_the_running_task_and_keeps_a_pinned_choice(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    (repo / "wtpar.toml").write_text(
        "[tasks.build]\n"
        'cmd = "echo built it"\n'
        "[tasks.test]\n"
        f'cmd = "echo testing now; while [ ! -f {gate} ]; do sleep 0.05; done"\n'
        'depends_on = ["build"]\n'
    )
    assert wtpar("spawn", "one").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        await pilot.press("down")
        app.start_run(["one"], "test")
        log = app.query_one(LogPane)
        await until(pilot, lambda: "testing now" in log_text(app), what="test's output")
        assert log.following == TaskKey("one", "test")
        assert "test (running)" in str(log.border_title)
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: "built it" in log_text(app), what="build's log")
        assert log.following == TaskKey("one", "build")
        assert "build (ok)" in str(log.border_title)
        gate.write_text("")
        await until(
            pilot,
            lambda: app.state.tasks[TaskKey("one", "test")].status is RunStatus.OK,
            what="test to finish",
        )
        assert log.following == TaskKey("one", "build")  # the user's choice sticks


async def test_output_that_arrives_under_a_dialog_is_in_the_log(repo: Path, wtpar: Invoke) -> None:
    setup_repo(repo, wtpar, "one")
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        await pilot.press("down")
        app.start_run(["one"], "for i in 1 2 3 4 5; do echo line $i; sleep 0.05; done")
        await pilot.press("n")  # the spawn dialog covers the screen while the task prints
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        key = TaskKey("one", "cmd")
        await until(
            pilot,
            lambda: key in app.state.tasks and app.state.tasks[key].status is RunStatus.OK,
            what="the task to finish",
        )
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PromptScreen))
        await until(pilot, lambda: "line 5" in log_text(app), what="every line in the log")
        assert [f"line {i}" for i in range(1, 6)] == [
            line for line in log_text(app).splitlines() if line.startswith("line")
        ]


async def test_remove_refuses_a_worktree_whose_task_runs_in_the_dashboard(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    app = slow_app(repo, wtpar)
    async with app.run_test(size=(150, 36)) as pilot:
        child = await select_running_slow(app, pilot, tmp_path / "child.pid")
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        refusal = str(app.screen.query_one("#refusal").render())
        assert "task cmd is running in it (pid " in refusal
        await pilot.press("y")  # a refusal can only be acknowledged
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert worktree_dir(repo, "slow").is_dir()
        await pilot.press("c")
        wait_for(lambda: not alive(child), 10, "the sleep to be gone")
