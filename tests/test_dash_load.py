"""The dashboard never freezes: 50 worktrees, 8 tasks streaming output at full speed.

What keeps it responsive is that output reaches the log pane in batches, one call a task
per redraw, never a call per line: that is what is counted (a count stands for time; how
long the loop stalls depends on the machine's load)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Invoke
from tests.dash_helpers import FIXED_NOW, log_text, rows_read, until
from wtpar.model import RunStatus, TaskKey
from wtpar.services import Services
from wtpar.tui.app import make_app
from wtpar.tui.widgets.log_pane import LogPane

LINES = 20000


async def test_fifty_worktrees_and_eight_streaming_tasks_keep_the_ui_responsive(
    repo: Path, wtpar: Invoke
) -> None:
    branches = [f"b{i:02d}" for i in range(50)]
    assert wtpar("spawn", *branches).exit_code == 0
    app = make_app(Services.from_cwd(repo), now=lambda: FIXED_NOW, refresh_interval=1.0, jobs=8)
    calls: list[int] = []
    async with app.run_test(size=(150, 40)) as pilot:
        await until(pilot, lambda: rows_read(app) == 51, what="51 rows")
        await pilot.press("down")
        log = app.query_one(LogPane)
        add_lines = log.add_lines

        def counted(key: TaskKey, lines: list[str]) -> None:
            calls.append(len(lines))
            add_lines(key, lines)

        log.add_lines = counted  # type: ignore[method-assign]
        app.start_run(branches[:8], f"seq {LINES}")
        await until(pilot, lambda: len(log.lines) > 100, what="output on screen")
        for _ in range(5):  # the user moves around while output streams
            await pilot.press("down")
        await until(
            pilot,
            lambda: sum(c.status is RunStatus.OK for c in app.state.tasks.values()) == 8,
            timeout=60,
            what="eight tasks to finish",
        )
        await until(pilot, lambda: app.selected_branch() == "b05", what="cursor moved")
        await pilot.press("up")
        await until(pilot, lambda: str(LINES) in log_text(app))
    assert sum(calls) >= 8 * LINES  # every line of every task reached the pane
    # One call a task per 0.1 s redraw: 8 x 20000 lines streamed in a few seconds make tens
    # of calls; a call per line (or per read of a pipe) would make tens of thousands.
    assert len(calls) <= sum(calls) / 100, f"{len(calls)} calls for {sum(calls)} lines"
