"""The dashboard app: composes the widgets and routes messages between them and the core.

Git queries run in thread workers and come back as messages; dispatcher runs live in the
app's own event loop and their events are coalesced into one redraw per ~0.1 s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Coroutine
from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Static

from wtpar.errors import WtparError
from wtpar.model import (
    BranchStatus,
    RunEvent,
    RunFinished,
    TaskKey,
    TaskOutput,
    TaskQueued,
    TaskStarted,
)
from wtpar.run.plan import RunRequest
from wtpar.services import Services
from wtpar.text import plural
from wtpar.tui.messages import ActionDone, ActionFailed, ReadinessChecked, WorktreesRefreshed
from wtpar.tui.runs import RunController
from wtpar.tui.screens import ConfirmScreen, PromptScreen
from wtpar.tui.view import (
    COLUMN_TITLES,
    FIXED_COLUMNS,
    Clock,
    DashState,
    branch_name,
    row_cells,
    sort_key,
    visible,
)
from wtpar.tui.widgets.branch_table import BranchTable
from wtpar.tui.widgets.log_pane import LogPane
from wtpar.tui.widgets.readiness import ReadinessPanel
from wtpar.tui.worktree_actions import WorktreeActions

FLUSH_DELAY = 0.1


class WtparApp(WorktreeActions):
    """`wtpar dash`: every branch's state beside the merge-readiness summary."""

    TITLE = "wtpar"
    CSS_PATH = "dash.tcss"
    BINDINGS = [
        Binding("r", "run_selected", "Run"),
        Binding("R", "run_marked", "Run marked/all"),
        Binding("f", "rerun_failed", "Re-run failed"),
        Binding("c", "cancel_selected", "Cancel"),
        Binding("C", "cancel_all", "Cancel all", show=False),
        Binding("space", "toggle_mark", "Mark"),
        Binding("a", "mark_all", "Mark all", show=False),
        Binding("n", "spawn", "Spawn"),
        Binding("d", "remove", "Remove"),
        Binding("p", "prune", "Prune", show=False),
        Binding("k", "check", "Check"),
        Binding("g", "refresh", "Refresh"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("left_square_bracket", "log_task(-1)", "Prev log", show=False),
        Binding("right_square_bracket", "log_task(1)", "Next log", show=False),
        Binding("q", "quit_dash", "Quit"),
        # Textual's own quit would leave running tasks behind: every exit goes through here.
        Binding("ctrl+q", "quit_dash", "Quit", show=False, priority=True),
        Binding("ctrl+c", "quit_dash", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        services: Services,
        now: Clock = time.time,
        refresh_interval: float | None = 5.0,
        jobs: int | None = None,
    ) -> None:
        super().__init__()
        self.services = services
        self.now = now
        self.refresh_interval = refresh_interval
        self.state = DashState(jobs=jobs or len(os.sched_getaffinity(0)))
        self.filter_text = ""
        self.sort_column: str | None = None
        self.runs = RunController(
            services, self.state.jobs, self.on_run_event, self._start_run_worker
        )
        self.check_report: Any = None
        self.loaded = False
        self._flush_pending = False
        self._log_pinned = False
        self._resets: set[TaskKey] = set()
        self._pending_lines: dict[TaskKey, list[str]] = {}

    def _start_run_worker(self, run: Coroutine[Any, Any, None]) -> object:
        return self.run_worker(run, group="runs")

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        with Horizontal(id="top"):
            yield BranchTable()
            yield ReadinessPanel()
        yield LogPane()
        yield Static(id="pool")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = os.path.basename(self.services.paths.root)
        self.query_one(ReadinessPanel).show_nothing("Press k to check merge readiness.")
        self._draw_pool()
        self.table.focus()
        self.action_refresh()
        if self.refresh_interval:
            self.set_interval(self.refresh_interval, self.action_refresh)
        self.set_interval(1.0, self._tick)

    # -- drawing -------------------------------------------------------------------------

    @property
    def table(self) -> BranchTable:
        """The branch table."""
        return self.query_one(BranchTable)

    def visible_statuses(self) -> list[BranchStatus]:
        """Rows after the filter and the sort."""
        rows = visible(self.state.statuses, self.filter_text)
        if self.sort_column:
            column = self.sort_column
            rows.sort(key=lambda bs: sort_key(column, bs, self.state))
        return rows

    def redraw(self) -> None:
        """Redraw the table, the readiness panel, the pool bar (cells that changed only)."""
        now = self.now()
        # The verdict before the task columns, so that many tasks never push it off screen.
        columns = [(c, COLUMN_TITLES[c]) for c in (*FIXED_COLUMNS, "ready")]
        columns += [(f"task:{t}", t) for t in self.state.task_names]
        if self.sort_column:
            columns = [
                (key, title + (" ▼" if key == self.sort_column else "")) for key, title in columns
            ]
        rows = [
            (bs.worktree.path, row_cells(bs, self.state, self.services.paths.root, now))
            for bs in self.visible_statuses()
        ]
        self.table.show(columns, rows)
        self._draw_readiness()
        self._draw_pool()

    def _draw_pool(self) -> None:
        running, queued = self.state.pool_counts()
        ok, bad = self.state.outcome_counts()
        jobs = self.state.jobs
        text = (
            f"pool: {running}/{jobs} busy, {max(0, jobs - running)} free, {queued} queued"
            f"  │  {ok} ok, {bad} failed"
        )
        if self.filter_text:
            text += f"  │  filter: {self.filter_text}"
        if self.state.marked:
            text += f"  │  {len(self.state.marked)} marked"
        self.query_one("#pool", Static).update(text)

    def _draw_readiness(self) -> None:
        if self.check_report is None:
            return
        from wtpar.tui.readiness_view import readiness_summary

        panel = self.query_one(ReadinessPanel)
        panel.show(*readiness_summary(self.check_report, self.selected_branch()))

    def _tick(self) -> None:
        if self.state.running_keys():
            self.redraw()

    # -- selection -----------------------------------------------------------------------

    def selected_status(self) -> BranchStatus | None:
        """The worktree under the cursor."""
        key = self.table.selected_key()
        for bs in self.state.statuses:
            if bs.worktree.path == key:
                return bs
        return None

    def selected_branch(self) -> str | None:
        """The branch under the cursor."""
        bs = self.selected_status()
        return branch_name(bs) if bs else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the newly selected branch's log, and show its readiness reasons."""
        self._log_pinned = False
        self._follow_log(0)
        self._draw_readiness()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it."""
        self.sort_column = str(event.column_key.value)
        self.redraw()

    # -- refresh -------------------------------------------------------------------------

    def action_refresh(self) -> None:
        """Re-read every worktree's status in the background."""
        self._refresh_worker()

    @work(thread=True, exclusive=True, group="refresh")
    def _refresh_worker(self) -> None:
        try:
            statuses = self.services.list_worktrees()
        except WtparError as exc:
            self.post_message(ActionFailed("refresh", exc.message))
            return
        self.post_message(WorktreesRefreshed(statuses))

    def on_worktrees_refreshed(self, message: WorktreesRefreshed) -> None:
        """New statuses: one batched redraw."""
        self.state.statuses = message.statuses
        names = {branch_name(bs) for bs in message.statuses}
        self.state.marked &= names
        first = not self.loaded
        self.loaded = True
        self.redraw()
        if first:
            self._follow_log(0)

    def on_action_failed(self, message: ActionFailed) -> None:
        """Show a background failure as an error notification."""
        self.notify(message.message, title=f"{message.what} failed", severity="error", timeout=8)

    def on_action_done(self, message: ActionDone) -> None:
        """Show what a background action did, then refresh."""
        self.notify(message.summary, title=message.what)
        self.action_refresh()

    # -- marks, filter, sort ---------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        """Mark or unmark the selected branch (runs with R go to marked branches)."""
        name = self.selected_branch()
        if name is None:
            return
        self.state.marked ^= {name}
        self.redraw()
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1)

    def action_mark_all(self) -> None:
        """Mark every branch, or clear the marks when all are marked."""
        names = {branch_name(bs) for bs in self.visible_statuses() if not bs.worktree.is_main}
        self.state.marked = set() if names <= self.state.marked else names
        self.redraw()

    def action_filter(self) -> None:
        """Show only rows whose branch or path contains some text."""

        def done(text: str | None) -> None:
            self.filter_text = text or ""
            self.redraw()

        self.push_screen(
            PromptScreen(
                "Filter rows", "part of a branch name (empty: show all)", self.filter_text
            ),
            done,
        )

    def action_sort(self) -> None:
        """Cycle the sort column: branch, changes, base, readiness, each task, none."""
        order = ["branch", "dirty", "base", "ready"]
        order += [f"task:{t}" for t in self.state.task_names]
        if self.sort_column not in order:
            self.sort_column = order[0]
        else:
            i = order.index(self.sort_column) + 1
            self.sort_column = order[i] if i < len(order) else None
        self.redraw()

    def action_remove(self) -> None:
        """Remove the selected worktree after a confirmation."""
        bs = self.selected_status()
        if bs is not None:
            self.ask_remove(bs)

    # -- readiness -----------------------------------------------------------------------

    def action_check(self) -> None:
        """Run the readiness check in the background."""
        self.query_one(ReadinessPanel).show_nothing("Checking merge readiness…")
        self._check_worker()

    @work(thread=True, exclusive=True, group="check")
    def _check_worker(self) -> None:
        from wtpar.tui.readiness_view import run_check

        try:
            report = run_check(self.services)
        except WtparError as exc:
            self.post_message(ActionFailed("check", exc.message))
            return
        self.post_message(ReadinessChecked(report))

    def on_readiness_checked(self, message: ReadinessChecked) -> None:
        """Show the verdicts in the table and the panel."""
        from wtpar.tui.readiness_view import verdicts

        self.check_report = message.report
        self.state.verdicts = verdicts(message.report)
        self.redraw()

    # -- runs ----------------------------------------------------------------------------

    def _targets(self, marked: bool) -> list[str]:
        if marked and self.state.marked:
            return sorted(self.state.marked)
        if marked:
            return [
                bs.worktree.branch
                for bs in self.visible_statuses()
                if bs.worktree.branch and not bs.worktree.is_main
            ]
        bs = self.selected_status()
        return [bs.worktree.branch] if bs and bs.worktree.branch else []

    def action_run_selected(self) -> None:
        """Run a named task or a command on the selected branch."""
        self._ask_and_run(self._targets(marked=False))

    def action_run_marked(self) -> None:
        """Run a named task or a command on the marked branches (all when none is marked)."""
        self._ask_and_run(self._targets(marked=True))

    def _ask_and_run(self, branches: list[str]) -> None:
        if not branches:
            self.notify("no branch to run on", severity="warning")
            return
        names = self.runs.task_names()
        hint = "Tasks: " + ", ".join(names) if names else "No tasks configured in wtpar.toml."

        def done(text: str | None) -> None:
            if text:
                self.start_run(branches, text)

        target = branches[0] if len(branches) == 1 else f"{len(branches)} branches"
        self.push_screen(
            PromptScreen(f"Run on {target}", "task name(s) or a shell command", hint=hint), done
        )

    def start_run(self, branches: list[str], text: str) -> None:
        """Start a run of `text` (task names or a command) on these branches."""
        self._start(self.runs.request_for(branches, text))

    def _start(self, request: RunRequest) -> None:
        try:
            self.runs.start(request)
        except WtparError as exc:
            self.notify(exc.message, title="run refused", severity="error", timeout=8)

    def action_rerun_failed(self) -> None:
        """Run again every task that failed or timed out."""
        failed = self.state.failed_keys()
        if not failed:
            self.notify("no failed task to re-run")
            return
        commands = {key: cell.command for key, cell in self.state.tasks.items()}
        for request in self.runs.rerun_requests(failed, commands):
            self._start(request)

    def action_cancel_selected(self) -> None:
        """Cancel the selected branch's queued and running tasks."""
        keys = self.state.running_keys(self.selected_branch())
        if not keys:
            self.notify("nothing running on this branch")
        self.runs.cancel(keys)

    def action_cancel_all(self) -> None:
        """Cancel every queued and running task."""
        self.runs.cancel_all()

    def on_run_event(self, event: RunEvent) -> None:
        """Record a dispatcher event; the redraw is coalesced into one per FLUSH_DELAY."""
        self.state.apply_event(event)
        if isinstance(event, TaskQueued):
            self._pending_lines.pop(event.key, None)
            self._resets.add(event.key)
        elif isinstance(event, TaskStarted) and event.attempt > 1:
            self._pending_lines.setdefault(event.key, []).append(f"--- attempt {event.attempt} ---")
        elif isinstance(event, TaskOutput):
            self._pending_lines.setdefault(event.key, []).append(event.line)
        elif isinstance(event, RunFinished):
            self.action_refresh()
        if not self._flush_pending:
            self._flush_pending = True
            self.set_timer(FLUSH_DELAY, self._flush_run_events)

    def _flush_run_events(self) -> None:
        self._flush_pending = False
        if not self.screen_stack or not self.screen.is_attached:
            return  # the app is closing: nothing left to draw
        log = self.query_one(LogPane)
        for key in self._resets:
            log.reset(key)
        self._resets.clear()
        for key, lines in self._pending_lines.items():
            log.add_lines(key, lines)
        self._pending_lines.clear()
        self._follow_log(0)
        self.redraw()

    # -- log -----------------------------------------------------------------------------

    def action_log_task(self, step: int) -> None:
        """Show the previous or next task's output for the selected branch."""
        self._follow_log(step)

    def _follow_log(self, step: int) -> None:
        """Show the selected branch's running task, else its last one; `step` cycles tasks.

        After the user picks a task with [ or ], that choice sticks until the selection
        moves to another row.
        """
        branch = self.selected_branch()
        log = self.query_one(LogPane)
        if branch is None:
            return
        keys = [TaskKey(branch, t) for t in self.state.task_names]
        keys = [k for k in keys if k in self.state.tasks]
        if not keys:
            log.follow(None, f"Log · {branch} · no task yet")
            return
        current = log.following if log.following in keys else None
        if step:
            self._log_pinned = True
            chosen = keys[(keys.index(current) + step) % len(keys)] if current else keys[0]
        else:
            running = [k for k in keys if not self.state.tasks[k].status.finished]
            keep = current is not None and (self._log_pinned or current in running or not running)
            chosen = current if keep and current else (running[0] if running else keys[-1])
        cell = self.state.tasks[chosen]
        title = f"Log · {chosen.branch} · {chosen.task} ({cell.status.value})"
        if len(keys) > 1:
            title += "  [ ] switch task"
        if chosen == log.following:
            log.border_title = title
        else:
            log.follow(chosen, title, fallback=_tail(cell.log_path))

    # -- quit ----------------------------------------------------------------------------

    def action_quit_dash(self) -> None:
        """Quit; running tasks are cancelled (their process groups terminated) first."""
        running = self.state.running_keys()
        if not running:
            self.exit(0)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.action_cancel_all()
                self.run_worker(self._exit_when_idle(), group="quit")

        self.push_screen(
            ConfirmScreen(
                "Quit",
                f"{plural(len(running), 'task')} still running: cancel and quit?",
            ),
            done,
        )

    async def _exit_when_idle(self) -> None:
        for worker in list(self.workers):
            if worker.group == "runs":
                await worker.wait()
        self.exit(0)


def _tail(path: str | None, lines: int = 200) -> list[str]:
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()[-lines:]
    except OSError:
        return []


def make_app(
    services: Services,
    now: Clock = time.time,
    refresh_interval: float | None = 5.0,
    jobs: int | None = None,
) -> WtparApp:
    """The one way to build the dashboard, used by `wtpar dash` and by every test."""
    return WtparApp(services, now=now, refresh_interval=refresh_interval, jobs=jobs)
