"""Runs from the dashboard: start, re-run, cancel; the coalesced stream of dispatcher
events; and the log pane following the selected branch's task."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.markup import escape
from textual.screen import Screen

from wtpar.errors import WtparError
from wtpar.model import BranchStatus, RunEvent, RunFinished, TaskKey
from wtpar.run.plan import RunRequest
from wtpar.text import terminal_safe
from wtpar.tui.batcher import EventBatcher
from wtpar.tui.log_follow import choose_log_task
from wtpar.tui.screens import PromptScreen
from wtpar.tui.widgets.log_pane import LogPane

if TYPE_CHECKING:
    from wtpar.tui.app import WtparApp

FLUSH_DELAY = 0.1


class RunActions(Screen[None]):
    """The run, re-run, cancel and log actions of the main screen."""

    runs_finished: int

    if TYPE_CHECKING:

        @property
        def dash(self) -> WtparApp: ...

        def selected_status(self) -> BranchStatus | None: ...

        def selected_branch(self) -> str | None: ...

        def visible_statuses(self) -> list[BranchStatus]: ...

        def redraw(self) -> None: ...

        def action_refresh(self) -> None: ...

    def make_log_pane(self) -> LogPane:
        """The log pane, and the batcher that feeds it."""
        self._batcher = EventBatcher()
        self._flush_pending = False
        self._log_pinned = False
        return LogPane()

    # -- starting and stopping runs ------------------------------------------------------

    def _targets(self, marked: bool) -> list[str]:
        state = self.dash.state
        if marked and state.marked:
            return sorted(state.marked)
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
        names = self.dash.runs.task_names()
        hint = "Tasks: " + ", ".join(names) if names else "No tasks configured in wtpar.toml."

        def done(text: str | None) -> None:
            if text:
                self.start_run(branches, text)

        target = branches[0] if len(branches) == 1 else f"{len(branches)} branches"
        self.app.push_screen(
            PromptScreen(f"Run on {target}", "task name(s) or a shell command", hint=hint), done
        )

    def start_run(self, branches: list[str], text: str) -> None:
        """Start a run of `text` (task names or a command) on these branches."""
        self._start(self.dash.runs.request_for(branches, text))

    def _start(self, request: RunRequest) -> None:
        try:
            self.dash.runs.start(request)
        except WtparError as exc:
            self.notify(exc.message, title="run refused", severity="error", timeout=8, markup=False)

    def action_rerun_failed(self) -> None:
        """Run again every task that failed or timed out."""
        state = self.dash.state
        failed = state.failed_keys()
        if not failed:
            self.notify("no failed task to re-run")
            return
        commands = {key: cell.command for key, cell in state.tasks.items()}
        for request in self.dash.runs.rerun_requests(failed, commands):
            self._start(request)

    def action_cancel_selected(self) -> None:
        """Cancel the selected branch's queued and running tasks."""
        keys = self.dash.state.running_keys(self.selected_branch())
        if not keys:
            self.notify("nothing running on this branch")
        self.dash.runs.cancel(keys)

    def action_cancel_all(self) -> None:
        """Cancel every queued and running task."""
        self.dash.runs.cancel_all()

    # -- the event stream ------------------------------------------------------------------

    def record_run_event(self, event: RunEvent) -> None:
        """Record a dispatcher event; the redraw is coalesced into one per FLUSH_DELAY."""
        self.dash.state.apply_event(event)
        self._batcher.add(event)
        if isinstance(event, RunFinished):
            self.runs_finished += 1
            self.action_refresh()
        if not self._flush_pending:
            self._flush_pending = True
            self.set_timer(FLUSH_DELAY, self._flush_run_events)

    def _flush_run_events(self) -> None:
        self._flush_pending = False
        if not self.is_attached or not self.app.screen_stack:
            return  # the app is closing: nothing left to draw
        began = self._batcher.flush(self.query_one(LogPane))
        self.follow_log(0, began)
        self.redraw()

    # -- the log pane ----------------------------------------------------------------------

    def action_log_task(self, step: int) -> None:
        """Show the previous or next task's output for the selected branch."""
        self.follow_log(step)

    def unpin_log(self) -> None:
        """A task picked with [ or ] stops sticking (the selection moved)."""
        self._log_pinned = False

    def follow_log(self, step: int, began: Sequence[TaskKey] = ()) -> None:
        """Show the selected branch's running task, else its last one (log_follow.py);
        `began`: the task instances queued or started since the last flush."""
        branch = self.selected_branch()
        if branch is None:
            return
        log = self.query_one(LogPane)
        state = self.dash.state
        mine = sorted(k for k in state.tasks if k.branch == branch)  # shards in order
        keys = [k for t in state.task_names for k in mine if k.task == t]
        running = [k for k in keys if not state.tasks[k].status.finished]
        choice = choose_log_task(keys, running, log.following, self._log_pinned, step, began)
        self._log_pinned = choice.pinned
        chosen = choice.key
        if chosen is None:
            log.follow(None, f"Log · {_shown(branch)} · no task yet")
            return
        cell = state.tasks[chosen]
        title = f"Log · {_shown(chosen.branch)} · {_shown(chosen.task)} ({cell.status.value})"
        if len(keys) > 1:
            title += "  [ ] switch task"
        if chosen == log.following:
            log.border_title = title
        else:
            log.follow(chosen, title, fallback=_tail(cell.log_path))


def _tail(path: str | None, lines: int = 200) -> list[str]:
    if not path:
        return []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()[-lines:]
    except OSError:
        return []


def _shown(name: str) -> str:
    """A branch's or task's name in a title: as text, not markup nor terminal controls."""
    return escape(terminal_safe(name))
