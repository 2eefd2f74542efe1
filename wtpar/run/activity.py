"""Knowing when work is done: `wtpar wait` blocks until no wtpar task runs in some worktrees,
from any process, and tells the outcome of the last run there.

A worktree is busy while a task runs in it (the busy records of wtpar/busy.py, the same
ones `remove` respects) or while a run that has tasks there has not finished: between two
attempts, or between a task and the one that depends on it, no task runs, yet the run is
not done. Each run marks itself with `runs/<run-id>/active.json` (its process id and
worktrees) from its first event until its report is written; a marker whose report exists
or whose process is gone counts for nothing, so a killed run never blocks `wait`.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from wtpar import busy
from wtpar.model import RunEvent, RunFinished, RunReport, TaskQueued
from wtpar.procs import pid_alive
from wtpar.run.runstore import RunStore
from wtpar.state import atomic_write_text, read_json

ACTIVE_FILE = "active.json"
MAX_RUNS_SCANNED = 500


class WaitOutcome(enum.Enum):
    """How `wtpar wait` ended for one worktree (and as a whole)."""

    OK = "ok"  # the last run there succeeded
    FAILED = "failed"  # the last run there had a task that did not succeed
    NO_RUN = "no-run"  # no run has ever had a task there
    TIMED_OUT = "timed-out"  # still busy when --timeout ran out


@dataclass(frozen=True)
class WorktreeOutcome:
    """One worktree's last run, as `wtpar wait` reports it."""

    path: str
    outcome: WaitOutcome
    run_id: str | None = None
    failed_tasks: tuple[str, ...] = ()
    ended: float | None = None


@dataclass(frozen=True)
class WaitResult:
    """What `wtpar wait` saw: the whole outcome, each worktree's, and what was still busy."""

    outcome: WaitOutcome
    worktrees: tuple[WorktreeOutcome, ...]
    busy: tuple[str, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # path -> branch (or `(folder)`)


class RunActivity:
    """A dispatcher subscriber that marks its run active, from its first event until its
    report is written (one small file per run, written once)."""

    def __init__(self, wtpar_dir: str, run_id: str, worktrees: Sequence[str]) -> None:
        self.path = os.path.join(RunStore(wtpar_dir).run_dir(run_id), ACTIVE_FILE)
        self.worktrees = list(dict.fromkeys(worktrees))
        self.marked = False

    def __call__(self, event: RunEvent) -> None:
        if isinstance(event, TaskQueued) and not self.marked:
            self.marked = True
            # Not durable: after a crash its process is gone, so it counts for nothing.
            marker = json.dumps({"pid": os.getpid(), "worktrees": self.worktrees})
            atomic_write_text(self.path, marker, durable=False)
        elif isinstance(event, RunFinished):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


def busy_paths(wtpar_dir: str, paths: Sequence[str]) -> list[str]:
    """Those of `paths` where a task runs now or an unfinished run has tasks."""
    wanted = {os.path.realpath(p): p for p in paths}
    busy_now = {real for real, p in wanted.items() if busy.running_tasks(wtpar_dir, p)} | (
        set(wanted) & _active_run_worktrees(wtpar_dir)
    )
    return [wanted[real] for real in wanted if real in busy_now]


def _active_run_worktrees(wtpar_dir: str) -> set[str]:
    store = RunStore(wtpar_dir)
    try:
        run_ids = os.listdir(store.root)
    except FileNotFoundError:
        return set()
    found: set[str] = set()
    for run_id in run_ids:
        marker = os.path.join(store.run_dir(run_id), ACTIVE_FILE)
        if not os.path.exists(marker) or os.path.exists(store.report_path(run_id)):
            continue
        data = read_json(marker, {})
        if not isinstance(data, dict) or not pid_alive(data.get("pid")):
            continue
        found.update(os.path.realpath(str(p)) for p in data.get("worktrees", []))
    return found


def last_outcomes(wtpar_dir: str, paths: Sequence[str]) -> list[WorktreeOutcome]:
    """The outcome of the latest run that had tasks in each of `paths`: its report's, or
    `failed` for a run whose process died before writing one (killed: it did not succeed,
    and an older run's `ok` must not stand for it)."""
    store = RunStore(wtpar_dir)
    left = {os.path.realpath(p): p for p in paths}
    found: dict[str, WorktreeOutcome] = {}
    try:
        run_ids = sorted(os.listdir(store.root), reverse=True)[:MAX_RUNS_SCANNED]
    except FileNotFoundError:
        run_ids = []
    for run_id in run_ids:
        if not left:
            break
        if not os.path.exists(store.report_path(run_id)):
            _take_killed(store, run_id, left, found)
            continue
        report = store.load(run_id)
        if report is not None:
            _take_outcomes(report, left, found)
    for real, path in left.items():
        found[real] = WorktreeOutcome(path, WaitOutcome.NO_RUN)
    return [found[os.path.realpath(p)] for p in paths]


def killed_runs_since(wtpar_dir: str, since: float) -> list[str]:
    """The runs whose tasks started after SINCE (a time) and whose process died before
    writing a report (killed): what they did is unknown, and `--failed` cannot run their
    failures again. (Run ids of one second do not sort by start: their markers' times do.)"""
    store = RunStore(wtpar_dir)
    try:
        run_ids = sorted(os.listdir(store.root), reverse=True)[:MAX_RUNS_SCANNED]
    except FileNotFoundError:
        return []
    found = []
    for run_id in run_ids:
        marker = os.path.join(store.run_dir(run_id), ACTIVE_FILE)
        with contextlib.suppress(OSError):
            if os.stat(marker).st_mtime > since and _killed_marker(store, run_id) is not None:
                found.append(run_id)
    return sorted(found)


def _killed_marker(store: RunStore, run_id: str) -> dict[str, object] | None:
    """A run's active marker if its process died before writing a report, else None."""
    marker = os.path.join(store.run_dir(run_id), ACTIVE_FILE)
    if not os.path.exists(marker) or os.path.exists(store.report_path(run_id)):
        return None  # not a run that started its tasks, or one that ended
    data = read_json(marker, {})
    if not isinstance(data, dict) or pid_alive(data.get("pid")):
        return None  # still running (`wait` timed out), or not a marker: no outcome yet
    return data


def _take_killed(
    store: RunStore, run_id: str, left: dict[str, str], found: dict[str, WorktreeOutcome]
) -> None:
    data = _killed_marker(store, run_id)
    if data is None:
        return
    worktrees = data.get("worktrees", [])
    for path in worktrees if isinstance(worktrees, list) else []:
        real = os.path.realpath(str(path))
        if real in left:
            found[real] = WorktreeOutcome(left.pop(real), WaitOutcome.FAILED, run_id)


def _take_outcomes(
    report: RunReport, left: dict[str, str], found: dict[str, WorktreeOutcome]
) -> None:
    by_path: dict[str, list[str]] = {}
    for task in report.tasks:
        real = os.path.realpath(task.worktree)
        if real not in left:
            continue
        failed = by_path.setdefault(real, [])
        one = RunReport(report.run_id, report.started, report.ended, report.jobs, (task,))
        if not one.ok:
            failed.append(task.key.task)
    for real, failed in by_path.items():
        outcome = WaitOutcome.FAILED if failed or report.interrupted else WaitOutcome.OK
        found[real] = WorktreeOutcome(
            left.pop(real), outcome, report.run_id, tuple(failed), report.ended
        )


def wait_until_idle(
    wtpar_dir: str,
    paths: Sequence[str],
    timeout: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, list[str]]:
    """Block until none of `paths` is busy; (True, []) then, or (False, busy paths) when
    `timeout` seconds passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.02
    while True:
        still = busy_paths(wtpar_dir, paths)
        if not still:
            return True, []
        if deadline is not None and time.monotonic() >= deadline:
            return False, still
        # Polling: the records live in several processes' flocks; a short capped backoff
        # keeps `wait` responsive without a watcher per worktree.
        pause = delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic()))
        sleep(pause)
        delay = min(delay * 2, 0.25)


def wait_for_worktrees(
    wtpar_dir: str, named: Mapping[str, str], timeout: float | None = None
) -> WaitResult:
    """`wtpar wait`: block until the worktrees (path -> name) are idle, or `timeout`."""
    paths = list(named)
    idle, busy = wait_until_idle(wtpar_dir, paths, timeout)
    results = last_outcomes(wtpar_dir, paths)
    return WaitResult(wait_outcome(results, not idle), tuple(results), tuple(busy), dict(named))


def wait_outcome(results: Sequence[WorktreeOutcome], timed_out: bool) -> WaitOutcome:
    """The outcome of a whole `wait`: timed out, else failed if any failed, else ok."""
    if timed_out:
        return WaitOutcome.TIMED_OUT
    if any(r.outcome is WaitOutcome.FAILED for r in results):
        return WaitOutcome.FAILED
    if results and all(r.outcome is WaitOutcome.NO_RUN for r in results):
        return WaitOutcome.NO_RUN
    return WaitOutcome.OK


class FinishedRuns:
    """Runs whose report appeared since the last look, from any process: the dashboard
    flashes the rows of the worktrees they ran in. The first look only takes stock."""

    def __init__(self, wtpar_dir: str) -> None:
        self.store = RunStore(wtpar_dir)
        self.seen: set[str] | None = None

    def poll(self) -> dict[str, WaitOutcome]:
        """Worktree path -> outcome, for the runs that finished since the last call."""
        try:
            run_ids = os.listdir(self.store.root)
        except FileNotFoundError:
            run_ids = []
        fresh = [
            r
            for r in sorted(run_ids)
            if (self.seen is None or r not in self.seen)
            and os.path.exists(self.store.report_path(r))
        ]
        first, self.seen = self.seen is None, (self.seen or set()) | set(fresh)
        found: dict[str, WorktreeOutcome] = {}
        if first:
            return {}
        for run_id in reversed(fresh):  # the newest run decides a worktree's outcome
            report = self.store.load(run_id)
            if report is not None:
                left = {os.path.realpath(t.worktree): t.worktree for t in report.tasks}
                left = {real: path for real, path in left.items() if real not in found}
                _take_outcomes(report, left, found)
        return {outcome.path: outcome.outcome for outcome in found.values()}
