"""Land actions of the dashboard: read a branch's diff, land the marked (or every ready)
branch after a confirmation that shows the plan, and update the selected or marked ones.

Planning and updating run git in thread workers; the train itself runs in the app's loop
on its own screen (train_screen.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from wtpar.errors import WtparError
from wtpar.tui.messages import ActionDone, ActionFailed
from wtpar.tui.screens import ConfirmScreen

if TYPE_CHECKING:
    from wtpar.land.plan import LandPlan
    from wtpar.land.report import LandReport
    from wtpar.tui.app import WtparApp


class LandActions(Screen[None]):
    """The diff, land and update actions of the main screen."""

    if TYPE_CHECKING:

        @property
        def dash(self) -> WtparApp: ...

        def selected_branch(self) -> str | None: ...

    # -- diff ----------------------------------------------------------------------------

    def action_diff(self) -> None:
        """Show the selected branch's changes against the base."""
        branch = self.selected_branch()
        if branch is not None:
            self._diff_worker(branch)

    @work(thread=True, exclusive=True, group="diff")
    def _diff_worker(self, branch: str) -> None:
        try:
            diff = self.dash.services.branch_diff(branch)
        except WtparError as exc:
            self.post_message(ActionFailed("diff", exc.message))
            return
        from wtpar.tui.widgets.diff_view import DiffScreen

        self.app.call_from_thread(self.app.push_screen, DiffScreen(diff))

    # -- land ----------------------------------------------------------------------------

    def action_land(self) -> None:
        """Land the marked branches (every ready one when none is marked), once confirmed."""
        marked = sorted(self.dash.state.marked)
        self.notify("Planning the land (checking the branches)…", title="land")
        self._plan_worker(marked)

    @work(thread=True, exclusive=True, group="land-plan")
    def _plan_worker(self, branches: list[str]) -> None:
        try:
            plan = self.dash.services.land_plan(branches)
        except WtparError as exc:
            self.post_message(ActionFailed("land", exc.message))
            return
        self.app.call_from_thread(self._confirm_land, plan)

    def _confirm_land(self, plan: LandPlan) -> None:
        from wtpar.land.render import render_plan

        text = render_plan(plan, self.dash.state.jobs)

        def done(yes: bool | None) -> None:
            if yes:
                self._start_train(plan)

        refusal = None if plan.order else text
        self.app.push_screen(ConfirmScreen("Land these branches?", text, refusal), done)

    def _start_train(self, plan: LandPlan) -> None:
        from wtpar.tui.train_screen import TrainScreen

        try:
            train = self.dash.services.make_train(plan, self.dash.state.jobs)
        except WtparError as exc:
            self.post_message(ActionFailed("land", exc.message))
            return

        def ended(report: LandReport | None) -> None:
            if report is not None:
                self.post_message(ActionDone("land", report.landing_text()))

        self.app.push_screen(TrainScreen(train), ended)

    # -- update --------------------------------------------------------------------------

    def action_update(self) -> None:
        """Rebase the marked branches (or the selected one) onto the base."""
        branches = sorted(self.dash.state.marked)
        if not branches:
            selected = self.selected_branch()
            branches = [selected] if selected else []
        if branches:
            self._update_worker(branches)

    @work(thread=True, group="update")
    def _update_worker(self, branches: list[str]) -> None:
        from wtpar.land.render import update_summary

        try:
            results = self.dash.services.update(branches)
        except WtparError as exc:
            self.post_message(ActionFailed("update", exc.message))
            return
        good = [update_summary(r) for r in results if r.ok]
        bad = [update_summary(r) for r in results if not r.ok]
        if bad:
            self.post_message(ActionFailed("update", "\n".join(bad)))
        if good:
            self.post_message(ActionDone("update", "\n".join(good)))
