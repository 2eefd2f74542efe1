"""Readiness actions of the dashboard: the merge-readiness check runs in a thread worker
whenever a worktree or the finished runs changed (and on k), and its verdicts fill the Ready
column and the readiness panel."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from wtpar.errors import WtparError
from wtpar.tui.messages import ActionFailed, ReadinessChecked
from wtpar.tui.widgets.readiness import ReadinessPanel

if TYPE_CHECKING:
    from wtpar.tui.app import WtparApp

# What the readiness check last saw: each worktree's path, HEAD and changes, and how many
# runs had finished. The check runs again in the background when it differs.
Fingerprint = tuple[tuple[tuple[str, str | None, str], ...], int]


class ReadinessActions(Screen[None]):
    """The readiness check of the main screen, and the panel that shows it."""

    _checked: Fingerprint | None = None
    runs_finished: int

    if TYPE_CHECKING:

        @property
        def dash(self) -> WtparApp: ...

        def selected_branch(self) -> str | None: ...

        def redraw(self) -> None: ...

    def _draw_readiness(self) -> None:
        report = self.dash.check_report
        if report is None:
            return
        from wtpar.tui.readiness_view import readiness_summary

        self.query_one(ReadinessPanel).show(readiness_summary(report, self.selected_branch()))

    def _fingerprint(self) -> Fingerprint:
        statuses = self.dash.state.statuses
        rows = tuple((bs.worktree.path, bs.worktree.head, bs.changes_text()) for bs in statuses)
        return rows, self.runs_finished

    def action_check(self, quiet: bool = False) -> None:
        """Run the readiness check in the background (also after every refresh that
        changed a worktree, and after every run)."""
        if not quiet:
            self.query_one(ReadinessPanel).show_nothing("Checking merge readiness…")
        self._checked = self._fingerprint()
        self._check_worker()

    @work(thread=True, exclusive=True, group="check")
    def _check_worker(self) -> None:
        from wtpar.tui.readiness_view import run_check

        try:
            report = run_check(self.dash.services)
        except WtparError as exc:
            self.post_message(ActionFailed("check", exc.message))
            return
        self.post_message(ReadinessChecked(report))

    def on_readiness_checked(self, message: ReadinessChecked) -> None:
        """Show the verdicts in the table and the panel."""
        from wtpar.tui.readiness_view import verdicts

        self.dash.check_report = message.report
        self.dash.state.verdicts = verdicts(message.report)
        self.redraw()
