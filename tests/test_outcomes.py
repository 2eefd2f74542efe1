"""A task that does not run says why, with a typed reason; exit codes, `--failed`, the summary
and the JSON report follow that type, never the wording of a message."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Invoke
from tests.run_helpers import configure, last_report, spawn
from wtpar.model import RunReport, RunStatus, SkipKind, TaskKey, TaskRun


def outcomes(repo: Path) -> dict[str, tuple[str, str | None]]:
    return {
        f"{t['branch']}:{t['task']}": (t["status"], t["skip"]) for t in last_report(repo)["tasks"]
    }


LINT_ONLY_ON_A = """
[tasks.lint]
cmd = "true"
branches = ["a"]

[tasks.build]
cmd = "true"
depends_on = ["lint"]

[tasks.test]
cmd = "true"
depends_on = ["build"]
"""


def test_a_dependency_that_does_not_run_on_a_branch_is_not_a_failure(
    wtpar: Invoke, repo: Path
) -> None:
    configure(repo, LINT_ONLY_ON_A)
    spawn(repo, "a", "c")
    result = wtpar("run", "test", "--output", "quiet")
    assert result.exit_code == 0, result.output
    assert outcomes(repo) == {
        "a:lint": ("ok", None),
        "a:build": ("ok", None),
        "a:test": ("ok", None),
        "c:build": ("skipped", "not applicable"),
        "c:test": ("skipped", "not applicable"),
    }
    assert "5 tasks: 3 ok, 2 skipped (2 not applicable)" in result.output
    again = wtpar("run", "--failed")
    assert again.exit_code == 0
    assert "nothing failed in the last run" in again.output


def test_a_failed_dependency_is_a_failure_and_runs_again(wtpar: Invoke, repo: Path) -> None:
    configure(repo, LINT_ONLY_ON_A.replace('cmd = "true"\nbranches', 'cmd = "false"\nbranches'))
    spawn(repo, "a", "c")
    result = wtpar("run", "test", "--output", "quiet")
    assert result.exit_code == 1
    assert outcomes(repo)["a:build"] == ("skipped", "dependency failed")
    assert outcomes(repo)["a:test"] == ("skipped", "dependency failed")
    assert outcomes(repo)["c:test"] == ("skipped", "not applicable")
    again = wtpar("run", "--failed", "--output", "quiet")
    assert again.exit_code == 1
    assert sorted(outcomes(repo)) == ["a:build", "a:lint", "a:test"]


def test_cascades_not_triggered_and_unchanged_skips_count_as_success(
    wtpar: Invoke, repo: Path
) -> None:
    configure(
        repo,
        '[tasks.test]\ncmd = "true"\n\n[tasks.notify]\ncmd = "true"\nafter = "test"\n'
        'when = "failure"\n',
    )
    spawn(repo, "a")
    assert wtpar("run", "test", "--output", "quiet").exit_code == 0
    assert outcomes(repo)["a:notify"] == ("skipped", "not triggered")
    assert wtpar("run", "test", "--changed", "--output", "quiet").exit_code == 0
    assert outcomes(repo)["a:test"] == ("skipped", "unchanged")


def _run(status: RunStatus, skip: SkipKind | None, reason: str | None) -> RunReport:
    task = TaskRun(TaskKey("a", "t"), "true", "/w", status, skip=skip, reason=reason)
    return RunReport("r", 0.0, 1.0, 1, (task,))


def test_the_type_decides_never_the_words() -> None:
    misleading = _run(RunStatus.SKIPPED, SkipKind.NOT_APPLICABLE, "dependency 'x' is elsewhere")
    assert misleading.ok and not misleading.tasks[0].rerun_wanted
    worded_as_unchanged = _run(RunStatus.SKIPPED, SkipKind.DEPENDENCY_FAILED, "unchanged")
    assert not worded_as_unchanged.ok and worded_as_unchanged.tasks[0].rerun_wanted
    assert not worded_as_unchanged.tasks[0].passed
    assert _run(RunStatus.SKIPPED, SkipKind.UNCHANGED, "x").tasks[0].passed
