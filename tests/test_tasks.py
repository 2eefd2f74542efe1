"""Task configuration and run planning: types, durations, graph checks, instances."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from wtpar.config import load_config
from wtpar.errors import ConfigError, UsageError
from wtpar.model import SkipKind, TaskKey, When
from wtpar.run.plan import RunRequest, WorktreeInfo, build_plan
from wtpar.run.taskconfig import ADHOC_TASK, parse_tasks
from wtpar.run.treekey import result_command
from wtpar.text import parse_duration

WORKTREES = [
    WorktreeInfo("main", "/r", head="m" * 40, clean=True, is_main=True),
    WorktreeInfo("feature-a", "/r.w/a", head="a" * 40, clean=True),
    WorktreeInfo("feature-b", "/r.w/b", head="b" * 40, clean=False),
    WorktreeInfo("fix-c", "/r.w/c", head="c" * 40, clean=True),
]

GRAPH = """
[tasks.build]
cmd = "make build"
scope = "once"

[tasks.test]
cmd = "pytest -q"
depends_on = ["build"]
retries = 2
timeout = "1h30m"
locks = ["db", "{branch}:cache"]
env = { MODE = "ci", LEVEL = 3 }

[tasks.lint]
cmd = "ruff check"
branches = ["feature-*"]

[tasks.notify]
cmd = "./notify.sh"
after = "test"
when = "failure"

[tasks.docs]
cmd = "make docs"
depends_on = "lint"
"""


def specs_from(tmp_path: Path, text: str) -> dict[str, object]:
    (tmp_path / "wtpar.toml").write_text(text)
    return dict(parse_tasks(load_config(str(tmp_path))))


def config_error(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        specs_from(tmp_path, text)
    return info.value


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h30m", 5400.0),
        ("250ms", 0.25),
        ("2", 2.0),
        ("1m 30s", 90.0),
    ],
)
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "10x", "m", "1h30", "-5", True, [1], "5s10", "nan", "inf", "-inf", "1e300", 1e300],
)
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_durations_are_refused(value: float) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


def test_parse_the_full_example(tmp_path: Path) -> None:
    (tmp_path / "wtpar.toml").write_text(GRAPH)
    specs = parse_tasks(load_config(str(tmp_path)))
    test = specs["test"]
    assert test.depends_on == ("build",)
    assert test.retries == 2 and test.timeout == 5400.0
    assert test.locks == ("db", "{branch}:cache")
    assert dict(test.env) == {"MODE": "ci", "LEVEL": "3"}
    assert specs["build"].scope == "once"
    assert specs["lint"].branches == ("feature-*",)
    assert specs["notify"].after == "test" and specs["notify"].when is When.FAILURE
    assert specs["docs"].depends_on == ("lint",)


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('[tasks.a]\ncmd = "x"\nretries = "two"\n', "tasks.a.retries", 3),
        ('[tasks.a]\ncmd = "x"\ntimeout = "soon"\n', "tasks.a.timeout is invalid", 3),
        ('[tasks.a]\ncmd = "x"\nwhen = "failure"\n', "needs 'after'", 3),
        (
            '[tasks.a]\ncmd = "x"\n[tasks.b]\ncmd = "y"\nafter = "a"\nwhen = "sometimes"\n',
            "success, failure, always",
            6,
        ),
        ('[tasks.a]\ncmd = "x"\ncolour = "red"\n', "unknown setting 'colour'", 3),
        ("[tasks.a]\ndepends_on = []\n", "cmd is required", 1),
        ('[tasks.a]\ncmd = "x"\nlocks = [1]\n', "tasks.a.locks", 3),
        ('[tasks.a]\ncmd = "x"\nscope = "global"\n', "scope", 3),
        ('[tasks.cmd]\ncmd = "x"\n', "reserved", 1),
        ('[tasks."a b"]\ncmd = "x"\n', "task name 'a b'", 1),
    ],
)
def test_invalid_settings_name_the_file_and_line(
    tmp_path: Path, text: str, message: str, line: int
) -> None:
    err = config_error(tmp_path, text)
    assert message in err.message
    assert err.line == line
    assert err.message.startswith(f"{tmp_path / 'wtpar.toml'}:{line}:")


def test_unknown_dependency_is_named(tmp_path: Path) -> None:
    err = config_error(
        tmp_path, '[tasks.a]\ncmd = "x"\n\n[tasks.b]\ncmd = "y"\ndepends_on = ["z"]\n'
    )
    assert "task 'b' refers to unknown task 'z'" in err.message
    assert err.line == 4


def test_cycles_are_refused_naming_the_tasks(tmp_path: Path) -> None:
    text = (
        '[tasks.a]\ncmd = "x"\ndepends_on = ["c"]\n'
        '[tasks.b]\ncmd = "y"\ndepends_on = ["a"]\n'
        '[tasks.c]\ncmd = "z"\nafter = "b"\n'
    )
    err = config_error(tmp_path, text)
    assert "cycle: a -> c -> b -> a" in err.message


def test_a_task_cannot_depend_on_itself(tmp_path: Path) -> None:
    err = config_error(tmp_path, '[tasks.a]\ncmd = "x"\ndepends_on = ["a"]\n')
    assert "'a' depends on itself" in err.message


def test_a_once_task_cannot_wait_for_a_branch_task(tmp_path: Path) -> None:
    text = '[tasks.a]\ncmd = "x"\n[tasks.b]\ncmd = "y"\nscope = "once"\ndepends_on = ["a"]\n'
    assert "cannot wait for per-branch task 'a'" in config_error(tmp_path, text).message


def plan_keys(tmp_path: Path, request: RunRequest) -> dict[TaskKey, object]:
    (tmp_path / "wtpar.toml").write_text(GRAPH)
    specs = parse_tasks(load_config(str(tmp_path)))
    return {i.key: i for i in build_plan(specs, request, WORKTREES).instances}


def test_named_tasks_bring_their_dependencies_and_cascades(tmp_path: Path) -> None:
    (tmp_path / "wtpar.toml").write_text(GRAPH)
    specs = parse_tasks(load_config(str(tmp_path)))
    plan = build_plan(specs, RunRequest(task_names=("test",)), WORKTREES)
    keys = [i.key for i in plan.instances]
    assert TaskKey("main", "build") in keys
    assert keys.count(TaskKey("main", "build")) == 1
    branches = ("feature-a", "feature-b", "fix-c")
    assert {TaskKey(b, "test") for b in branches} <= set(keys)
    assert {TaskKey(b, "notify") for b in branches} <= set(keys)
    assert not any(k.task in ("lint", "docs") for k in keys)
    by_key = {i.key: i for i in plan.instances}
    test_a = by_key[TaskKey("feature-a", "test")]
    assert test_a.deps == (TaskKey("main", "build"),)
    assert test_a.locks == ("db", "feature-a:cache")
    assert by_key[TaskKey("feature-a", "notify")].trigger == TaskKey("feature-a", "test")
    # dependencies come before their dependents
    for i, inst in enumerate(plan.instances):
        for dep in inst.deps:
            assert keys.index(dep) < i


def test_branch_filters_and_missing_dependencies(tmp_path: Path) -> None:
    (tmp_path / "wtpar.toml").write_text(GRAPH)
    specs = parse_tasks(load_config(str(tmp_path)))
    plan = build_plan(specs, RunRequest(task_names=("docs",)), WORKTREES)
    by_key = {i.key: i for i in plan.instances}
    assert TaskKey("fix-c", "lint") not in by_key
    assert by_key[TaskKey("feature-a", "docs")].skip is None
    assert by_key[TaskKey("fix-c", "docs")].skip is SkipKind.NOT_APPLICABLE
    reason = by_key[TaskKey("fix-c", "docs")].skip_reason or ""
    assert reason.startswith("dependency 'lint' does not run on fix-c")


def test_branch_selection_accepts_globs_and_refuses_unknown_names(tmp_path: Path) -> None:
    (tmp_path / "wtpar.toml").write_text(GRAPH)
    specs = parse_tasks(load_config(str(tmp_path)))
    plan = build_plan(specs, RunRequest(command="make", branches=("feature-*",)), WORKTREES)
    assert [i.key.branch for i in plan.instances] == ["feature-a", "feature-b"]
    with pytest.raises(UsageError, match="no worktree for branch 'nope'"):
        build_plan(specs, RunRequest(command="make", branches=("nope",)), WORKTREES)
    with pytest.raises(UsageError, match="unknown task 'tset'"):
        build_plan(specs, RunRequest(task_names=("tset",)), WORKTREES)
    with pytest.raises(UsageError, match="nothing to run"):
        build_plan(specs, RunRequest(), WORKTREES)


def test_adhoc_commands_per_branch() -> None:
    request = RunRequest(command="make test", per_branch=(("feature-b", "npm test"),))
    plan = build_plan({}, request, WORKTREES)
    commands = {i.key.branch: i.command for i in plan.instances}
    assert commands == {"feature-a": "make test", "feature-b": "npm test", "fix-c": "make test"}
    assert {i.key.task for i in plan.instances} == {ADHOC_TASK}
    only_c = build_plan({}, RunRequest(per_branch=(("fix-c", "ls"),)), WORKTREES)
    assert [(i.key.branch, i.command) for i in only_c.instances] == [("fix-c", "ls")]


def test_no_worktrees_besides_main_is_a_clear_error() -> None:
    with pytest.raises(UsageError, match="wtpar spawn"):
        build_plan({}, RunRequest(command="make"), WORKTREES[:1])


def test_overrides_and_restriction(tmp_path: Path) -> None:
    (tmp_path / "wtpar.toml").write_text(GRAPH)
    specs = parse_tasks(load_config(str(tmp_path)))
    request = RunRequest(task_names=("test",), retries=0, timeout=5.0)
    only = [TaskKey("feature-b", "test")]
    plan = build_plan(specs, request, WORKTREES, only=only)
    assert [i.key for i in plan.instances] == only
    inst = plan.instances[0]
    assert inst.deps == () and inst.spec.retries == 0 and inst.spec.timeout == 5.0


def test_changed_skips_what_passed_on_the_same_tree(tmp_path: Path) -> None:
    (tmp_path / "wtpar.toml").write_text(GRAPH)
    specs = parse_tasks(load_config(str(tmp_path)))
    # feature-b is dirty: its tree is its working state's, which never ran.
    trees = {"/r.w/a": "1" * 40, "/r.w/b": "d" * 40, "/r.w/c": "3" * 40}
    worktrees = [replace(wt, tree=trees.get(wt.path)) for wt in WORKTREES]
    command = result_command("pytest -q", specs["test"].env)  # test has an env
    assert command != "pytest -q"
    passed = {("test", command, "1" * 40), ("test", command, "2" * 40)}
    failed = {("test", command, "3" * 40)}

    def lookup(task: str, command: str, tree: str) -> tuple[bool, str] | None:
        if (task, command, tree) in passed:
            return True, "run r1"
        if (task, command, tree) in failed:
            return False, "run r1"
        return None

    request = RunRequest(task_names=("test",), changed=True)
    by_key = {i.key: i for i in build_plan(specs, request, worktrees, lookup).instances}
    assert by_key[TaskKey("feature-a", "test")].skip is SkipKind.UNCHANGED
    assert by_key[TaskKey("feature-b", "test")].skip is None  # its state never ran
    assert by_key[TaskKey("fix-c", "test")].skip is None  # failed last time
    trees["/r.w/b"] = "2" * 40  # the dirty state is one that passed
    worktrees = [replace(wt, tree=trees.get(wt.path)) for wt in WORKTREES]
    by_key = {i.key: i for i in build_plan(specs, request, worktrees, lookup).instances}
    assert "same uncommitted tree" in (by_key[TaskKey("feature-b", "test")].skip_reason or "")
    without = build_plan(specs, RunRequest(task_names=("test",)), WORKTREES, lookup)
    assert all(i.skip is None for i in without.instances)
