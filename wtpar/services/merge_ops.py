"""Merge readiness and landing through the facade: `check`, `land`, `update`, diffs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from wtpar.errors import UsageError
from wtpar.services.base import default_jobs
from wtpar.services.run_ops import RunOps

if TYPE_CHECKING:
    from wtpar.check.facts import CheckReport, CheckRunner
    from wtpar.land.diff import BranchDiff
    from wtpar.land.plan import LandPlan, Strategy
    from wtpar.land.report import LandReport
    from wtpar.land.train import Train, TrainSubscriber
    from wtpar.land.update import UpdateResult
    from wtpar.model import RunEvent


class MergeOps(RunOps):
    """Merge readiness and landing through the facade: `check`, `land`, `update`, diffs."""

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
        if branches:  # the named ones are known now: refuse before check runs any task
            found = self.git.resolve_commits([base, *(f"refs/heads/{b}" for b in branches)])
            heads = [found[f"refs/heads/{b}"] or "" for b in branches]
            self._refuse_collisions(base, found[base] or "", heads)
        report = self.check(branches, base=base, run=run, on_event=on_event)
        tasks = parse_check_config(self.config).tasks
        plan = make_plan(report, branches, strategy or Strategy.MERGE, tasks, run)
        self._refuse_collisions(base, plan.base_sha, [h for _, h in plan.heads])
        return plan

    def _refuse_collisions(self, base: str, old: str, heads: Sequence[str]) -> None:
        """Refuse when untracked files where BASE is checked out are in the heads' way."""
        from wtpar.land.collide import refuse_untracked_collisions

        where = next((wt.path for wt in self.worktrees.worktrees() if wt.branch == base), None)
        news = [h for h in heads if h]
        if where is not None and old and news:
            refuse_untracked_collisions(self.git, where, base, old, news)

    def make_train(self, plan: LandPlan, jobs: int | None = None, push: bool = False) -> Train:
        """A merge train for PLAN, ready to `await run()` (the dashboard) or run_train_sync."""
        from wtpar.land.train import Train, TrainSettings

        every = self.worktrees.worktrees()
        main = next((i for i in self._worktree_infos(every) if i.is_main), None)
        where = next((wt.path for wt in every if wt.branch == plan.base), None)
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
