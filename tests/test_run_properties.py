"""Property test: random task graphs with random failures always end consistently."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.run_helpers import intervals, max_overlap, stamped
from wtpar.model import (
    RunEvent,
    RunStatus,
    SkipKind,
    TaskFinished,
    TaskKey,
    TaskSpec,
    TaskStarted,
    When,
)
from wtpar.run.dispatch import Dispatcher, DispatchOptions
from wtpar.run.plan import RunRequest, WorktreeInfo, build_plan
from wtpar.run.runner import run_sync
from wtpar.run.taskconfig import find_cycle

EXITS = {0: "true", 1: "false", 3: "(exit 3)"}
STAMPS = Path("stamps")  # relative to the worktree, so every example has its own


@st.composite
def graphs(draw: st.DrawFn) -> tuple[dict[str, TaskSpec], int, int]:
    """Up to 7 tasks; each may depend on earlier ones, or cascade after one of them."""
    count = draw(st.integers(1, 7))
    specs: dict[str, TaskSpec] = {}
    for i in range(count):
        name = f"t{i}"
        earlier = [f"t{j}" for j in range(i)]
        deps = (
            tuple(draw(st.lists(st.sampled_from(earlier), unique=True, max_size=2)))
            if earlier
            else ()
        )
        after = draw(st.sampled_from([None, *earlier])) if earlier else None
        when = draw(st.sampled_from(list(When)))
        code = draw(st.sampled_from(sorted(EXITS)))
        specs[name] = TaskSpec(
            name=name,
            cmd=stamped(EXITS[code], "$WTPAR_BRANCH-$WTPAR_TASK-$WTPAR_ATTEMPT", STAMPS),
            depends_on=deps,
            after=after,
            when=when if after else When.SUCCESS,
            retries=draw(st.integers(0, 1)),
        )
    return specs, draw(st.integers(1, 3)), draw(st.integers(1, 2))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.booleans())
def test_random_graphs(graph: tuple[dict[str, TaskSpec], int, int], fail_fast: bool) -> None:
    specs, jobs, branches = graph
    assert find_cycle(specs) is None
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        worktrees = [WorktreeInfo("main", str(root), is_main=True)]
        for b in range(branches):
            (root / f"b{b}").mkdir()
            worktrees.append(WorktreeInfo(f"b{b}", str(root / f"b{b}")))
        plan = build_plan(specs, RunRequest(task_names=tuple(specs)), worktrees)
        dispatcher = Dispatcher(
            plan,
            str(root / "wtpar"),
            DispatchOptions(jobs=jobs, fail_fast=fail_fast, retry_backoff=0.0, grace=0.5),
            env={"PATH": "/usr/bin:/bin"},
        )
        events: list[RunEvent] = []
        dispatcher.subscribe(events.append)
        report = run_sync(dispatcher)
        spans = [span for wt in worktrees for span in _spans(Path(wt.path) / STAMPS)]

    runs = {t.key: t for t in report.tasks}
    assert len(runs) == len(specs) * branches
    assert all(t.status.finished for t in report.tasks)
    # the commands' own start/end stamps, one interval per attempt
    assert max_overlap(spans) <= jobs
    attempts_run = sum(t.attempts for t in report.tasks)
    # under --fail-fast a terminated attempt may not have written its end stamp
    assert len(spans) == attempts_run or (fail_fast and len(spans) < attempts_run)
    finished_at = {e.run.key: i for i, e in enumerate(events) if isinstance(e, TaskFinished)}
    first_start: dict[TaskKey, int] = {}
    for i, e in enumerate(events):
        if isinstance(e, TaskStarted):
            first_start.setdefault(e.key, i)
    for inst in plan.instances:
        run = runs[inst.key]
        spec = inst.spec
        # dependencies always end before dependents start
        for dep in (*inst.deps, *([inst.trigger] if inst.trigger else [])):
            if inst.key in first_start:
                assert finished_at[dep] < first_start[inst.key]
        bad_deps = [d for d in inst.deps if runs[d].status is not RunStatus.OK]
        if bad_deps and run.status is RunStatus.SKIPPED:
            # the first dependency that did not pass decides the kind: a skip by design
            # passes on, anything else is a failed dependency (and counts as a failure)
            first = runs[bad_deps[0]]
            by_design = first.skip in (SkipKind.NOT_APPLICABLE, SkipKind.NOT_TRIGGERED)
            assert run.skip is (first.skip if by_design else SkipKind.DEPENDENCY_FAILED)
            assert run.rerun_wanted is not by_design
        if bad_deps and not fail_fast:
            assert run.status is RunStatus.SKIPPED
            what = f"dependency {bad_deps[0]} {runs[bad_deps[0]].status.value}"
            assert what in (run.reason or "")
        if run.status in (RunStatus.OK, RunStatus.FAILED):
            expected_ok = "; true;" in spec.cmd
            assert (run.status is RunStatus.OK) == expected_ok
            assert run.attempts == (1 if expected_ok else spec.retries + 1)
        if not fail_fast and not bad_deps and inst.trigger is not None:
            trigger = runs[inst.trigger]
            fires = (
                spec.when is When.ALWAYS
                or (spec.when is When.SUCCESS and trigger.status is RunStatus.OK)
                or (spec.when is When.FAILURE and trigger.status is RunStatus.FAILED)
            )
            assert (run.status is not RunStatus.SKIPPED) == fires, (run, trigger)
        if not fail_fast:
            assert run.status is not RunStatus.CANCELLED
    if fail_fast and any(t.status is RunStatus.FAILED for t in report.tasks):
        assert not report.ok


def _spans(stamps: Path) -> list[tuple[float, float]]:
    return list(intervals(stamps).values()) if stamps.exists() else []
