"""The merge train, live: one row per combination as it is judged, what runs now, then how
the base ended and the culprits' logs. The train runs in the app's own event loop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from wtpar.land.plan import step_number
from wtpar.land.render import STEP_HEADERS, log_tail, step_row, step_rows
from wtpar.land.report import (
    LandEvent,
    LandReport,
    RoundStarted,
    StepJudged,
    TrainFinished,
)
from wtpar.model import RunEvent, TaskFinished, TaskStarted
from wtpar.text import plural

if TYPE_CHECKING:
    from wtpar.land.plan import LandPlan
    from wtpar.land.train import Train


class TrainScreen(Screen[LandReport | None]):
    """Runs one train and shows it; `c` stops it (the base stays as it was)."""

    BINDINGS = [
        Binding("c", "stop", "Stop"),
        Binding("escape", "close", "Back"),
    ]

    def __init__(self, train: Train) -> None:
        super().__init__()
        self.train = train
        self.plan: LandPlan = train.plan
        self.report: LandReport | None = None

    def compose(self) -> ComposeResult:
        plan = self.plan
        yield Static(
            f"Landing {plural(len(plan.order), 'branch')} into {plan.base} "
            f"({plan.strategy.value})".replace("branchs", "branches"),
            id="train-title",
        )
        yield DataTable(id="train-steps", cursor_type="row", zebra_stripes=True)
        yield Static("starting…", id="train-status")
        with VerticalScroll(id="train-result-box"):
            yield Static("", id="train-result")
        yield Footer()

    def on_mount(self) -> None:
        """Start the train at once; its events draw the table."""
        table = self.query_one(DataTable)
        for header in STEP_HEADERS:
            table.add_column(header, key=header)
        self.train.subscribe(self.on_train_event)
        self.run_worker(self._run(), group="land", exclusive=True)

    async def _run(self) -> None:
        report = await self.train.run()
        self.report = report

    @property
    def running(self) -> bool:
        """True until the train has ended."""
        return self.report is None

    def on_train_event(self, event: LandEvent | RunEvent) -> None:
        """A land or task event (called on the loop, in order): rows appear when a round
        starts, and change as their checks start, finish and are judged."""
        status = self.query_one("#train-status", Static)
        table = self.query_one(DataTable)
        if isinstance(event, RoundStarted):
            on = event.prefix[-1] if event.prefix else self.plan.base
            status.update(
                f"round {event.number}: {plural(len(event.branches), 'combination')} on {on}"
            )
            for i, branch in enumerate(event.branches):
                row_key = str(event.first_step + i)
                table.add_row(row_key, branch, "-", "queued", "", key=row_key)
        elif isinstance(event, TaskStarted | TaskFinished):
            key = event.key if isinstance(event, TaskStarted) else event.run.key
            step = step_number(key.branch)
            if step is None:
                return
            if isinstance(event, TaskStarted):
                cell = f"{key.task} running"
                status.update(f"running {key}")
            else:
                cell = f"{key.task} {event.run.status.value}"
            table.update_cell(str(step), "checks", cell, update_width=True)
        elif isinstance(event, StepJudged):
            row = step_row(event.number, event.step, self.plan, None, False)
            for header, value in zip(STEP_HEADERS[2:], row[2:], strict=True):
                table.update_cell(str(event.number), header, value, update_width=True)
        elif isinstance(event, TrainFinished):
            self._show_result(event.report)

    def _show_result(self, report: LandReport) -> None:
        table = self.query_one(DataTable)
        rows = step_rows(report)
        # The final words are wider than the live ones: the columns are made again to fit.
        table.clear(columns=True)
        for i, header in enumerate(STEP_HEADERS):
            width = max([len(header), *(len(row[i]) for row in rows)])
            table.add_column(header, key=header, width=width)
        for row in rows:
            table.add_row(*row, key=row[0])
        self.query_one("#train-status", Static).update(
            Text(report.landing_text(), style="bold green" if report.ok else "bold yellow")
        )
        lines = Text()
        for culprit in report.culprits:
            lines.append(
                f"{culprit.branch}: {culprit.failed_task} failed once combined; left out\n",
                style="bold red",
            )
            for line in log_tail(culprit.log_path):
                lines.append(f"  | {line}\n")
        for branch, why in report.plan.left_out:
            lines.append(f"{branch}: left out ({why})\n", style="dim")
        lines.append("\nEscape: back to the table", style="dim")
        self.query_one("#train-result", Static).update(lines)

    def action_stop(self) -> None:
        """Stop the train: running checks are cancelled, nothing lands."""
        if self.running:
            self.train.interrupt()
            self.query_one("#train-status", Static).update("stopping…")

    def action_close(self) -> None:
        """Back to the table once the train has ended."""
        if self.running:
            self.notify("The train is still running: c stops it.", severity="warning")
            return
        self.dismiss(self.report)
