"""The merge train: combine the branches onto the base, check every combination at once in
temporary worktrees through the shared pool, keep the longest passing prefix, leave the
culprit out and test the rest again, then move the base with compare-and-swap.

The checks go through the run package's public pieces (`build_plan`, `Dispatcher`); the
combinations are made in a quarantine, so nothing reaches the repository unless it lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from wtpar.git import Git
from wtpar.git.parse import push_refusal
from wtpar.land.cleanup import has_changes
from wtpar.land.collide import collision_text, untracked_collisions
from wtpar.land.combine import Combiner
from wtpar.land.plan import (
    LandPlan,
    Round,
    StepResult,
    StepState,
    TrainState,
    advance,
    final_outcomes,
    needless,
    start,
    step_name,
)
from wtpar.land.report import (
    LandEvent,
    Landing,
    LandReport,
    PushResult,
    RoundStarted,
    StepJudged,
    TrainFinished,
)
from wtpar.land.sandbox import Sandbox, sweep_stale
from wtpar.locks import LockWaitStopped, repo_lock
from wtpar.model import (
    RunEvent,
    RunStatus,
    SkipKind,
    TaskFinished,
    TaskKey,
    TaskRun,
    TaskSpec,
)
from wtpar.procs import clean_env
from wtpar.run.dispatch import Dispatcher, DispatchOptions
from wtpar.run.plan import RunRequest, WorktreeInfo, build_plan
from wtpar.run.runner import run_with_signals
from wtpar.text import shell_word

TrainSubscriber = Callable[["LandEvent | RunEvent"], None]
_BAD = (RunStatus.FAILED, RunStatus.TIMED_OUT)


@dataclass(frozen=True)
class TrainSettings:
    """How the train runs: the pool size, the check tasks, where `once` tasks run."""

    jobs: int
    specs: Mapping[str, TaskSpec]
    main: WorktreeInfo | None = None
    base_worktree: str | None = None  # where the base is checked out, if anywhere
    push: bool = False


class Train:
    """One land: `await run()` (or `run_train_sync`); `interrupt()` stops it cleanly."""

    def __init__(self, git: Git, plan: LandPlan, settings: TrainSettings) -> None:
        self.git = git
        self.plan = plan
        self.settings = settings
        # The pid first: a later land removes what a killed one left (sandbox.sweep_stale).
        self.land_id = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.interrupted = False
        self.signal: str | None = None  # what interrupted it
        self._subscribers: list[TrainSubscriber] = []
        self._dispatcher: Dispatcher | None = None
        self._steps = 0

    def subscribe(self, callback: TrainSubscriber) -> None:
        """Call `callback(event)` for every land event and every task event, in order."""
        self._subscribers.append(callback)

    def interrupt(self, signal_name: str = "SIGINT") -> None:
        """Stop: cancel the running checks; the base is left as it was."""
        self.interrupted = True
        self.signal = self.signal or signal_name
        if self._dispatcher is not None:
            self._dispatcher.interrupt(signal_name)

    def kill_now(self, signal_name: str = "SIGINT") -> None:
        """The second Ctrl-C: kill the running checks at once."""
        self.interrupt(signal_name)
        if self._dispatcher is not None:
            self._dispatcher.kill_now(signal_name)

    async def run(self) -> LandReport:
        """Run the train to its end and land what passed."""
        state = start(self.plan.order)
        rounds: list[Round] = []
        tip = self.plan.base_sha
        await asyncio.to_thread(sweep_stale, self.git)
        with self.git.quarantine() as env:
            combiner = Combiner(
                self.git, self.plan.strategy, self.plan.base, self.plan.base_sha, env
            )
            while not state.done and not self.interrupted:
                number = len(rounds) + 1
                self._emit(RoundStarted(number, state.landed, state.pending, self._steps + 1))
                steps = await self._round(number, state, tip, combiner, env)
                rounds.append(Round(state.landed, steps))
                tip = _new_tip(tip, steps)
                state = advance(state, steps)
            report = await asyncio.to_thread(self._finish, state, tuple(rounds), tip, env)
        self._emit(TrainFinished(report))
        return report

    # -- one round ------------------------------------------------------------------------

    async def _round(
        self,
        number: int,
        state: TrainState,
        tip: str,
        combiner: Combiner,
        env: Mapping[str, str],
    ) -> tuple[StepResult, ...]:
        heads = dict(self.plan.heads)

        def build() -> list[tuple[str, str | None]]:
            built: list[tuple[str, str | None]] = []
            running = tip
            for branch in state.pending:
                combined = combiner.add(running, branch, heads[branch])
                built.append((branch, combined))
                running = combined or running
            return built

        built = await asyncio.to_thread(build)
        first = self._steps + 1
        self._steps += len(built)
        if not self.plan.run_checks or not self.plan.tasks or self.interrupted:
            state_of = StepState.CANCELLED if self.interrupted else StepState.PASSED
            steps = tuple(StepResult(b, state_of if c else StepState.CONFLICT, c) for b, c in built)
        else:
            steps = await self._check(number, first, built, env)
        for i, step in enumerate(steps):
            self._emit(StepJudged(first + i, number, step))
        return steps

    async def _check(
        self,
        number: int,
        first: int,
        built: Sequence[tuple[str, str | None]],
        env: Mapping[str, str],
    ) -> tuple[StepResult, ...]:
        sandbox = Sandbox(self.git, f"{self.land_id}-{number}", env, lambda: self.interrupted)
        names = [step_name(b, first + i) for i, (b, _) in enumerate(built)]
        try:
            wanted = [(n, c) for n, (_, c) in zip(names, built, strict=True) if c is not None]
            folders = [(n.replace("@", "-"), c) for n, c in wanted]
            try:
                paths = await asyncio.to_thread(sandbox.add_all, folders)
            except LockWaitStopped:  # Ctrl-C as it waited for the repository lock
                return tuple(_step(b, c, [], True) for b, c in built)
            infos = [
                WorktreeInfo(branch=n, path=p, head=c)
                for (n, c), p in zip(wanted, paths, strict=True)
            ]
            if self.interrupted or not infos:
                return tuple(_step(b, c, [], self.interrupted) for b, c in built)
            request = RunRequest(
                task_names=self.plan.tasks, branches=tuple(i.branch for i in infos)
            )
            main = [self.settings.main] if self.settings.main is not None else []
            run_plan = build_plan(self.settings.specs, request, [*main, *infos])
            dispatcher = Dispatcher(
                run_plan,
                self.git.paths.wtpar_dir,
                DispatchOptions(jobs=self.settings.jobs),
                env=clean_env(env),
            )
            self._dispatcher = dispatcher
            dispatcher.subscribe(self._watch(dispatcher, names))
            dispatcher.subscribe(self._emit)
            report = await dispatcher.run()
        finally:
            self._dispatcher = None
            # Off the loop: waiting there for another process's repository lock, it held
            # back a Ctrl-C until the base had been moved.
            with contextlib.suppress(LockWaitStopped):
                await asyncio.to_thread(sandbox.clear)
        runs: dict[str, list[TaskRun]] = {n: [] for n in names}
        for run in report.tasks:
            runs.setdefault(run.key.branch, []).append(run)
        return tuple(
            _step(b, c, runs[n], report.interrupted) for n, (b, c) in zip(names, built, strict=True)
        )

    def _watch(self, dispatcher: Dispatcher, names: Sequence[str]) -> TrainSubscriber:
        """Cancel the combinations a failure makes pointless, as soon as it happens."""
        index = {n: i for i, n in enumerate(names)}
        states: list[StepState | None] = [None] * len(names)
        keys: dict[str, list[TaskKey]] = {n: [] for n in names}
        for key in dispatcher.keys:
            keys.setdefault(key.branch, []).append(key)

        def watch(event: LandEvent | RunEvent) -> None:
            if not isinstance(event, TaskFinished) or event.run.status not in _BAD:
                return
            i = index.get(event.run.key.branch)
            if i is None:
                return
            states[i] = StepState.FAILED
            for j in needless(states):
                for key in keys[names[j]]:
                    dispatcher.cancel(key, f"{names[i]} failed: this combination contains it")

        return watch

    # -- landing ----------------------------------------------------------------------------

    def _finish(
        self, state: TrainState, rounds: tuple[Round, ...], tip: str, env: Mapping[str, str]
    ) -> LandReport:
        plan = self.plan
        landing, notes, pushed = Landing.NOTHING, [], None
        if tip != plan.base_sha and not self.interrupted:
            landing, note = self._move_base(tip, env)
            notes += [note] if note else []
            if landing is Landing.LANDED and self.settings.push:
                pushed = self._push(tip)
        if self.interrupted and landing is not Landing.LANDED:
            landing = Landing.INTERRUPTED
        landed = landing is Landing.LANDED
        left_out = [b for b, _ in plan.left_out]
        asked = [*plan.order, *left_out, *plan.integrated]
        outcomes = final_outcomes(asked, state, landed, left_out, plan.integrated)
        after = tip if landed else plan.base_sha
        if landing is Landing.BASE_MOVED:  # where whoever moved it put it
            after = self.git.resolve_commit(f"refs/heads/{plan.base}") or after
        return LandReport(
            plan=plan,
            landing=landing,
            base_after=after,
            rounds=rounds,
            outcomes=tuple(outcomes.items()),
            culprits=state.culprits,
            base_worktree=self.settings.base_worktree,
            pushed=pushed,
            signal=self.signal if landing is Landing.INTERRUPTED else None,
            notes=tuple(notes),
        )

    def _move_base(self, tip: str, env: Mapping[str, str]) -> tuple[Landing, str | None]:
        """Compare-and-swap the base ref under the repository lock; fast-forward the
        worktree that has it checked out (refused when that worktree has changes). Runs
        off the loop: a Ctrl-C while it waits for the lock lands nothing."""
        try:
            with repo_lock(self.git.paths.wtpar_dir, stop=lambda: self.interrupted):
                if self.interrupted:  # as it took the lock
                    return Landing.INTERRUPTED, None
                return self._move_base_locked(tip, env)
        except LockWaitStopped:
            return Landing.INTERRUPTED, None

    def _move_base_locked(self, tip: str, env: Mapping[str, str]) -> tuple[Landing, str | None]:
        plan, where = self.plan, self.settings.base_worktree
        ref = f"refs/heads/{plan.base}"
        if self.git.resolve_commit(ref) != plan.base_sha:
            return Landing.BASE_MOVED, None  # its worktree is then no business of ours
        if where is not None:
            counts = self.git.status(where)
            if counts is None:
                why = f"git will not give the status of {where} (`git status` there says why)"
                return Landing.BASE_DIRTY, why
            if has_changes(counts):
                why = f"uncommitted changes in {where} ({counts.words()}): commit or stash them"
                return Landing.BASE_DIRTY, why
            # read-tree would refuse these only after the ref moved: refuse now.
            found = untracked_collisions(self.git, where, plan.base_sha, [tip], env)
            if found:
                return Landing.BASE_DIRTY, collision_text(plan.base, where, found)
        self.git.keep_objects(env, tip, plan.base_sha)
        reason = f"wtpar land: {', '.join(plan.order)}"
        if not self.git.update_ref(ref, tip, plan.base_sha, reason):
            return Landing.BASE_MOVED, None
        if where is None:
            return Landing.LANDED, None
        refused = self.git.fast_forward_checkout(where, plan.base_sha, tip)
        if refused is not None:
            # The branch has moved already: its files are brought from the old commit to
            # the new one as wtpar tried to (`reset --keep` would leave them as they were).
            there = f"git -C {shell_word(where)}"
            update = f"{there} update-index -q --refresh; {there} read-tree -m -u"
            return Landing.LANDED, (
                f"{where} was not brought up to date ({refused}): `{update} {plan.base_sha}"
                f" {tip}` does it once that is resolved (it keeps changes made there, unless"
                " they are in files the land changed)"
            )
        return Landing.LANDED, None

    def _push(self, tip: str) -> PushResult:
        upstream = self.git.upstream_of(self.plan.base)
        if upstream is None:
            return PushResult(False, "-", f"{self.plan.base} has no upstream to push to")
        remote, ref = upstream
        target = f"{remote} {ref.removeprefix('refs/heads/')}"
        res = self.git.push_fast_forward(remote, tip, ref)
        if res.returncode == 0:
            return PushResult(True, target)
        return PushResult(False, target, push_refusal(res.stdout, res.stderr))

    def _emit(self, event: LandEvent | RunEvent) -> None:
        for callback in self._subscribers:
            callback(event)


def _step(branch: str, combined: str | None, runs: Sequence[TaskRun], stopped: bool) -> StepResult:
    """How one combination fared, from its tasks' runs."""
    if combined is None:
        return StepResult(branch, StepState.CONFLICT)
    bad = next((r for r in runs if r.status in _BAD), None)
    if bad is not None:
        return StepResult(branch, StepState.FAILED, combined, bad.key.task, bad.log_path)
    if stopped or any(r.status is RunStatus.CANCELLED for r in runs):
        return StepResult(branch, StepState.CANCELLED, combined)
    skipped = next((r for r in runs if r.skip is SkipKind.DEPENDENCY_FAILED), None)
    if skipped is not None:
        return StepResult(branch, StepState.FAILED, combined, skipped.key.task, None)
    return StepResult(branch, StepState.PASSED, combined)


def _new_tip(tip: str, steps: Sequence[StepResult]) -> str:
    """The combined commit of the last step of the passing prefix of a round."""
    for step in steps:
        if step.state is StepState.PASSED and step.combined is not None:
            tip = step.combined
        elif step.state is not StepState.CONFLICT:
            break
    return tip


def run_train_sync(train: Train) -> LandReport:
    """Run a train on a new event loop; Ctrl-C (or SIGTERM) once stops it cleanly, twice
    kills the checks at once. Temporary worktrees are removed either way."""

    def interrupted(presses: int, signal_name: str) -> None:
        if presses == 1:
            train.interrupt(signal_name)
        else:
            train.kill_now(signal_name)

    return run_with_signals(train.run, interrupted)
