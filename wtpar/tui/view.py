"""The dashboard's view model: plain data turned into the cells the widgets draw.

Kept free of Textual so the formatting rules are easy to test, and deterministic given
`now`, so snapshots are the same on every run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from wtpar.model import (
    BranchStatus,
    RunEvent,
    RunStatus,
    TaskFinished,
    TaskKey,
    TaskQueued,
    TaskRun,
    TaskStarted,
    Verdict,
    Worktree,
)
from wtpar.run.shards import TaskGroup
from wtpar.text import compact_seconds, terminal_safe
from wtpar.tui.fleet_view import elsewhere_cell, flash_style, holder_cell
from wtpar.tui.widgets.branch_table import Cell

if TYPE_CHECKING:
    from wtpar.worktrees.environment import EnvView
    from wtpar.worktrees.leases import Lease

Clock = Callable[[], float]

STATUS_STYLE = {
    RunStatus.OK: "green",
    RunStatus.FAILED: "red",
    RunStatus.TIMED_OUT: "red",
    RunStatus.CANCELLED: "yellow",
    RunStatus.SKIPPED: "dim",
    RunStatus.QUEUED: "cyan",
    RunStatus.RUNNING: "bold cyan",
}
VERDICT_STYLES = {
    Verdict.READY: "bold green",
    Verdict.BLOCKED: "bold red",
    Verdict.MERGED: "cyan",
    Verdict.NEW: "dim",
}
VERDICT_ORDER = {Verdict.BLOCKED: 0, Verdict.READY: 1, Verdict.NEW: 2, Verdict.MERGED: 3}


@dataclass
class TaskCell:
    """The live state of one task instance as the dashboard knows it."""

    status: RunStatus
    started: float | None = None
    ended: float | None = None
    exit_code: int | None = None
    attempt: int = 0
    reason: str | None = None
    log_path: str | None = None
    command: str = ""
    shards: str = ""  # "3/4 ok" when the cell stands for a sharded task's shards


@dataclass
class DashState:
    """Everything the dashboard shows, updated from refreshes and dispatcher events."""

    statuses: list[BranchStatus] = field(default_factory=list)
    tasks: dict[TaskKey, TaskCell] = field(default_factory=dict)
    task_names: list[str] = field(default_factory=list)
    verdicts: dict[str, Verdict] = field(default_factory=dict)
    marked: set[str] = field(default_factory=set)
    jobs: int = 0
    envs: dict[str, EnvView] = field(default_factory=dict)  # ports and services by path
    leases: dict[str, Lease] = field(default_factory=dict)  # holders by branch
    elsewhere: dict[str, list[str]] = field(default_factory=dict)  # other processes' tasks
    flashes: dict[str, tuple[float, bool]] = field(default_factory=dict)  # path: (when, ok)
    # The rows come from `git worktree list` alone; each worktree's status is being read.
    pending: bool = False

    def note_task(self, name: str) -> None:
        """Remember a task name so it gets a column, in order of first appearance."""
        if name not in self.task_names:
            self.task_names.append(name)

    def apply_run(self, run: TaskRun) -> None:
        """Record a finished (or final) task instance."""
        self.note_task(run.key.task)
        self.tasks[run.key] = TaskCell(
            run.status,
            run.started,
            run.ended,
            run.exit_code,
            run.attempts,
            run.reason,
            run.log_path,
            run.command,
        )

    def apply_event(self, event: RunEvent) -> None:
        """Update task states from one dispatcher event (output lines are the log's)."""
        if isinstance(event, TaskQueued):
            self.note_task(event.key.task)
            self.tasks[event.key] = TaskCell(RunStatus.QUEUED, command=event.command)
        elif isinstance(event, TaskStarted):
            previous = self.tasks.get(event.key)
            self.tasks[event.key] = TaskCell(
                RunStatus.RUNNING,
                event.time,
                attempt=event.attempt,
                command=previous.command if previous else "",
            )
        elif isinstance(event, TaskFinished):
            self.apply_run(event.run)

    def pool_counts(self) -> tuple[int, int]:
        """(running, queued) task instances."""
        running = sum(1 for c in self.tasks.values() if c.status is RunStatus.RUNNING)
        queued = sum(1 for c in self.tasks.values() if c.status is RunStatus.QUEUED)
        return running, queued

    def outcome_counts(self) -> tuple[int, int]:
        """(succeeded, failed or timed out) task instances."""
        ok = sum(1 for c in self.tasks.values() if c.status is RunStatus.OK)
        bad = sum(
            1 for c in self.tasks.values() if c.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
        )
        return ok, bad

    def failed_keys(self) -> list[TaskKey]:
        """Task instances whose last run failed or timed out."""
        return sorted(
            k for k, c in self.tasks.items() if c.status in (RunStatus.FAILED, RunStatus.TIMED_OUT)
        )

    def running_keys(self, branch: str | None = None) -> list[TaskKey]:
        """Task instances queued or running, optionally on one branch."""
        return sorted(
            k
            for k, c in self.tasks.items()
            if not c.status.finished and (branch is None or k.branch == branch)
        )


def branch_name(bs: BranchStatus) -> str:
    """The row's label: the branch, or the short path of a detached worktree."""
    return bs.worktree.branch or f"({os.path.basename(bs.worktree.path)})"


def listed_status(wt: Worktree) -> BranchStatus:
    """A row known from the worktree list alone (its status, base and upstream to come)."""
    return BranchStatus(wt, None, None, None, None, None, None, None, False, None, None, None)


PENDING = Cell("…", "dim")


def task_cell(state: DashState, branch: str, task: str) -> TaskCell | None:
    """The cell of a task on a branch; a sharded task's shards merged into one."""
    cell = state.tasks.get(TaskKey(branch, task))
    if cell is not None:
        return cell
    keys = [k for k in state.tasks if k.branch == branch and k.task == task and k.shard]
    if not keys:
        return None
    group = shard_group([(k, state.tasks[k]) for k in keys])
    return TaskCell(
        group.status,
        group.started,
        group.ended,
        attempt=max(state.tasks[k].attempt for k in keys),
        shards=f"{sum(state.tasks[k].status is RunStatus.OK for k in keys)}/{len(keys)} ok",
    )


def shard_group(cells: list[tuple[TaskKey, TaskCell]]) -> TaskGroup:
    """Shard cells as a TaskGroup, so the dashboard merges them as the reports do."""
    return TaskGroup(
        cells[0][0].branch,
        cells[0][0].task,
        tuple(
            TaskRun(k, c.command, "", c.status, c.exit_code, c.started, c.ended) for k, c in cells
        ),
    )


def task_cell_text(cell: TaskCell | None, now: float) -> Cell:
    """The cell of one task column."""
    if cell is None:
        return Cell("-", "dim")
    text, style = _task_text(cell, now)
    return Cell(f"{text} [{cell.shards}]" if cell.shards else text, style)


def _task_text(cell: TaskCell, now: float) -> tuple[str, str]:
    style = STATUS_STYLE[cell.status]
    if cell.status is RunStatus.RUNNING and cell.started is not None:
        return f"▶ {compact_seconds(max(0.0, now - cell.started))}", style
    if cell.status is RunStatus.QUEUED:
        return "queued", style
    label = {
        RunStatus.OK: "ok",
        RunStatus.FAILED: f"failed {cell.exit_code}" if cell.exit_code is not None else "failed",
        RunStatus.TIMED_OUT: "timeout",
        RunStatus.SKIPPED: "skipped",
        RunStatus.CANCELLED: "cancelled",
    }[cell.status]
    if cell.started is not None and cell.ended is not None and cell.status is not RunStatus.SKIPPED:
        label += f" {compact_seconds(cell.ended - cell.started)}"
    return label, style


def relative_path(path: str, root: str) -> str:
    """A worktree path relative to the folder holding the repository."""
    rel = os.path.relpath(path, os.path.dirname(root))
    return path if rel.startswith("..") else rel


FIXED_COLUMNS = ("branch", "path", "head", "dirty", "base", "upstream")
COLUMN_TITLES = {
    "branch": "Branch",
    "path": "Path",
    "head": "HEAD",
    "dirty": "Changes",
    "base": "Base ↑↓",
    "upstream": "Upstream",
    "ready": "Ready",
    "ports": "Ports",
    "holder": "Holder",
    "elsewhere": "Elsewhere",
    "services": "Services",
}


def services_style(view: EnvView) -> str:
    """Green while every service runs, red when one has exited, dim with none."""
    from wtpar.worktrees.devservices import ServiceState

    if not view.services:
        return "dim"
    running = all(s.state is ServiceState.RUNNING for s in view.services)
    return "green" if running else "red"


def env_columns(state: DashState) -> tuple[str, ...]:
    """The Ports and Services columns, once any worktree has ports or services."""
    if any(view.ports or view.services for view in state.envs.values()):
        return ("ports", "services")
    return ()


def row_cells(
    bs: BranchStatus, state: DashState, root: str, now: float
) -> dict[str, Cell]:
    """Every cell of one row, keyed by column."""
    name = branch_name(bs)
    wt = bs.worktree
    mark = "● " if name in state.marked else "  "
    flags = ""
    if wt.is_main:
        flags = " (main)"
    elif wt.prunable:
        flags = " (gone)"
    elif wt.locked:
        flags = " (locked)"
    elif bs.operation:
        flags = f" ({bs.operation})"
    shown = terminal_safe(name)  # names and paths: nothing in them steers the terminal
    cells = {
        "branch": Cell(mark + shown + flags, "bold" if name in state.marked else ""),
        "path": Cell(terminal_safe(relative_path(wt.path, root))),
        "head": Cell((wt.head or "")[:8] or "-", "dim"),
        "dirty": Cell(bs.changes_text(), "yellow" if bs.status and bs.status.dirty else "green"),
        "base": Cell(bs.base_text()),
        "upstream": Cell(bs.upstream_text(), "dim" if not bs.upstream else ""),
    }
    if state.pending:
        cells.update(dirty=PENDING, base=PENDING, upstream=PENDING)
    if state.leases:
        cells["holder"] = holder_cell(bs, state, now)
    if state.elsewhere:
        cells["elsewhere"] = elsewhere_cell(bs, state)
    flashed = flash_style(bs, state, now)
    if flashed:
        cells["branch"] = Cell(cells["branch"].text, flashed)
    view = state.envs.get(wt.path)
    if view is not None:
        cells["ports"] = Cell(view.ports_text())
        cells["services"] = Cell(view.services_text(), services_style(view))
    for task in state.task_names:
        cells[f"task:{task}"] = task_cell_text(task_cell(state, name, task), now)
    verdict = state.verdicts.get(name)
    style = VERDICT_STYLES.get(verdict, "dim") if verdict else "dim"
    cells["ready"] = Cell(verdict.value if verdict else "-", style)
    return cells


def sort_key(column: str, bs: BranchStatus, state: DashState) -> tuple[int, str | int | float]:
    """How rows order by `column` (unknown values last)."""
    if column == "branch":
        return (0, branch_name(bs))
    if column == "dirty":
        st = bs.status
        return (0, -(st.staged + st.modified + st.untracked) if st else 1)
    if column == "base":
        return (0, -(bs.behind or 0))
    if column == "ready":
        verdict = state.verdicts.get(branch_name(bs))
        return (0, VERDICT_ORDER.get(verdict, 3) if verdict else 3)
    if column == "holder":
        lease = state.leases.get(branch_name(bs))
        return (0 if lease else 1, lease.holder if lease else "")
    if column == "elsewhere":
        names = state.elsewhere.get(bs.worktree.path)
        return (0 if names else 1, ", ".join(names or ()))
    if column.startswith("task:"):
        cell = task_cell(state, branch_name(bs), column[5:])
        order = [RunStatus.FAILED, RunStatus.TIMED_OUT, RunStatus.RUNNING, RunStatus.QUEUED]
        return (0, order.index(cell.status) if cell and cell.status in order else len(order))
    return (0, str(row_value(column, bs)))


def row_value(column: str, bs: BranchStatus) -> str:
    """A column's raw value for sorting by text."""
    wt = bs.worktree
    return {"path": wt.path, "head": wt.head or "", "upstream": bs.upstream or ""}.get(column, "")


def visible(statuses: Iterable[BranchStatus], text: str) -> list[BranchStatus]:
    """Rows whose branch or path contains `text` (case-insensitive)."""
    needle = text.lower().strip()
    if not needle:
        return list(statuses)
    return [
        bs
        for bs in statuses
        if needle in branch_name(bs).lower() or needle in bs.worktree.path.lower()
    ]
