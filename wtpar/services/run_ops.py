"""Runs through the facade: planning, the dispatcher and its executor, waiting, notifying,
tuning; imported lazily so that `wtpar list` never loads asyncio."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from wtpar.errors import Interrupted, UsageError
from wtpar.notices import warn
from wtpar.services.base import default_jobs
from wtpar.services.env_ops import EnvOps
from wtpar.worktrees import worktree_name

if TYPE_CHECKING:
    from wtpar.model import RunEvent, RunReport, TaskKey, TaskSpec, Worktree
    from wtpar.notify import NotifyOutcome, Sent
    from wtpar.run.activity import FinishedRuns, WaitResult
    from wtpar.run.dispatch import Dispatcher, DispatchOptions
    from wtpar.run.executor import Executor
    from wtpar.run.plan import RunPlan, RunRequest, WorktreeInfo
    from wtpar.run.results import ResultStore
    from wtpar.run.tune import TuneRow


class RunOps(EnvOps):
    """Runs through the facade: planning, the dispatcher and its executor, waiting, notifying,"""

    # -- runs (the dispatcher); imported lazily so `wtpar list` never loads asyncio ----------

    def load_tasks(self) -> dict[str, TaskSpec]:
        """The configured `[tasks.*]`, checked (ConfigError with file:line otherwise)."""
        from wtpar.run.taskconfig import parse_tasks

        return parse_tasks(self.config)

    def plan_run(self, request: RunRequest) -> RunPlan:
        """The task instances `request` would run (UsageError/ConfigError before anything runs).

        With `changed`, the worktrees used by the plan have their cleanliness read first, so
        what already passed at a clean HEAD is skipped; otherwise it is read during the run
        (`make_dispatcher`), for recording results.
        """
        from concurrent.futures import ThreadPoolExecutor
        from dataclasses import replace

        from wtpar.procs import workers
        from wtpar.run.plan import build_plan
        from wtpar.run.results import ResultStore

        specs = self.load_tasks() if request.task_names or request.failed_only else {}
        only = None
        if request.failed_only:
            request, only = self._failed_request(request)
        every = self.listed_worktrees()  # one `git worktree list` for the whole plan
        infos = self._worktree_infos(every)
        self._refuse_missing_folders(request.branches, every)
        if not request.changed:
            return build_plan(specs, request, infos, only=only)
        draft = build_plan(specs, request, infos, only=only)
        used = sorted({i.worktree.path for i in draft.instances})
        with ThreadPoolExecutor(workers(len(used))) as pool:
            clean = dict(zip(used, pool.map(self._is_clean, used), strict=True))
        store = ResultStore(self.paths.wtpar_dir)
        trees = self._tested_trees(infos, clean, store)
        infos = [
            replace(wt, clean=clean.get(wt.path, False), tree=trees.get(wt.path)) for wt in infos
        ]

        def lookup(task: str, command: str, tree: str) -> tuple[bool, str] | None:
            found = store.lookup(task, command, tree=tree)
            if found is None:
                return None
            return found.passed, f"run {found.run_id} on {found.branch}"

        return build_plan(specs, request, infos, lookup=lookup, only=only)

    def _tested_trees(
        self, infos: Sequence[WorktreeInfo], clean: dict[str, bool], store: ResultStore
    ) -> dict[str, str | None]:
        """The tree each used worktree would test: HEAD's when clean, else its working
        state's (untracked files included), computed without touching its index."""
        from concurrent.futures import ThreadPoolExecutor

        from wtpar.procs import workers
        from wtpar.run.treekey import working_tree

        used = [wt for wt in infos if wt.path in clean and wt.head]
        heads = store.trees([wt.head or "" for wt in used if clean[wt.path]])
        trees = {wt.path: heads.get(wt.head or "") for wt in used if clean[wt.path]}
        dirty = [wt.path for wt in used if not clean[wt.path]]
        scratch = os.path.join(self.paths.wtpar_dir, "tmp")
        with ThreadPoolExecutor(workers(len(dirty))) as pool:
            trees.update(
                zip(dirty, pool.map(lambda p: working_tree(p, scratch), dirty), strict=True)
            )
        return trees

    def make_dispatcher(
        self,
        request: RunRequest,
        run_id: str | None = None,
        on_note: Callable[[str], None] | None = None,
    ) -> Dispatcher:
        """A Dispatcher for `request`, ready to `await run()` in any event loop.

        The dashboard: `d = services.make_dispatcher(req); d.subscribe(cb); await d.run()`,
        with `d.cancel(key)` / `d.cancel_all()` from its key bindings. `on_note` receives
        warnings for the user (a Dask scheduler reached without TLS, say).
        """
        from dataclasses import replace

        from wtpar.run import aio

        aio.load()  # before the modules below import asyncio: without OpenSSL
        from wtpar.run.activity import RunActivity
        from wtpar.run.cleanliness import CleanReads
        from wtpar.run.dispatch import Dispatcher, DispatchOptions
        from wtpar.run.history import History
        from wtpar.run.results import ResultStore
        from wtpar.run.runconfig import backend_of, parse_run_settings
        from wtpar.run.runstore import new_run_id

        settings = parse_run_settings(self.config)
        plan = self.plan_run(request)
        history = History(self.paths.wtpar_dir)
        jobs, note = request.jobs or settings.jobs or default_jobs(), None
        if request.auto_jobs or (request.jobs is None and settings.auto_jobs):
            from wtpar.run.autojobs import auto_jobs

            choice = auto_jobs(
                plan, history, self.paths.wtpar_dir, request.task_names, request.command
            )
            jobs, note = choice.jobs, f"-j auto chose {choice.jobs}: {choice.why}"
        options = DispatchOptions(
            jobs=jobs,
            stagger=request.stagger,
            fail_fast=request.fail_fast,
            max_memory_percent=settings.max_memory_percent,
            jobs_note=note,
        )
        run_id = run_id or new_run_id()
        executor = None
        if request.backend is None and request.scheduler is None:
            request = replace(request, backend=self.backend, scheduler=self.scheduler)
        if backend_of(self.config, request.backend) == "dask":
            # On a cluster, only a -j the user chose caps the tasks in flight.
            cap = jobs if request.jobs or settings.jobs or note else None
            paths = [i.worktree.path for i in plan.instances if i.skip is None]
            executor = self._dask_executor(request, run_id, options, cap, paths, on_note)
        results = ResultStore(self.paths.wtpar_dir)
        clean_reads = None
        if not request.changed:
            # Recording keys results on the trees of the HEADs: read them during the run.
            heads = [i.worktree.head for i in plan.instances if i.worktree.head]
            clean_reads = CleanReads(
                self._is_clean, options.jobs, prepare=lambda: results.trees(heads)
            )
        dispatcher = Dispatcher(
            plan,
            self.paths.wtpar_dir,
            options,
            executor=executor,
            run_id=run_id,
            results=results,
            history=history,
            clean_reads=clean_reads,
        )
        if clean_reads is not None:
            dispatcher.subscribe(clean_reads)  # the reads start after the first wave
        # `wtpar wait` in any process sees this run until its report is written.
        worktrees = [i.worktree.path for i in plan.instances]
        dispatcher.subscribe(RunActivity(self.paths.wtpar_dir, dispatcher.run_id, worktrees))
        return dispatcher

    def wait(self, names: Sequence[str] = (), timeout: float | None = None) -> WaitResult:
        """Block until no task runs (and no run is unfinished) in the worktrees of NAMES
        (default: every worktree); their last runs' outcomes."""
        from wtpar.run.activity import wait_for_worktrees

        wts = [self.worktrees.find(n) for n in dict.fromkeys(names)] or [
            wt for wt in self.worktrees.worktrees() if not wt.bare and not wt.prunable
        ]
        named = {wt.path: worktree_name(wt) for wt in wts}
        return wait_for_worktrees(self.paths.wtpar_dir, named, timeout)

    def finished_runs(self) -> FinishedRuns:
        """A watch on runs finishing in any process (the dashboard's row flashes)."""
        from wtpar.run.activity import FinishedRuns

        return FinishedRuns(self.paths.wtpar_dir)

    def tasks_elsewhere(self, paths: Sequence[str]) -> dict[str, list[str]]:
        """Path -> the tasks other wtpar processes (agents' runs) are running there now."""
        from wtpar.busy import tasks_elsewhere

        return tasks_elsewhere(self.paths.wtpar_dir, paths)

    def slots_held(self, jobs: int) -> int:
        """How many of the shared pool's first `jobs` slots any wtpar process holds now."""
        from wtpar.run.pool import slots_held

        return slots_held(self.paths.wtpar_dir, jobs)

    def notify(self, what: str, outcome: NotifyOutcome, summary: str) -> Sent:
        """Announce that WHAT finished: `[notify] command`, else notify-send."""
        from wtpar.notify import Notification, send

        return send(self.config, Notification(what, outcome, summary), self.paths.root)

    def _dask_executor(
        self,
        request: RunRequest,
        run_id: str,
        options: DispatchOptions,
        cap: int | None,
        worktrees: list[str],
        on_note: Callable[[str], None] | None,
    ) -> Executor:
        """The Dask executor (`distributed` is imported only here, on the Dask path)."""
        from wtpar.run.dask.executor import DaskExecutor
        from wtpar.run.dask.settings import dask_settings

        return DaskExecutor(
            dask_settings(self.config, request.scheduler),
            self.paths.root,
            self.paths.common_dir,
            run_id,
            jobs=cap,
            local_workers=options.jobs,
            grace=options.grace,
            drain=options.drain,
            on_note=on_note or (lambda text: None),
            worktrees=worktrees,
        )

    def run(
        self, request: RunRequest, on_event: Callable[[RunEvent], None] | None = None
    ) -> RunReport:
        """Plan and run `request`, blocking; Ctrl-C handling when called on the main thread.

        `wtpar check` runs its check tasks with
        `services.run(RunRequest(task_names=(...), branches=(...), changed=True))`.
        """
        from wtpar.run.runner import run_sync

        dispatcher = self.make_dispatcher(request)
        if on_event is not None:
            dispatcher.subscribe(on_event)
        report = run_sync(dispatcher)
        if dispatcher.interrupted and not report.interrupted:
            # A signal after the last task ended, as the run recorded its results: the
            # caller stops too (report.json keeps the tasks' own outcome).
            from dataclasses import replace

            return replace(report, interrupted=True, signal=dispatcher.signal)
        return report

    def tune(
        self,
        request: RunRequest,
        jobs: Sequence[int],
        staggers: Sequence[float],
        on_measured: Callable[[int, float, RunReport], None] | None = None,
    ) -> tuple[list[TuneRow], TuneRow | None]:
        """Run `request` at every -j and stagger, measure each, and record the -j worth
        using for `-j auto` (`wtpar tune`); Interrupted, recording nothing, on a signal."""
        from dataclasses import replace

        from wtpar.run.tune import TuneRecords, recommend, selection_key, tune_rows

        measured = []
        for stagger in staggers:
            for j in jobs:
                report = self.run(replace(request, jobs=j, auto_jobs=False, stagger=stagger))
                if report.interrupted:
                    # Stopped by the user: no further setting, no recommendation.
                    raise Interrupted(report.signal or "SIGINT")
                measured.append((j, stagger, report))
                if on_measured is not None:
                    on_measured(j, stagger, report)
        rows = tune_rows(measured)
        chosen = recommend(rows)
        if chosen is not None:
            key = selection_key(request.task_names, request.command)
            TuneRecords(self.paths.wtpar_dir).record(key, chosen.jobs, chosen.stagger)
        return rows, chosen

    def last_run_report(self) -> RunReport | None:
        """The report of the latest run on this repository, if any."""
        from wtpar.run.runstore import RunStore

        return RunStore(self.paths.wtpar_dir).last_report()

    def _refuse_missing_folders(self, names: Sequence[str], every: Sequence[Worktree]) -> None:
        """A branch named with `-b` whose worktree folder was deleted: say so, as `exec` and
        `path` do, rather than "no worktree"."""
        missing = {wt.branch for wt in every if wt.prunable and wt.branch}
        for name in names:
            if name in missing:
                self.worktrees.find_present(name)

    def _worktree_infos(self, every: Sequence[Worktree]) -> list[WorktreeInfo]:
        from wtpar.run.plan import WorktreeInfo

        wts = [wt for wt in every if not wt.bare and not wt.prunable]
        envs: dict[str, dict[str, str]] = {}
        # Asked of the configuration itself: without [env], environments are never loaded.
        if self.config.env.ports or self.config.env.vars:
            envs = self.environments.ensure([(wt.branch, wt.path) for wt in wts if wt.branch])
        return [
            WorktreeInfo(
                branch=worktree_name(wt),
                path=wt.path,
                head=wt.head,
                is_main=wt.is_main,
                env=tuple(envs.get(wt.branch or "", {}).items()),
            )
            for wt in wts
        ]

    def _is_clean(self, path: str) -> bool:
        # A hidden change (assume-unchanged, skip-worktree) is a change `status` does not see.
        counts = self.git.status(path)
        return counts is not None and not counts.dirty and not self.git.hidden_changes(path)

    def _failed_request(self, request: RunRequest) -> tuple[RunRequest, list[TaskKey]]:
        """The request that re-runs what did not succeed in the last run, and those keys."""
        from dataclasses import replace

        from wtpar.run.taskconfig import ADHOC_TASK

        last = self.last_run_report()
        if last is None:
            raise UsageError("--failed: there is no previous run on this repository")
        from wtpar.run.activity import killed_runs_since

        killed = killed_runs_since(self.paths.wtpar_dir, last.started)
        if killed:
            warn(
                f"run {killed[-1]} was killed before it wrote its report: what failed there "
                f"is unknown; --failed runs again what did not succeed in run {last.run_id}"
            )
        again = [t for t in last.tasks if t.rerun_wanted]
        keys = [t.key for t in again]
        named = tuple(dict.fromkeys(t.key.task for t in again if t.key.task != ADHOC_TASK))
        adhoc = tuple((t.key.branch, t.command) for t in again if t.key.task == ADHOC_TASK)
        branches = tuple(dict.fromkeys(t.key.branch for t in again))
        return (
            replace(
                request,
                task_names=named,
                command=None,
                per_branch=adhoc,
                branches=branches,
                failed_only=False,
            ),
            keys,
        )
