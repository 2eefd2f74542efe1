"""The dashboard's main screen: the branch table, the readiness panel, the log pane and
the pool bar, with every key binding and the actions behind them.

Runs and the log are driven by run_actions.py, spawn/remove/prune by worktree_actions.py;
both are mixed into this screen so that one class owns the bindings.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Header, Static

from wtpar.errors import WtparError
from wtpar.model import BranchStatus
from wtpar.text import compact_seconds, plural
from wtpar.tui.fleet_view import FLASH_SECONDS, elsewhere_columns, holder_columns
from wtpar.tui.land_actions import LandActions
from wtpar.tui.messages import (
    ActionDone,
    ActionFailed,
    WorktreesListed,
    WorktreesRefreshed,
)
from wtpar.tui.readiness_actions import ReadinessActions
from wtpar.tui.run_actions import RunActions
from wtpar.tui.screens import ConfirmScreen, PromptScreen
from wtpar.tui.service_actions import ServiceActions
from wtpar.tui.view import (
    COLUMN_TITLES,
    FIXED_COLUMNS,
    branch_name,
    env_columns,
    listed_status,
    row_cells,
    sort_key,
    visible,
)
from wtpar.tui.widgets.branch_table import BranchTable, Column, Row
from wtpar.tui.widgets.readiness import ReadinessPanel
from wtpar.tui.worktree_actions import WorktreeActions

if TYPE_CHECKING:
    from wtpar.run.activity import FinishedRuns, WaitOutcome
    from wtpar.tui.app import WtparApp

# How long the first refresh waits for the listed rows to be drawn before reading statuses.
LISTED_WAIT = 2.0


class MainScreen(RunActions, WorktreeActions, ServiceActions, LandActions, ReadinessActions):
    """Every branch's state beside the merge-readiness summary."""

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
        # One footer entry for both keys: u starts, U stops the selected worktree's services.
        Binding("u", "services_up", "Svc", key_display="u/U"),
        Binding("U", "services_down", "Stop services", show=False),
        Binding("k", "check", "Check"),
        Binding("g", "refresh", "Refresh"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("left_square_bracket", "log_task(-1)", "Prev log", show=False),
        Binding("right_square_bracket", "log_task(1)", "Next log", show=False),
        Binding("q", "quit_dash", "Quit"),
        # After Quit, so that on a narrow terminal the footer cuts these rather than Quit.
        Binding("v", "diff", "Diff"),
        Binding("L", "land", "Land"),
        Binding("b", "update", "Rebase", show=False),
        # Textual's own quit would leave running tasks behind: every exit goes through here.
        Binding("ctrl+q", "quit_dash", "Quit", show=False, priority=True),
        Binding("ctrl+c", "quit_dash", "Quit", show=False, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.sort_column: str | None = None
        self.loaded = False
        self.runs_finished = 0
        self._highlighted: str | None = None
        self._finished_runs: FinishedRuns | None = None  # made by the first refresh
        self._held, self._held_at = 0, -1.0  # slots other processes hold (_held_by_others)

    @property
    def dash(self) -> WtparApp:
        """The app, with its model (services, state, runs)."""
        return cast("WtparApp", self.app)

    # -- layout --------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False, icon="≡")
        with Horizontal(id="top"):
            yield BranchTable()
            yield ReadinessPanel()
        yield self.make_log_pane()
        yield Static(id="pool")
        yield Footer()

    def _held_by_others(self, jobs: int, running: int) -> int:
        """The shared slots other processes hold, looked at once a second at most (the bar
        is drawn ten times a second while tasks run); counted against this process's tasks
        of the same moment, so that one of them just ended is never taken for another's."""
        now = time.monotonic()
        if now - self._held_at >= 1.0:
            self._held_at = now
            try:
                self._held = max(0, self.dash.services.slots_held(jobs) - running)
            except OSError:
                self._held = 0  # no locks folder to look in: nothing is held
        return self._held

    def on_mount(self) -> None:
        self.query_one(ReadinessPanel).show_nothing("Checking merge readiness…")
        self._draw_pool()
        self.table.focus()
        self.action_refresh()
        if self.dash.refresh_interval:
            self.set_interval(self.dash.refresh_interval, self.action_refresh)
        self.set_interval(1.0, self._tick)

    # -- drawing -------------------------------------------------------------------------

    @property
    def table(self) -> BranchTable:
        """The branch table."""
        return self.query_one(BranchTable)

    def visible_statuses(self) -> list[BranchStatus]:
        """Rows after the filter and the sort."""
        rows = visible(self.dash.state.statuses, self.filter_text)
        if self.sort_column:
            column = self.sort_column
            rows.sort(key=lambda bs: sort_key(column, bs, self.dash.state))
        return rows

    def redraw(self) -> None:
        """Redraw the table, the readiness panel, the pool bar (cells that changed only)."""
        state = self.dash.state
        now = self.dash.now()
        # The verdict before the task columns, so that many tasks never push it off screen.
        fleet = (*holder_columns(state), *elsewhere_columns(state))
        shown = (*FIXED_COLUMNS, *fleet, *env_columns(state), "ready")
        columns = [Column(c, COLUMN_TITLES[c]) for c in shown]
        columns += [Column(f"task:{t}", t) for t in state.task_names]
        if self.sort_column:
            columns = [
                Column(key, title + (" ▼" if key == self.sort_column else ""))
                for key, title in columns
            ]
        root = self.dash.services.paths.root
        rows = [
            Row(bs.worktree.path, row_cells(bs, state, root, now)) for bs in self.visible_statuses()
        ]
        self.table.show(columns, rows)
        self._draw_readiness()
        self._draw_pool()

    def _draw_pool(self) -> None:
        state = self.dash.state
        running, queued = state.pool_counts()
        ok, bad = state.outcome_counts()
        jobs = state.jobs
        others = self._held_by_others(jobs, running)  # the pool is the repository's
        elsewhere = f" ({others} elsewhere)" if others else ""  # other wtpar processes
        busy = running + others
        text = (
            f"pool: {busy}/{jobs} busy{elsewhere}, {max(0, jobs - busy)} free, {queued} queued"
            f"  │  {ok} ok, {bad} failed"
        )
        where = self.dash.runs.where()
        if where is not None:
            text = f"{where}  │  {running} running, {queued} queued  │  {ok} ok, {bad} failed"
        eta = self.dash.runs.eta(self.dash.now())
        if eta is not None:
            text += f"  │  ETA {compact_seconds(eta)}"
        if self.filter_text:
            text += f"  │  filter: {self.filter_text}"
        if state.marked:
            text += f"  │  {len(state.marked)} marked"
        self.query_one("#pool", Static).update(text)

    def _tick(self) -> None:
        if self.dash.state.running_keys():
            self.redraw()

    # -- selection -----------------------------------------------------------------------

    def selected_status(self) -> BranchStatus | None:
        """The worktree under the cursor."""
        key = self.table.selected_key()
        for bs in self.dash.state.statuses:
            if bs.worktree.path == key:
                return bs
        return None

    def selected_branch(self) -> str | None:
        """The branch under the cursor."""
        bs = self.selected_status()
        return branch_name(bs) if bs else None

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Follow the newly selected branch's log, and show its readiness reasons.

        A table rebuilt under the cursor (a column grew) highlights the same row again:
        that is no new selection, and a task the user picked with [ or ] stays."""
        branch = self.selected_branch()
        if branch != self._highlighted:
            self._highlighted = branch
            self.unpin_log()
            self.follow_log(0)
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
            worktrees = None
            if not self.loaded:
                # The rows first, from one `git worktree list`: reading a hundred
                # worktrees' status takes far longer than drawing them.
                worktrees = self.dash.services.worktree_list()
                listed = WorktreesListed(worktrees)
                self.post_message(listed)
                listed.drawn.wait(LISTED_WAIT)
            statuses = self.dash.services.list_worktrees(worktrees)
            envs = self.dash.services.env_views([bs.worktree for bs in statuses])
            leases = self.dash.services.leases()
            if self._finished_runs is None:
                self._finished_runs = self.dash.services.finished_runs()
            finished = self._finished_runs.poll()
            elsewhere = self.dash.services.tasks_elsewhere([bs.worktree.path for bs in statuses])
        except WtparError as exc:
            self.post_message(ActionFailed("refresh", exc.message))
            return
        self.post_message(WorktreesRefreshed(statuses, envs, leases, finished, elsewhere))

    def on_worktrees_listed(self, message: WorktreesListed) -> None:
        """The first rows, their status columns marked as still being read."""
        state = self.dash.state
        if not self.loaded:  # else a full refresh got here first
            state.statuses = [listed_status(wt) for wt in message.worktrees]
            state.pending = True
            self.redraw()
        self.call_after_refresh(message.drawn.set)

    def on_worktrees_refreshed(self, message: WorktreesRefreshed) -> None:
        """New statuses: one batched redraw, and a readiness check if anything changed."""
        state = self.dash.state
        state.pending = False
        state.statuses = message.statuses
        state.envs = message.envs
        state.leases = message.leases
        state.elsewhere = message.elsewhere
        self._flash(message.finished)
        state.marked &= {branch_name(bs) for bs in message.statuses}
        first = not self.loaded
        self.loaded = True
        self.redraw()
        if first:
            self.follow_log(0)
        if self._fingerprint() != self._checked:
            self.action_check(quiet=True)

    def _flash(self, finished: dict[str, WaitOutcome]) -> None:
        """Flash the rows whose run just finished, then draw them plain again."""
        if not finished:
            return
        from wtpar.run.activity import WaitOutcome

        now = self.dash.now()
        for path, outcome in finished.items():
            self.dash.state.flashes[path] = (now, outcome is WaitOutcome.OK)
        self.set_timer(FLASH_SECONDS + 0.1, self.redraw)

    def on_action_failed(self, message: ActionFailed) -> None:
        """Show a background failure as an error notification."""
        title = f"{message.what} failed"
        self.notify(message.message, title=title, severity="error", timeout=8, markup=False)

    def on_action_done(self, message: ActionDone) -> None:
        """Show what a background action did, then refresh."""
        self.notify(message.summary, title=message.what, markup=False)
        self.action_refresh()

    # -- marks, filter, sort ---------------------------------------------------------------

    def action_toggle_mark(self) -> None:
        """Mark or unmark the selected branch (runs with R go to marked branches)."""
        name = self.selected_branch()
        if name is None:
            return
        self.dash.state.marked ^= {name}
        self.redraw()
        if self.table.cursor_row < self.table.row_count - 1:
            self.table.move_cursor(row=self.table.cursor_row + 1)

    def action_mark_all(self) -> None:
        """Mark every branch, or clear the marks when all are marked."""
        state = self.dash.state
        names = {branch_name(bs) for bs in self.visible_statuses() if not bs.worktree.is_main}
        state.marked = set() if names <= state.marked else names
        self.redraw()

    def action_filter(self) -> None:
        """Show only rows whose branch or path contains some text."""

        def done(text: str | None) -> None:
            self.filter_text = text or ""
            self.redraw()

        self.app.push_screen(
            PromptScreen(
                "Filter rows", "part of a branch name (empty: show all)", self.filter_text
            ),
            done,
        )

    def action_sort(self) -> None:
        """Cycle the sort column: branch, changes, base, holder and elsewhere (while they
        are shown), readiness, each task, none."""
        state = self.dash.state
        order = ["branch", "dirty", "base", *holder_columns(state), *elsewhere_columns(state)]
        order += ["ready", *(f"task:{t}" for t in state.task_names)]
        if self.sort_column not in order:
            self.sort_column = order[0]
        else:
            i = order.index(self.sort_column) + 1
            self.sort_column = order[i] if i < len(order) else None
        self.redraw()

    # -- quit ----------------------------------------------------------------------------

    def action_quit_dash(self) -> None:
        """Quit; running tasks are cancelled (their process groups terminated) first."""
        running = self.dash.state.running_keys()
        if not running:
            self.app.exit(0)
            return

        def done(yes: bool | None) -> None:
            if yes:
                self.action_cancel_all()
                self.app.run_worker(self.exit_when_idle(), group="quit")

        self.app.push_screen(
            ConfirmScreen(
                "Quit", f"{plural(len(running), 'task')} still running: cancel and quit?"
            ),
            done,
        )

    async def exit_when_idle(self, code: int = 0) -> None:
        """Exit with `code` once every run has ended (after a cancel)."""
        for worker in list(self.app.workers):
            if worker.group == "runs":
                await worker.wait()
        self.app.exit(code, return_code=code)
