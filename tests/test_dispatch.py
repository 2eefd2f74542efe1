"""The dispatcher with real subprocesses: limits, graph, retries, timeouts, cancels, output."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.run_helpers import (
    alive,
    by_key,
    configure,
    intervals,
    kill_quietly,
    make_dispatcher,
    max_overlap,
    read_pids,
    run_request,
    spawn,
    stamped,
)
from wtpar.errors import WtparError
from wtpar.model import (
    RunEvent,
    RunFinished,
    RunStatus,
    TaskFinished,
    TaskKey,
    TaskOutput,
    TaskQueued,
    TaskStarted,
)
from wtpar.run.executor import Attempt, AttemptResult, AttemptSink
from wtpar.run.local import LocalExecutor
from wtpar.run.plan import RunRequest
from wtpar.run.runner import run_sync
from wtpar.run.runstore import RunStore


def test_concurrency_never_exceeds_jobs(repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    tasks = "".join(
        f'[tasks.t{i}]\ncmd = """{stamped("sleep 0.15", f"$WTPAR_BRANCH-t{i}", stamps)}"""\n'
        for i in range(6)
    )
    configure(repo, tasks)
    spawn(repo, "a", "b")
    names = tuple(f"t{i}" for i in range(6))
    report = run_request(repo, RunRequest(task_names=names, jobs=3))
    assert report.ok and len(report.tasks) == 12
    spans = intervals(stamps)
    assert len(spans) == 12
    overlap = max_overlap(spans.values())
    assert 1 < overlap <= 3


def test_dependencies_and_once_scope(repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    configure(
        repo,
        f"""
[tasks.build]
cmd = '''{stamped("sleep 0.2", "build", stamps)}'''
scope = "once"
[tasks.test]
cmd = '''{stamped("true", "test-$WTPAR_BRANCH", stamps)}'''
depends_on = ["build"]
""",
    )
    spawn(repo, "a", "b")
    report = run_request(repo, RunRequest(task_names=("test",), jobs=4))
    runs = by_key(report)
    assert set(runs) == {TaskKey("main", "build"), TaskKey("a", "test"), TaskKey("b", "test")}
    assert runs[TaskKey("main", "build")].worktree == str(repo)
    spans = intervals(stamps)
    assert spans["test-a"][0] >= spans["build"][1]
    assert spans["test-b"][0] >= spans["build"][1]


def test_failed_dependency_skips_dependents_with_the_reason(repo: Path) -> None:
    configure(
        repo,
        """
[tasks.build]
cmd = 'test "$WTPAR_BRANCH" != b'
[tasks.test]
cmd = "true"
depends_on = ["build"]
[tasks.deploy]
cmd = "true"
depends_on = ["test"]
""",
    )
    spawn(repo, "a", "b")
    report = run_request(repo, RunRequest(task_names=("deploy",), jobs=2))
    runs = by_key(report)
    assert runs[TaskKey("a", "deploy")].status is RunStatus.OK
    assert runs[TaskKey("b", "build")].status is RunStatus.FAILED
    assert runs[TaskKey("b", "test")].status is RunStatus.SKIPPED
    assert runs[TaskKey("b", "test")].reason == "dependency b:build failed"
    assert runs[TaskKey("b", "deploy")].reason == "dependency b:test skipped"
    assert not report.ok


def test_cascades_fire_exactly_as_declared(repo: Path) -> None:
    configure(
        repo,
        """
[tasks.test]
cmd = 'test "$WTPAR_BRANCH" = a'
[tasks.on-ok]
cmd = "true"
after = "test"
when = "success"
[tasks.on-fail]
cmd = "true"
after = "test"
when = "failure"
[tasks.cleanup]
cmd = "true"
after = "test"
when = "always"
""",
    )
    spawn(repo, "a", "b")
    report = run_request(repo, RunRequest(task_names=("test",), jobs=2))
    status = {str(k): r.status for k, r in by_key(report).items()}
    assert status == {
        "a:test": RunStatus.OK,
        "b:test": RunStatus.FAILED,
        "a:on-ok": RunStatus.OK,
        "b:on-ok": RunStatus.SKIPPED,
        "a:on-fail": RunStatus.SKIPPED,
        "b:on-fail": RunStatus.OK,
        "a:cleanup": RunStatus.OK,
        "b:cleanup": RunStatus.OK,
    }
    assert by_key(report)[TaskKey("a", "on-fail")].reason == (
        "not triggered: a:test ok (when = failure)"
    )


def test_retries_until_success_and_until_exhausted(repo: Path, tmp_path: Path) -> None:
    counter = tmp_path / "count"
    configure(
        repo,
        f"""
[tasks.flaky]
cmd = 'echo "attempt $WTPAR_ATTEMPT" >> {counter}-$WTPAR_BRANCH; test "$WTPAR_ATTEMPT" -ge 3'
retries = 2
[tasks.broken]
cmd = "echo nope; exit 3"
retries = 1
""",
    )
    spawn(repo, "a")
    report = run_request(repo, RunRequest(task_names=("flaky", "broken")))
    runs = by_key(report)
    flaky = runs[TaskKey("a", "flaky")]
    assert flaky.status is RunStatus.OK and flaky.attempts == 3
    assert Path(f"{counter}-a").read_text().split("\n")[:3] == [
        "attempt 1",
        "attempt 2",
        "attempt 3",
    ]
    broken = runs[TaskKey("a", "broken")]
    assert broken.status is RunStatus.FAILED and broken.attempts == 2 and broken.exit_code == 3
    log = Path(broken.log_path or "").read_text()
    assert log.count("nope") == 2 and "wtpar: attempt 2 of 2" in log


def test_timeout_terminates_the_whole_group_and_is_retried(repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    configure(
        repo,
        f"""
[tasks.hang]
cmd = 'sh -c "echo \\$\\$ > {pids}/child-$WTPAR_ATTEMPT.pid; exec sleep 30" & wait'
timeout = "0.5s"
retries = 1
""",
    )
    spawn(repo, "a")
    t0 = time.monotonic()
    report = run_request(repo, RunRequest(task_names=("hang",)))
    took = time.monotonic() - t0
    run = report.tasks[0]
    assert run.status is RunStatus.TIMED_OUT and run.attempts == 2
    assert run.reason == "timed out after 0.5s"
    assert took < 15
    children = read_pids(pids)
    assert len(children) == 2
    try:
        wait_for(lambda: not any(alive(p) for p in children), 10, "grandchildren to be gone")
    finally:
        kill_quietly(children)
    assert "timed out after 0.5s; terminating" in Path(run.log_path or "").read_text()


def test_sigterm_ignored_gets_sigkill_after_the_grace(repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    configure(
        repo,
        f"""
[tasks.stubborn]
cmd = "trap '' TERM; echo $$ > {pids}/sh.pid; while :; do sleep 0.05; done"
timeout = "0.3s"
""",
    )
    spawn(repo, "a")
    report = run_request(repo, RunRequest(task_names=("stubborn",)), grace=0.3)
    assert report.tasks[0].status is RunStatus.TIMED_OUT
    left = read_pids(pids)
    try:
        wait_for(lambda: not any(alive(p) for p in left), 10, "the stubborn shell to be killed")
    finally:
        kill_quietly(left)


def test_fail_fast_stops_quickly_and_cancels_the_rest(repo: Path) -> None:
    configure(
        repo,
        """
[tasks.slow]
cmd = "sleep 30"
[tasks.bad]
cmd = "exit 1"
[tasks.later]
cmd = "true"
depends_on = ["slow"]
""",
    )
    spawn(repo, "a", "b")
    t0 = time.monotonic()
    report = run_request(
        repo, RunRequest(task_names=("slow", "bad", "later"), jobs=3, fail_fast=True)
    )
    assert time.monotonic() - t0 < 10
    statuses = [t.status for t in report.tasks]
    assert RunStatus.FAILED in statuses
    assert RunStatus.OK not in statuses
    cancelled = [t for t in report.tasks if t.status is RunStatus.CANCELLED]
    assert cancelled and all((t.reason or "").startswith("--fail-fast:") for t in cancelled)
    assert not report.ok


def test_keep_going_runs_independent_tasks_after_a_failure(repo: Path) -> None:
    configure(repo, '[tasks.bad]\ncmd = "exit 1"\n[tasks.good]\ncmd = "sleep 0.2"\n')
    spawn(repo, "a", "b")
    report = run_request(repo, RunRequest(task_names=("bad", "good"), jobs=1))
    assert sorted(t.status.value for t in report.tasks) == ["failed", "failed", "ok", "ok"]


def test_cancel_one_task_and_its_dependents_are_skipped(repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    configure(
        repo,
        f"""
[tasks.serve]
cmd = "sleep 30 & echo $! > {pids}/$WTPAR_BRANCH.pid; wait"
[tasks.after-serve]
cmd = "true"
depends_on = ["serve"]
""",
    )
    spawn(repo, "a", "b")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=("after-serve",), jobs=2))
    events: list[RunEvent] = []

    def on_event(event: RunEvent) -> None:
        events.append(event)
        if isinstance(event, TaskStarted) and event.key == TaskKey("a", "serve"):
            asyncio.get_running_loop().call_later(0.2, dispatcher.cancel, event.key)
        if isinstance(event, TaskFinished) and event.run.key == TaskKey("a", "after-serve"):
            dispatcher.cancel_all()

    dispatcher.subscribe(on_event)
    from wtpar.run.runner import run_sync

    report = run_sync(dispatcher)
    runs = by_key(report)
    assert runs[TaskKey("a", "serve")].status is RunStatus.CANCELLED
    assert runs[TaskKey("a", "after-serve")].reason == "dependency a:serve cancelled"
    assert runs[TaskKey("b", "serve")].status is RunStatus.CANCELLED
    children = read_pids(pids)
    try:
        wait_for(lambda: not any(alive(p) for p in children), 10, "cancelled groups to be gone")
    finally:
        kill_quietly(children)


def test_a_queued_task_can_be_cancelled_before_it_starts(repo: Path) -> None:
    configure(repo, '[tasks.first]\ncmd = "sleep 0.3"\n[tasks.second]\ncmd = "true"\n')
    spawn(repo, "a")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=("first", "second"), jobs=1))
    started: list[TaskKey] = []

    def on_event(event: RunEvent) -> None:
        if isinstance(event, TaskStarted):
            started.append(event.key)
            dispatcher.cancel(TaskKey("a", "second"))

    dispatcher.subscribe(on_event)
    from wtpar.run.runner import run_sync

    report = run_sync(dispatcher)
    assert started == [TaskKey("a", "first")]
    assert by_key(report)[TaskKey("a", "second")].status is RunStatus.CANCELLED


def test_output_is_complete_in_the_log_and_the_events(repo: Path) -> None:
    spawn(repo, "a")
    events: list[RunEvent] = []
    command = "seq 1 20000; seq 1 20000 >&2; printf 'no newline at the end'"
    report = run_request(repo, RunRequest(command=command, branches=("a",)), events)
    log = Path(report.tasks[0].log_path or "").read_text().split("\n")
    assert log.count("20000") == 2 and log.count("1") == 2
    assert len(log) == 40001 and log[-1] == "no newline at the end"
    lines = [e.line for e in events if isinstance(e, TaskOutput)]
    assert len(lines) == 40001 and lines[-1] == "no newline at the end"
    assert report.tasks[0].log_path == str(
        Path(report.tasks[0].log_path or "").parent.parent / "a" / "cmd.log"
    )


def test_a_grandchild_holding_the_pipe_does_not_hold_the_task(repo: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "escaped.pid"
    spawn(repo, "a")
    # setsid leaves the task's process group, so only the pipe links it to the task.
    command = (
        f"setsid sh -c 'echo $$ > {pidfile}; exec sleep 30' & "
        f"while [ ! -s {pidfile} ]; do sleep 0.01; done; echo started"
    )
    t0 = time.monotonic()
    try:
        report = run_request(repo, RunRequest(command=command, branches=("a",)))
        assert time.monotonic() - t0 < 10
        assert report.tasks[0].status is RunStatus.OK
        assert "started" in Path(report.tasks[0].log_path or "").read_text()
    finally:
        wait_for(pidfile.exists, 10, "the escaped process to write its pid")
        kill_quietly([int(pidfile.read_text())])


def test_background_children_left_in_the_group_are_terminated(repo: Path, tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    spawn(repo, "a")
    report = run_request(
        repo, RunRequest(command=f"sleep 30 >/dev/null 2>&1 & echo $! > {pidfile}", branches=("a",))
    )
    assert report.tasks[0].status is RunStatus.OK
    pid = int(pidfile.read_text())
    try:
        wait_for(lambda: not alive(pid), 10, "the background child to be terminated")
    finally:
        kill_quietly([pid])


def test_environment_of_a_task(repo: Path) -> None:
    configure(
        repo,
        '[tasks.show]\ncmd = "env | grep -E \'^(WTPAR_|MODE=)\' | sort"\nenv = { MODE = "ci" }\n',
    )
    paths = spawn(repo, "a")
    events: list[RunEvent] = []
    report = run_request(repo, RunRequest(task_names=("show",)), events)
    lines = {e.line for e in events if isinstance(e, TaskOutput)}
    assert lines == {
        "MODE=ci",
        "WTPAR_ATTEMPT=1",
        "WTPAR_BRANCH=a",
        f"WTPAR_RUN_ID={report.run_id}",
        "WTPAR_TASK=show",
        f"WTPAR_WORKTREE={paths['a']}",
    }


def test_stagger_spaces_out_the_starts(repo: Path) -> None:
    spawn(repo, "a", "b", "c")
    events: list[RunEvent] = []
    run_request(repo, RunRequest(command="true", jobs=3, stagger=0.3), events)
    starts = sorted(e.time for e in events if isinstance(e, TaskStarted))
    assert len(starts) == 3
    assert all(b - a >= 0.25 for a, b in zip(starts, starts[1:], strict=False))


def test_events_order_and_the_saved_report(repo: Path) -> None:
    spawn(repo, "a", "b")
    events: list[RunEvent] = []
    report = run_request(repo, RunRequest(command="echo hi", jobs=2), events)
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["TaskQueued", "TaskQueued"]
    assert kinds[-1] == "RunFinished"
    for key in (TaskKey("a", "cmd"), TaskKey("b", "cmd")):
        mine = [type(e).__name__ for e in events if getattr(e, "key", None) == key]
        assert mine == ["TaskQueued", "TaskStarted", "TaskOutput"]
    finished = [e for e in events if isinstance(e, TaskFinished)]
    assert {e.run.key for e in finished} == {TaskKey("a", "cmd"), TaskKey("b", "cmd")}
    assert isinstance(events[-1], RunFinished) and events[-1].report == report
    assert isinstance(events[0], TaskQueued)
    runs_dir = repo / ".git" / "wtpar" / "runs"
    assert (runs_dir / "last").read_text().strip() == report.run_id
    data = json.loads((runs_dir / report.run_id / "report.json").read_text())
    assert data["schema"] == 1 and data["ok"] is True
    assert {t["branch"] for t in data["tasks"]} == {"a", "b"}
    assert all(t["command"] == "echo hi" and os.path.isfile(t["log"]) for t in data["tasks"])


def test_changed_skips_what_passed_on_the_same_tree(repo: Path) -> None:
    configure(repo, '[tasks.test]\ncmd = "true"\n[tasks.lint]\ncmd = "exit 1"\n')
    paths = spawn(repo, "a", "b")
    first = run_request(repo, RunRequest(task_names=("test", "lint"), changed=True))
    assert all(t.status in (RunStatus.OK, RunStatus.FAILED) for t in first.tasks)
    (paths["b"] / "scratch.txt").write_text("dirty")
    second = by_key(run_request(repo, RunRequest(task_names=("test", "lint"), changed=True)))
    assert second[TaskKey("a", "test")].status is RunStatus.SKIPPED
    assert (second[TaskKey("a", "test")].reason or "").startswith("unchanged: succeeded on")
    assert second[TaskKey("a", "lint")].status is RunStatus.FAILED  # it failed: run again
    assert second[TaskKey("b", "test")].status is RunStatus.OK  # a new (dirty) tree: run
    # the dirty state's result was remembered by its tree
    third = by_key(run_request(repo, RunRequest(task_names=("test",), changed=True)))
    assert "same uncommitted tree" in (third[TaskKey("b", "test")].reason or "")
    assert third[TaskKey("a", "test")].status is RunStatus.SKIPPED


def test_branch_scoped_locks_serialize_per_worktree_only(repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    marks = tmp_path / "marks"
    marks.mkdir()
    # Each `meet` task waits (bounded) until a task of the other branch has started: that
    # only happens if the two branches' holders may overlap.
    meet = (
        f"touch {marks}/$WTPAR_BRANCH; "
        f"for i in $(seq 100); do [ $(ls {marks} | wc -l) -ge 2 ] && break; sleep 0.05; done; "
        f"[ $(ls {marks} | wc -l) -ge 2 ]"
    )
    configure(
        repo,
        f"""
[tasks.meet]
cmd = '''{stamped(meet, "$WTPAR_BRANCH-meet", stamps)}'''
locks = ["{{branch}}:cache"]
[tasks.other]
cmd = '''{stamped("sleep 0.1", "$WTPAR_BRANCH-other", stamps)}'''
locks = ["{{branch}}:cache"]
""",
    )
    spawn(repo, "a", "b")
    report = run_request(repo, RunRequest(task_names=("meet", "other"), jobs=4))
    assert report.ok, [(str(t.key), t.status) for t in report.tasks]
    spans = intervals(stamps)
    for branch in ("a", "b"):
        mine = [v for k, v in spans.items() if k.startswith(f"{branch}-")]
        assert len(mine) == 2 and max_overlap(mine) == 1


def test_a_task_waiting_for_a_lock_holds_no_slot(repo: Path, tmp_path: Path) -> None:
    # -j 2: a_hold takes the lock "db" and a slot, and finishes only once c_free has run.
    # b_wait needs "db" too: if it sat on the second slot while waiting, c_free could never
    # start and a_hold would give up (exit 1).
    flag = tmp_path / "free-ran"
    configure(
        repo,
        f"""
[tasks.a_hold]
cmd = "for i in $(seq 200); do [ -e {flag} ] && exit 0; sleep 0.05; done; exit 1"
locks = ["db"]
[tasks.b_wait]
cmd = "true"
locks = ["db"]
[tasks.c_free]
cmd = "touch {flag}"
""",
    )
    spawn(repo, "a")
    report = run_request(repo, RunRequest(task_names=("a_hold", "b_wait", "c_free"), jobs=2))
    runs = by_key(report)
    assert runs[TaskKey("a", "a_hold")].status is RunStatus.OK
    assert report.ok, [(str(t.key), t.status) for t in report.tasks]
    hold, wait = runs[TaskKey("a", "a_hold")], runs[TaskKey("a", "b_wait")]
    assert hold.ended is not None and wait.started is not None
    assert wait.started >= hold.ended  # the lock was held throughout


class _BrokenExecutor(LocalExecutor):
    """The local executor, except that attempts of task `build` hit a bug in wtpar."""

    async def execute(self, attempt: Attempt, sink: AttemptSink) -> AttemptResult:
        if attempt.key.task == "build":
            raise RuntimeError("a bug in an executor")
        return await super().execute(attempt, sink)


def test_an_error_inside_wtpar_fails_the_task_and_the_run_still_ends(repo: Path) -> None:
    configure(
        repo,
        '[tasks.build]\ncmd = "true"\n[tasks.test]\ncmd = "true"\n'
        'depends_on = ["build"]\n[tasks.lint]\ncmd = "true"\n',
    )
    spawn(repo, "a")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=("test", "lint"), jobs=2))
    dispatcher.executor = _BrokenExecutor(dispatcher.wtpar_dir, 2, grace=0.5)
    report = run_sync(dispatcher)
    runs = by_key(report)
    assert runs[TaskKey("a", "build")].status is RunStatus.FAILED
    assert "internal error: RuntimeError: a bug in an executor" in (
        runs[TaskKey("a", "build")].reason or ""
    )
    assert runs[TaskKey("a", "test")].status is RunStatus.SKIPPED
    assert runs[TaskKey("a", "lint")].status is RunStatus.OK


class _UnstartableExecutor(LocalExecutor):
    """The local executor, except that it cannot start (as a LocalCluster that fails)."""

    async def start(self) -> None:
        raise OSError("no room for a cluster\nsecond line")


def test_an_executor_that_cannot_start_ends_every_task_and_the_run(repo: Path) -> None:
    spawn(repo, "a")
    spawn(repo, "b")
    dispatcher = make_dispatcher(repo, RunRequest(command="true", jobs=2))
    dispatcher.executor = _UnstartableExecutor(dispatcher.wtpar_dir, 2, grace=0.5)
    finished: list[RunEvent] = []
    dispatcher.subscribe(finished.append)
    with pytest.raises(WtparError) as raised:
        run_sync(dispatcher)
    reason = "cannot start the local executor: OSError: no room for a cluster"
    assert raised.value.message == reason
    report = RunStore(dispatcher.wtpar_dir).load(dispatcher.run_id)
    assert report is not None
    assert {(t.key.branch, t.status, t.reason) for t in report.tasks} == {
        ("a", RunStatus.FAILED, reason),
        ("b", RunStatus.FAILED, reason),
    }
    assert sum(isinstance(e, TaskFinished) for e in finished) == 2
    assert isinstance(finished[-1], RunFinished)
