"""The log pane after a run from the dashboard ends: the task that just ran, all of its
output and its final status, even when it started and ended between two redraws."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from tests.conftest import Invoke
from tests.dash_helpers import FIXED_NOW, log_text, rows_read, until
from wtpar.services import Services
from wtpar.tui.app import WtparApp, make_app
from wtpar.tui.widgets.log_pane import LogPane

# Two quick tasks on one branch: each run takes a few milliseconds, often less than the
# time between two redraws (run_actions.FLUSH_DELAY), so it is queued, started, prints
# and ends unseen by the log pane's rule, which then saw nothing running on the branch.
TASKS = """
[tasks.first]
cmd = "printf 'a\\\\nb\\\\nfirst done\\\\n'"

[tasks.second]
cmd = "printf 'a\\\\nb\\\\nsecond done\\\\n'"
"""
RUNS = 16


async def test_each_quick_run_ends_in_the_log_with_its_last_line_and_status(
    repo: Path, wtpar: Invoke
) -> None:
    (repo / "wtpar.toml").write_text(TASKS)
    assert wtpar("spawn", "one").exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=None, jobs=2)
    async with app.run_test(size=(150, 36)) as pilot:
        await until(pilot, lambda: rows_read(app) == 2)
        await pilot.press("down")
        log = app.query_one(LogPane)
        for n in range(RUNS):
            task = ("first", "second")[n % 2]
            app.start_run(["one"], task)
            await until(pilot, partial(runs_ended, app, n + 1), what=f"run {n}")
            try:
                await until(pilot, partial(shows_end, app, task), timeout=3)
            except AssertionError:
                raise AssertionError(
                    f"run {n} of {task}: the log pane shows {log.border_title!r} over "
                    f"{log_text(app)!r}"
                ) from None


def runs_ended(app: WtparApp, count: int) -> bool:
    """The dashboard has seen `count` runs end."""
    return app.main.runs_finished == count


def shows_end(app: WtparApp, task: str) -> bool:
    """The log pane shows `task` on `one`, ended ok, its last line at the bottom."""
    title = str(app.query_one(LogPane).border_title)
    return f"Log · one · {task} (ok)" in title and log_text(app).splitlines()[-1:] == [
        f"{task} done"
    ]
