"""The one facade both adapters (the CLI and the dashboard) call: it finds the repository,
reads its configuration once, and hands out the core's operations."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from wtpar.config import Config, load_config
from wtpar.git import Git, RepoPaths, discover
from wtpar.model import (
    BranchStatus,
    PruneResult,
    RemoveResult,
    SpawnResult,
    TaskKey,
)
from wtpar.worktrees import WorktreeManager, worktree_name

if TYPE_CHECKING:
    from wtpar.check.facts import CheckReport, CheckRunner
    from wtpar.model import RunEvent, RunReport, TaskSpec
    from wtpar.run.dispatch import Dispatcher
    from wtpar.run.plan import RunPlan, RunRequest, WorktreeInfo


class Services:
    """Everything wtpar can do on one repository."""

    def __init__(self, paths: RepoPaths, config: Config | None = None) -> None:
        self.paths = paths
        self._config = config

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
                f"kill -- {' '.join(f'-{g}' for g in groups)}"
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

        Worktrees used by the plan have their HEAD and cleanliness read, so results can be
        remembered (clean trees only) and `changed` can skip what already passed.
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
        draft = build_plan(specs, request, infos, only=only)
        used = sorted({i.worktree.path for i in draft.instances})
        with ThreadPoolExecutor(workers(len(used))) as pool:
            clean = dict(zip(used, pool.map(self._is_clean, used), strict=True))
        infos = [replace(wt, clean=clean.get(wt.path, False)) for wt in infos]
        store = ResultStore(self.paths.wtpar_dir)

        def lookup(task: str, command: str, head: str) -> tuple[bool, str] | None:
            found = store.lookup(task, command, head)
            return None if found is None else (found.passed, f"run {found.run_id}")

        return build_plan(specs, request, infos, lookup=lookup, only=only)

    def make_dispatcher(self, request: RunRequest, run_id: str | None = None) -> Dispatcher:
        """A Dispatcher for `request`, ready to `await run()` in any event loop.

        The dashboard: `d = services.make_dispatcher(req); d.subscribe(cb); await d.run()`,
        with `d.cancel(key)` / `d.cancel_all()` from its key bindings.
        """
        from wtpar.run.dispatch import Dispatcher, DispatchOptions
        from wtpar.run.results import ResultStore

        plan = self.plan_run(request)
        options = DispatchOptions(
            jobs=request.jobs or self.config.run.jobs or default_jobs(),
            stagger=request.stagger,
            fail_fast=request.fail_fast,
        )
        return Dispatcher(
            plan,
            self.paths.wtpar_dir,
            options,
            run_id=run_id,
            results=ResultStore(self.paths.wtpar_dir),
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

    def last_run_report(self) -> RunReport | None:
        """The report of the latest run on this repository, if any."""
        from wtpar.run.runstore import RunStore

        return RunStore(self.paths.wtpar_dir).last_report()

    def _worktree_infos(self) -> list[WorktreeInfo]:
        from wtpar.run.plan import WorktreeInfo

        return [
            WorktreeInfo(
                branch=worktree_name(wt),
                path=wt.path,
                head=wt.head,
                is_main=wt.is_main,
            )
            for wt in self.worktrees.worktrees()
            if not wt.bare and not wt.prunable
        ]

    def _is_clean(self, path: str) -> bool:
        counts = self.git.status(path)
        return counts is not None and not counts.dirty

    def _failed_request(self, request: RunRequest) -> tuple[RunRequest, list[TaskKey]]:
        """The request that re-runs what did not succeed in the last run, and those keys."""
        from dataclasses import replace

        from wtpar.errors import UsageError
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
        from wtpar.errors import UsageError

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
            {name: specs[name].cmd for name in settings.tasks},
            branches,
            runner=(runner or through_dispatcher) if run else None,
            use_stdin=use_stdin,
        )
        if notes:
            from dataclasses import replace

            report = replace(report, notes=(*notes, *report.notes))
        return report


def default_jobs() -> int:
    """The number of CPUs this process may use."""
    return len(os.sched_getaffinity(0))
