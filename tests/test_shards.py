"""`shards = N`: N instances per worktree, their environment and command, dependents that
wait for all of them, the task shown once with its shards inside, `--failed` per shard."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.recipes import make_branch
from tests.check_helpers import add_worktree, write_config
from tests.conftest import Invoke
from tests.run_helpers import by_key, configure, intervals, run_request, spawn, stamped
from wtpar.model import RunStatus, TaskKey, TaskRun
from wtpar.run.plan import RunRequest
from wtpar.run.shards import group_runs
from wtpar.tui.view import DashState, TaskCell, task_cell, task_cell_text


def sharded(repo: Path, out: Path, stamps: Path, fail: str = "") -> None:
    # The shard named in FAIL (a file) fails while that file exists.
    cmd = (
        f'echo "$WTPAR_SHARD/$WTPAR_SHARDS {{shard}}/{{shards}}" > {out}/$WTPAR_BRANCH-$WTPAR_SHARD'
        f'; echo "shard $WTPAR_SHARD"; ! grep -qx "$WTPAR_SHARD" {fail or "/dev/null"}'
    )
    configure(
        repo,
        f'[tasks.test]\ncmd = """{stamped(cmd, "test-$WTPAR_SHARD", stamps)}"""\nshards = 3\n'
        f'[tasks.report]\ncmd = """{stamped("true", "report", stamps)}"""\n'
        'depends_on = ["test"]\n',
    )


def test_each_shard_knows_which_it_is_and_dependents_wait_for_all(
    repo: Path, tmp_path: Path
) -> None:
    out, stamps = tmp_path / "out", tmp_path / "stamps"
    out.mkdir()
    sharded(repo, out, stamps)
    spawn(repo, "a")
    report = run_request(repo, RunRequest(task_names=("report",), jobs=3))
    assert report.ok
    runs = by_key(report)
    assert set(runs) == {TaskKey("a", "test", n) for n in (1, 2, 3)} | {TaskKey("a", "report")}
    for n in (1, 2, 3):
        assert (out / f"a-{n}").read_text() == f"{n}/3 {n}/3\n"
    spans = intervals(stamps)
    assert spans["report"][0] >= max(spans[f"test-{n}"][1] for n in (1, 2, 3))
    logs = {Path(r.log_path or "").name for r in report.tasks if r.key.shard}
    assert logs == {"test.1.log", "test.2.log", "test.3.log"}
    assert all(
        Path(r.log_path or "").read_text() == f"shard {r.key.shard}\n"
        for r in report.tasks
        if r.key.shard
    )


def shard_two_fails(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Worktree `a` with the sharded task, whose shard 2 fails while the file says so."""
    out, stamps, fail = tmp_path / "out", tmp_path / "stamps", tmp_path / "fail"
    out.mkdir()
    fail.write_text("2\n")
    sharded(repo, out, stamps, fail=str(fail))
    spawn(repo, "a")
    return stamps, fail


def test_the_summary_and_report_show_the_task_once_with_its_shards(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    stamps, fail = shard_two_fails(repo, tmp_path)
    result = wtpar("run", "test", "--report", str(tmp_path / "r.json"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("BRANCH"))
    table = lines[head + 1 : head + 5]
    assert table[0].split()[:3] == ["a", "test", "failed"]
    assert "3 shards:" in table[0] and "1 failed" in table[0]
    assert [line.split()[:2] for line in table[1:]] == [
        ["#1", "ok"],
        ["#2", "failed"],
        ["#3", "ok"],
    ]
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["groups"] == [
        {"branch": "a", "task": "test", "status": "failed", "shards": [1, 2, 3]}
    ]
    assert [t["shard"] for t in data["tasks"]] == [1, 2, 3]


def test_failed_runs_only_the_failed_shards_again(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    stamps, fail = shard_two_fails(repo, tmp_path)
    assert wtpar("run", "report").exit_code == 1
    stamps.unlink()
    fail.unlink()
    result = wtpar("run", "--failed")
    assert result.exit_code == 0, result.output
    assert set(intervals(stamps)) == {"test-2", "report"}


def test_a_cascade_on_a_sharded_task_is_refused(wtpar: Invoke, repo: Path) -> None:
    configure(
        repo,
        '[tasks.test]\ncmd = "true"\nshards = 2\n'
        '[tasks.notify]\ncmd = "true"\nafter = "test"\nwhen = "failure"\n',
    )
    spawn(repo, "a")
    result = wtpar("run", "test")
    assert result.exit_code == 2 and "runs as shards" in result.output
    configure(repo, '[tasks.test]\ncmd = "true"\nshards = 0\n')
    assert "shards must be" in wtpar("run", "test").output


def run(shard: int, status: RunStatus, start: float, end: float | None) -> TaskRun:
    return TaskRun(TaskKey("a", "t", shard), "c", "/w", status, None, start, end)


def test_groups_take_the_worst_status_and_the_whole_span() -> None:
    (group,) = group_runs([run(2, RunStatus.OK, 1.0, 4.0), run(1, RunStatus.FAILED, 0.5, 2.0)])
    assert group.status is RunStatus.FAILED and [r.key.shard for r in group.runs] == [1, 2]
    assert (group.started, group.ended) == (0.5, 4.0)
    (group,) = group_runs([run(1, RunStatus.OK, 1.0, 2.0), run(2, RunStatus.RUNNING, 1.0, None)])
    assert group.status is RunStatus.RUNNING and group.ended is None


def test_the_dashboard_shows_one_cell_for_the_shards() -> None:
    state = DashState()
    state.tasks[TaskKey("a", "t", 1)] = TaskCell(RunStatus.OK, 0.0, 2.0)
    state.tasks[TaskKey("a", "t", 2)] = TaskCell(RunStatus.RUNNING, 1.0)
    assert task_cell_text(task_cell(state, "a", "t"), now=3.0)[0] == "▶ 3.0s [1/2 ok]"
    state.tasks[TaskKey("a", "t", 2)] = TaskCell(RunStatus.OK, 1.0, 5.0)
    assert task_cell_text(task_cell(state, "a", "t"), now=9.0)[0] == "ok 5.0s [2/2 ok]"
    assert task_cell(state, "b", "t") is None


def test_check_sees_a_sharded_task_once_all_its_shards_passed(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    fail = tmp_path / "fail"
    fail.write_text("2\n")
    write_config(
        repo,
        f'[tasks.test]\ncmd = "! grep -qx $WTPAR_SHARD {fail}"\nshards = 2\n'
        '[check]\ntasks = ["test"]\n',
    )
    make_branch(repo, "one", {"src/util.py": "better\n"})
    add_worktree(repo, "one")
    first = wtpar("check", "--json", "one")
    assert first.exit_code == 1
    checks = json.loads(first.stdout)["branches"][0]["checks"]
    assert [(c["task"], c["state"]) for c in checks] == [("test", "failed")]
    fail.unlink()
    assert wtpar("run", "--failed").exit_code == 0  # shard 2 only; shard 1 passed before
    again = wtpar("check", "--json", "one")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["ran"] == []
