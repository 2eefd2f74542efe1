"""The dashboard app: holds the shared model (services, the dashboard state, the runs) and
routes; the main screen (main_screen.py) composes the widgets and holds every binding and
action.

Git queries run in thread workers and come back as messages; dispatcher runs live in the
app's own event loop and their events are coalesced into one redraw per ~0.1 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from textual.app import App

from wtpar import notices
from wtpar.model import RunEvent
from wtpar.services import Services
from wtpar.text import terminal_safe
from wtpar.tui.main_screen import MainScreen
from wtpar.tui.runs import RunController
from wtpar.tui.view import Clock, DashState
from wtpar.tui.widgets.branch_table import BranchTable

if TYPE_CHECKING:
    from textual.notifications import SeverityLevel

    from wtpar.check.facts import CheckReport


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
        self.runs.on_note = lambda text: self.notify(
            text, severity="warning", timeout=10, markup=False
        )
        self.main = MainScreen()
        self._sink_before: notices.Sink | None = None
        self._signals_before: dict[int, Any] = {}

    def get_default_screen(self) -> MainScreen:
        return self.main

    def on_mount(self) -> None:
        self.sub_title = terminal_safe(os.path.basename(self.services.paths.root))
        # The core's warnings (a damaged cache) become notifications, not text under the UI.
        self._sink_before = notices.set_sink(self._warn)
        # SIGTERM and SIGHUP (the terminal closed) end the dashboard as q does. The CLI's
        # handler raises instead, and raised inside one of Textual's tasks the exception
        # stays in that task: the app went on running, with no terminal, using CPU.
        if threading.current_thread() is threading.main_thread():
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                self._signals_before[sig] = signal.signal(
                    sig, lambda signum, _frame: self._terminated(loop, signum)
                )

    def on_unmount(self) -> None:
        notices.set_sink(self._sink_before)
        for sig, before in self._signals_before.items():
            signal.signal(sig, before)
        self._signals_before.clear()

    def _terminated(self, loop: asyncio.AbstractEventLoop, sig: int) -> None:
        """Cancel the runs, then exit with 128 + the signal's number (129 after SIGHUP)."""
        if sig == signal.SIGHUP:
            # The terminal is gone: what is still drawn goes nowhere, so that the shutdown
            # does not stop on writes the hung-up terminal refuses (the kernel's SIGCONT,
            # which follows, makes Textual set the terminal up again).
            nowhere = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(nowhere, fd)
            os.close(nowhere)
        loop.call_soon_threadsafe(self._cancel_and_exit, 128 + sig)

    def _cancel_and_exit(self, code: int) -> None:
        self.main.action_cancel_all()
        self.run_worker(self.main.exit_when_idle(code), group="quit")

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Every notification, from any screen, with what names and paths may hold (an
        escape sequence, U+2028) shown as escapes, as the table shows them."""
        message, title = terminal_safe(message), terminal_safe(title)
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def _warn(self, text: str) -> None:
        try:
            self.call_from_thread(self.notify, text, severity="warning", timeout=10, markup=False)
        except RuntimeError:  # already on the app's own thread
            self.notify(text, severity="warning", timeout=10, markup=False)

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
