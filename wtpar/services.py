"""The one facade both adapters (the CLI and the dashboard) call: it finds the repository,
reads its configuration once, and hands out the core's operations."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from wtpar.config import Config, load_config
from wtpar.errors import UsageError
from wtpar.git import Git, RepoPaths, discover
from wtpar.model import (
    BranchStatus,
    PruneResult,
    RemoveResult,
    SpawnResult,
    TaskKey,
    Worktree,
)
from wtpar.worktrees import WorktreeManager, worktree_name
from wtpar.worktrees.leases import DEFAULT_TTL, Lease, LeaseStore

if TYPE_CHECKING:
    from wtpar.check.facts import CheckReport, CheckRunner
    from wtpar.land.diff import BranchDiff
    from wtpar.land.plan import LandPlan, Strategy
    from wtpar.land.report import LandReport
    from wtpar.land.train import Train, TrainSubscriber
    from wtpar.land.update import UpdateResult
    from wtpar.model import RunEvent, RunReport, TaskSpec
    from wtpar.notify import NotifyOutcome, Sent
    from wtpar.run.activity import FinishedRuns, WaitResult
    from wtpar.run.dispatch import Dispatcher, DispatchOptions
    from wtpar.run.executor import Executor
    from wtpar.run.plan import RunPlan, RunRequest, WorktreeInfo
    from wtpar.run.results import ResultStore
    from wtpar.run.tune import TuneRow
    from wtpar.worktrees.devservices import ServiceStatus, ServiceStore, StartResult, StopResult
    from wtpar.worktrees.environment import Environments, EnvView
    from wtpar.worktrees.handout import Handout
    from wtpar.worktrees.spares import Spare
    from wtpar.worktrees.sync import SyncResult


class Services:
    """Everything wtpar can do on one repository."""

    def __init__(self, paths: RepoPaths, config: Config | None = None) -> None:
        self.paths = paths
        self._config = config
        self.backend: str | None = None  # for runs whose request names none (`dash --backend`)
        self.scheduler: str | None = None

    @classmethod
    def from_cwd(cls, start: str | os.PathLike[str] = ".") -> Services:
        """Services for the repository containing `start`."""
        return cls(discover(start))

    def report_stray_tasks(self) -> None:
        """Warn about tasks that a killed wtpar run left running (see run/watchdog.py)."""
        record_dir = os.path.join(self.paths.wtpar_dir, "watch")
        if not os.path.isdir(record_dir):
            return  # the usual case, and `wtpar list` pays one stat for it
        from wtpar.notices import warn
        from wtpar.run.watchdog import stray_tasks

        for wtpar_pid, groups in stray_tasks(record_dir):
            ids = ", ".join(str(g) for g in groups)
            warn(
                f"tasks of a wtpar run that was killed (pid {wtpar_pid}) are still running: "
                f"process group{'s' if len(groups) > 1 else ''} {ids}; stop them with: "
                f"kill -TERM {' '.join(f'-{g}' for g in groups)}"
            )

    @property
    def config(self) -> Config:
        """The repository's configuration, read on first use."""
        if self._config is None:
            self._config = load_config(self.paths.root)
        return self._config

    @cached_property
    def git(self) -> Git:
        """git commands on this repository."""
        return Git(self.paths)

    @cached_property
    def worktrees(self) -> WorktreeManager:
        """The worktree manager."""
        return WorktreeManager(self.paths, self.config)

    def spawn(self, branches: Sequence[str], from_ref: str | None = None) -> list[SpawnResult]:
        """Create worktrees for `branches`."""
        return self.worktrees.spawn(branches, from_ref)

    def list_worktrees(self) -> list[BranchStatus]:
        """Status of every worktree."""
        return self.worktrees.statuses()

    def remove(
        self, branches: Sequence[str], force: bool = False, delete_branch: bool = False
    ) -> list[RemoveResult]:
        """Remove worktrees."""
        return self.worktrees.remove(branches, force, delete_branch)

    def prune(self, merged: bool = False, dry_run: bool = False) -> PruneResult:
        """Prune stale (and, with `merged`, integrated) worktrees."""
        return self.worktrees.prune(merged, dry_run)

    # -- leases (wtpar/worktrees/leases.py) ------------------------------------------------

    @cached_property
    def lease_store(self) -> LeaseStore:
        """Who holds which worktree."""
        return LeaseStore(self.paths.wtpar_dir)

    def leases(self) -> dict[str, Lease]:
        """Unexpired leases by branch."""
        return self.lease_store.active()

    def claim(self, branch: str, by: str, ttl: float = DEFAULT_TTL, note: str = "") -> Lease:
        """Claim BRANCH's worktree for BY (LeaseHeldError when someone else holds it)."""
        wt = self.worktrees.find(branch)
        return self.lease_store.claim(wt.branch or branch, by, ttl, note)

    def release(self, branch: str, by: str | None = None) -> Lease | None:
        """Release BRANCH's lease (refused when BY is given and someone else holds it)."""
        return self.lease_store.release(branch, by)

    def spawn_claimed(
        self,
        branches: Sequence[str],
        by: str,
        from_ref: str | None = None,
        ttl: float = DEFAULT_TTL,
        note: str = "",
    ) -> list[SpawnResult]:
        """Spawn BRANCHES and claim each for BY; one held by someone else fails, untouched."""
        from wtpar.worktrees.handout import spawn_claimed

        return spawn_claimed(self.worktrees, self.lease_store, branches, by, from_ref, ttl, note)

    def claim_any(
        self,
        by: str,
        from_ref: str | None = None,
        branch: str | None = None,
        ttl: float = DEFAULT_TTL,
        note: str = "",
    ) -> Handout:
        """A worktree for BY on a new branch: a warm spare when one is ready, else spawned."""
        from wtpar.worktrees.handout import claim_any

        return claim_any(self.worktrees, self.lease_store, by, from_ref, branch, ttl, note)

    # -- the warm pool of spare worktrees (wtpar/worktrees/warm_pool.py) -------------------

    def spares(self) -> list[Spare]:
        """The warm pool's spares, oldest first."""
        from wtpar.worktrees.spares import SpareState, SpareStore

        return [
            s for s in SpareStore(self.paths.wtpar_dir).all() if s.state is not SpareState.TAKEN
        ]

    def fill_pool(self, count: int, from_ref: str | None = None, wait: bool = False) -> list[Spare]:
        """Add COUNT spares at FROM_REF (default: the base), set up in the background."""
        from wtpar.worktrees.warm_pool import fill

        ref = from_ref or self.worktrees.base_ref(self.worktrees.worktrees())
        return fill(self.paths, self.config, count, ref, background=not wait)

    def drain_pool(self) -> list[Spare]:
        """Remove every spare of the warm pool."""
        from wtpar.worktrees.warm_pool import drain

        return drain(self.paths)

    def path_of(self, branch: str) -> str:
        """The path of BRANCH's worktree (an error when its folder is missing)."""
        return self.worktrees.find_present(branch).path

    def run_name(self, name: str) -> str:
        """The name `run` knows a worktree by (its branch, or `(folder)` when detached), from
        a branch, a path or a detached worktree's folder name; its folder must exist."""
        return worktree_name(self.worktrees.find_present(name))

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
        infos = self._worktree_infos()
        self._refuse_missing_folders(request.branches)
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

        from wtpar.run.activity import RunActivity
        from wtpar.run.cleanliness import CleanReads
        from wtpar.run.dask.settings import backend_of
        from wtpar.run.dispatch import Dispatcher, DispatchOptions
        from wtpar.run.history import History
        from wtpar.run.results import ResultStore
        from wtpar.run.runconfig import parse_run_settings
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
            executor = self._dask_executor(request, run_id, options, on_note)
        dispatcher = Dispatcher(
            plan,
            self.paths.wtpar_dir,
            options,
            executor=executor,
            run_id=run_id,
            results=ResultStore(self.paths.wtpar_dir),
            history=history,
            clean_reads=None if request.changed else CleanReads(self._is_clean),
        )
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

    def notify(self, what: str, outcome: NotifyOutcome, summary: str) -> Sent:
        """Announce that WHAT finished: `[notify] command`, else notify-send."""
        from wtpar.notify import Notification, send

        return send(self.config, Notification(what, outcome, summary), self.paths.root)

    def _dask_executor(
        self,
        request: RunRequest,
        run_id: str,
        options: DispatchOptions,
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
            jobs=request.jobs,
            local_workers=options.jobs,
            grace=options.grace,
            drain=options.drain,
            on_note=on_note or (lambda text: None),
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
        return run_sync(dispatcher)

    def tune(
        self,
        request: RunRequest,
        jobs: Sequence[int],
        staggers: Sequence[float],
        on_measured: Callable[[int, float, RunReport], None] | None = None,
    ) -> tuple[list[TuneRow], TuneRow | None]:
        """Run `request` at every -j and stagger, measure each, and record the -j worth
        using for `-j auto` (`wtpar tune`)."""
        from dataclasses import replace

        from wtpar.run.tune import TuneRecords, recommend, selection_key, tune_rows

        measured = []
        for stagger in staggers:
            for j in jobs:
                report = self.run(replace(request, jobs=j, auto_jobs=False, stagger=stagger))
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

    def _refuse_missing_folders(self, names: Sequence[str]) -> None:
        """A branch named with `-b` whose worktree folder was deleted: say so, as `exec` and
        `path` do, rather than "no worktree"."""
        missing = {wt.branch for wt in self.worktrees.worktrees() if wt.prunable and wt.branch}
        for name in names:
            if name in missing:
                self.worktrees.find_present(name)

    def _worktree_infos(self) -> list[WorktreeInfo]:
        from wtpar.run.plan import WorktreeInfo

        wts = [wt for wt in self.worktrees.worktrees() if not wt.bare and not wt.prunable]
        envs: dict[str, dict[str, str]] = {}
        if self.environments.configured:
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
        counts = self.git.status(path)
        return counts is not None and not counts.dirty

    def _failed_request(self, request: RunRequest) -> tuple[RunRequest, list[TaskKey]]:
        """The request that re-runs what did not succeed in the last run, and those keys."""
        from dataclasses import replace

        from wtpar.run.taskconfig import ADHOC_TASK

        last = self.last_run_report()
        if last is None:
            raise UsageError("--failed: there is no previous run on this repository")
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

    # -- merge readiness (`wtpar check`) -------------------------------------------------

    def check(
        self,
        branches: Sequence[str] = (),
        base: str | None = None,
        fetch: bool = False,
        run: bool = True,
        on_event: Callable[[RunEvent], None] | None = None,
        runner: CheckRunner | None = None,
        use_stdin: bool | None = None,
    ) -> CheckReport:
        """Judge BRANCHES (default: every worktree's branch but main's) against the base.

        With `run`, the configured `[check] tasks` missing a result at a clean HEAD run first
        through the dispatcher (`runner` replaces it); `fetch` updates the base's remote first.
        """
        from wtpar.check.facts import fetch_base, parse_check_config, run_check
        from wtpar.run.treekey import result_command

        settings = parse_check_config(self.config)
        specs = self.load_tasks() if settings.tasks else {}
        for name in settings.tasks:
            if name not in specs:
                known = ", ".join(sorted(specs)) or "none are configured"
                raise self.config.error(
                    f"check.tasks: unknown task {name!r} (tasks: {known})", "tasks ="
                )
        base_name = base or settings.base
        if base_name is None:
            try:
                base_name = self.worktrees.base_ref(self.worktrees.worktrees())
            except UsageError:
                raise UsageError("cannot tell the base (HEAD is detached): use --base") from None
        notes = []
        if fetch:
            note = fetch_base(self.git, base_name)
            if note:
                notes.append(note)

        def through_dispatcher(task_names: Sequence[str], targets: Sequence[str]) -> None:
            from wtpar.run.plan import RunRequest

            request = RunRequest(
                task_names=tuple(task_names), branches=tuple(targets), changed=True
            )
            done = self.run(request, on_event)
            if done.interrupted:
                # Stopped by a signal: no verdict on half the evidence.
                from wtpar.errors import Interrupted

                raise Interrupted(done.signal or "SIGINT")

        report = run_check(
            self.git,
            base_name,
            settings,
            # As results know each task: its command with a digest of its env.
            {name: result_command(specs[name].cmd, specs[name].env) for name in settings.tasks},
            branches,
            runner=(runner or through_dispatcher) if run else None,
            use_stdin=use_stdin,
        )
        if notes:
            from dataclasses import replace

            report = replace(report, notes=(*notes, *report.notes))
        return report

    # -- landing (`wtpar land`, `wtpar update`) -------------------------------------------

    def land_base(self, into: str | None = None) -> str:
        """The branch a land moves: --into, else the base of `check`; it must be a local
        branch."""

        base = into or self._default_base()
        if not self.git.local_branch_exists(base):
            raise UsageError(f"land moves a local branch, and {base!r} is not one (use --into)")
        return base

    def _default_base(self) -> str:
        from wtpar.check.facts import parse_check_config

        configured = parse_check_config(self.config).base
        return configured or self.worktrees.base_ref(self.worktrees.worktrees())

    def land_plan(
        self,
        branches: Sequence[str] = (),
        into: str | None = None,
        strategy: Strategy | None = None,
        run: bool = True,
        on_event: Callable[[RunEvent], None] | None = None,
    ) -> LandPlan:
        """The plan of a land: `check`'s ready branches (or BRANCHES) in its suggested order."""
        from wtpar.check.facts import parse_check_config
        from wtpar.land.cleanup import refuse_dirty_base
        from wtpar.land.plan import Strategy
        from wtpar.land.select import make_plan

        base = self.land_base(into)
        refuse_dirty_base(self.git, self.worktrees, base)
        report = self.check(branches, base=base, run=run, on_event=on_event)
        tasks = parse_check_config(self.config).tasks
        return make_plan(report, branches, strategy or Strategy.MERGE, tasks, run)

    def make_train(self, plan: LandPlan, jobs: int | None = None, push: bool = False) -> Train:
        """A merge train for PLAN, ready to `await run()` (the dashboard) or run_train_sync."""
        from wtpar.land.train import Train, TrainSettings

        main = next((i for i in self._worktree_infos() if i.is_main), None)
        where = next((wt.path for wt in self.worktrees.worktrees() if wt.branch == plan.base), None)
        specs = self.load_tasks() if plan.run_checks else {}
        settings = TrainSettings(jobs or default_jobs(), specs, main, where, push)
        return Train(self.git, plan, settings)

    def land(
        self,
        plan: LandPlan,
        jobs: int | None = None,
        push: bool = False,
        cleanup: bool = False,
        on_event: TrainSubscriber | None = None,
    ) -> LandReport:
        """Run the train of PLAN and land what passes; Ctrl-C handling on the main thread."""
        from wtpar.land.train import run_train_sync

        train = self.make_train(plan, jobs, push)
        if on_event is not None:
            train.subscribe(on_event)
        report = run_train_sync(train)
        if cleanup and report.landed:
            from dataclasses import replace

            from wtpar.land.cleanup import clean_landed

            cleaned = clean_landed(self.git, self.worktrees, report.landed, plan.base)
            report = replace(report, cleaned=cleaned)
        return report

    def branch_diff(self, branch: str, base: str | None = None) -> BranchDiff:
        """BRANCH's changes against the base: files with counts, and the patch."""
        from wtpar.land.diff import branch_diff

        return branch_diff(self.git, base or self._default_base(), branch)

    def update(
        self, branches: Sequence[str] = (), merge: bool = False, base: str | None = None
    ) -> list[UpdateResult]:
        """Rebase (or merge) BRANCHES (default: every worktree's but the base's) onto the base."""
        from wtpar.land.update import update_branches

        base = base or self._default_base()
        wts = [wt for wt in self.worktrees.worktrees() if not wt.prunable]
        if branches:
            targets = [self.worktrees.find(b) for b in dict.fromkeys(branches)]
        else:
            targets = [wt for wt in wts if not wt.is_main and wt.branch and wt.branch != base]
        return update_branches(self.git, base, targets, merge)

    # -- worktree environments: ports, variables, services, synced files -------------------

    @cached_property
    def environments(self) -> Environments:
        """Each worktree's ports and variables."""
        from wtpar.worktrees.environment import Environments

        return Environments(self.paths, self.config)

    @cached_property
    def service_store(self) -> ServiceStore:
        """The recorded services of every worktree."""
        from wtpar.worktrees.devservices import ServiceStore

        return ServiceStore(self.paths.wtpar_dir)

    def worktree_at(self, folder: str) -> Worktree:
        """The worktree containing `folder`."""

        where = os.path.realpath(folder)
        hits = [
            wt
            for wt in self.worktrees.worktrees()
            if where == os.path.realpath(wt.path)
            or where.startswith(os.path.realpath(wt.path) + os.sep)
        ]
        if not hits:
            raise UsageError(f"{folder} is in no worktree of this repository")
        return max(hits, key=lambda wt: len(wt.path))

    def worktree_env(self, branch: str) -> dict[str, str]:
        """BRANCH's variables (ports allocated on first use)."""
        wt = self.worktrees.find(branch)
        name = wt.branch or branch
        return self.environments.ensure([(name, wt.path)])[name]

    def env_views(self, worktrees: Sequence[Worktree]) -> dict[str, EnvView]:
        """Ports, variables and services of each worktree by path, for `list` and the
        dashboard: read-only, no lock, and psutil is loaded only when services exist."""
        has_services = os.path.isdir(os.path.join(self.paths.wtpar_dir, "services"))
        statuses = self.service_statuses() if has_services else []
        return self.environments.views(worktrees, statuses)

    def service_statuses(self, branches: Sequence[str] = ()) -> list[ServiceStatus]:
        """Recorded services (of BRANCHES, or all) and whether they run."""
        return self.service_store.statuses(set(branches) if branches else None)

    def up(self, branches: Sequence[str] = (), names: Sequence[str] = ()) -> list[StartResult]:
        """Start the configured services (or NAMES) in BRANCHES' worktrees (default: all but
        main), in parallel; each waits until ready."""
        from wtpar.worktrees.devservices import start_services

        return start_services(
            self.service_store, self.environments, self._env_targets(branches), names
        )

    def down(self, branches: Sequence[str] = (), names: Sequence[str] = ()) -> list[StopResult]:
        """Stop running services (of BRANCHES and NAMES; default: all)."""
        from wtpar.worktrees.devservices import stop_services

        wanted = {self.worktrees.find(b).branch or b for b in branches}
        return stop_services(self.service_store, wanted or None, set(names) or None)

    def sync(self, branches: Sequence[str] = (), force: bool = False) -> list[SyncResult]:
        """Copy the configured ignored files into BRANCHES' worktrees (default: all but main)
        again, keeping files changed there unless `force`; rewrite `[env] file`."""
        from wtpar.worktrees.sync import sync_worktrees

        return sync_worktrees(self.environments, self._env_targets(branches), force)

    def _env_targets(self, branches: Sequence[str]) -> list[tuple[str, str]]:

        wts = [self.worktrees.find(b) for b in branches] or [
            wt for wt in self.worktrees.worktrees() if not wt.is_main and not wt.prunable
        ]
        targets = [(wt.branch, wt.path) for wt in wts if wt.branch]
        if branches and len(targets) < len(wts):
            raise UsageError("a detached worktree has no branch to key its environment")
        return list(dict.fromkeys(targets))


def default_jobs() -> int:
    """The number of CPUs this process may use."""
    return len(os.sched_getaffinity(0))
