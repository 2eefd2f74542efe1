"""Service actions of the dashboard: start (`u`) and stop (`U`) the selected worktree's
`[services.*]`. Each runs in a thread worker (starting waits until the service is ready)
and reports back with ActionDone / ActionFailed messages."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from wtpar.errors import WtparError
from wtpar.model import BranchStatus
from wtpar.tui.messages import ActionDone, ActionFailed

if TYPE_CHECKING:
    from wtpar.tui.app import WtparApp
    from wtpar.worktrees.devservices import StartResult


class ServiceActions(Screen[None]):
    """The service actions of the main screen."""

    if TYPE_CHECKING:

        @property
        def dash(self) -> WtparApp: ...

        def selected_status(self) -> BranchStatus | None: ...

    def action_services_up(self) -> None:
        """Start the selected worktree's services."""
        branch = self._selected_service_branch()
        if branch is not None:
            self.notify(f"starting the services of {branch}…", title="services")
            self._services_up_worker(branch)

    def action_services_down(self) -> None:
        """Stop the selected worktree's services."""
        branch = self._selected_service_branch()
        if branch is not None:
            self._services_down_worker(branch)

    def _selected_service_branch(self) -> str | None:
        bs = self.selected_status()
        if bs is None:
            return None
        if not self.dash.services.config.services:
            self.notify(
                'no services: configure [services.NAME] with cmd = "..." in wtpar.toml',
                title="services",
                severity="warning",
            )
            return None
        if not bs.worktree.branch:
            self.notify("a detached worktree has no services", severity="warning")
            return None
        return bs.worktree.branch

    @work(thread=True, group="services")
    def _services_up_worker(self, branch: str) -> None:
        try:
            results = self.dash.services.up([branch])
        except WtparError as exc:
            self.post_message(ActionFailed("services", exc.message))
            return
        good = [f"{r.service} {r.outcome.value} (pid {r.pid})" for r in results if r.ok]
        for r in results:
            if not r.ok:
                self.post_message(ActionFailed(f"{branch}: {r.service}", start_failure(r)))
        if good:
            self.post_message(ActionDone("services", f"{branch}: " + ", ".join(good)))

    @work(thread=True, group="services")
    def _services_down_worker(self, branch: str) -> None:
        try:
            results = self.dash.services.down([branch])
        except WtparError as exc:
            self.post_message(ActionFailed("services", exc.message))
            return
        done = ", ".join(f"{r.service} {r.outcome.value}" for r in results)
        self.post_message(ActionDone("services", f"{branch}: {done or 'none were running'}"))


def start_failure(result: StartResult) -> str:
    """Why a service is not running, with the last lines of its log."""
    return "\n".join([result.why_not, *result.log_tail[-5:]])
