"""The dashboard app: holds the shared model (services, the dashboard state, the runs) and
routes; the main screen (main_screen.py) composes the widgets and holds every binding and
action.

Git queries run in thread workers and come back as messages; dispatcher runs live in the
app's own event loop and their events are coalesced into one redraw per ~0.1 s.
"""

from __future__ import annotations

import os
import time
from collections.abc import Coroutine
from typing import Any

from textual.app import App

from wtpar import notices
from wtpar.check.facts import CheckReport
from wtpar.model import RunEvent
from wtpar.services import Services
from wtpar.tui.main_screen import MainScreen
from wtpar.tui.runs import RunController
from wtpar.tui.view import Clock, DashState
from wtpar.tui.widgets.branch_table import BranchTable


class WtparApp(App[int]):
    """`wtpar dash`: every branch's state beside the merge-readiness summary."""

    TITLE = "wtpar"
    CSS_PATH = "dash.tcss"

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
        self.check_report: CheckReport | None = None
        self.runs = RunController(
            services, self.state.jobs, self.on_run_event, self._start_run_worker
        )
        self.runs.on_note = lambda text: self.notify(text, severity="warning", timeout=10)
        self.main = MainScreen()
        self._sink_before: notices.Sink | None = None

    def get_default_screen(self) -> MainScreen:
        return self.main

    def on_mount(self) -> None:
        self.sub_title = os.path.basename(self.services.paths.root)
        # The core's warnings (a damaged cache) become notifications, not text under the UI.
        self._sink_before = notices.set_sink(self._warn)

    def on_unmount(self) -> None:
        notices.set_sink(self._sink_before)

    def _warn(self, text: str) -> None:
        try:
            self.call_from_thread(self.notify, text, severity="warning", timeout=10)
        except RuntimeError:  # already on the app's own thread
            self.notify(text, severity="warning", timeout=10)

    def _start_run_worker(self, run: Coroutine[Any, Any, None]) -> object:
        return self.run_worker(run, group="runs")

    # -- routing: dispatcher events and the entry points tests and the CLI use -------------

    def on_run_event(self, event: RunEvent) -> None:
        """A dispatcher event: recorded now, drawn with the next coalesced flush."""
        self.main.record_run_event(event)

    @property
    def table(self) -> BranchTable:
        """The branch table of the main screen."""
        return self.main.table

    def selected_branch(self) -> str | None:
        """The branch under the cursor."""
        return self.main.selected_branch()

    def start_run(self, branches: list[str], text: str) -> None:
        """Start a run of `text` (task names or a command) on these branches."""
        self.main.start_run(branches, text)

    def redraw(self) -> None:
        """Redraw the main screen."""
        self.main.redraw()


def make_app(
    services: Services,
    now: Clock = time.time,
    refresh_interval: float | None = 5.0,
    jobs: int | None = None,
) -> WtparApp:
    """The one way to build the dashboard, used by `wtpar dash` and by every test."""
    return WtparApp(services, now=now, refresh_interval=refresh_interval, jobs=jobs)
