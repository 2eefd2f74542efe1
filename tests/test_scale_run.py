"""`wtpar run` starts its tasks without first reading `git status` on every worktree: the
reads go on during the run, for recording results (a count of git processes stands for the
time). Only `--changed`, which must know before it skips, reads them first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.run_helpers import by_key, configure, make_dispatcher, run_request, spawn
from wtpar import procs
from wtpar.model import RunStatus, TaskKey
from wtpar.run.plan import RunRequest
from wtpar.run.runner import run_sync


@pytest.fixture
def statuses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The working directories of every `git status` wtpar starts."""
    seen: list[str] = []
    real = procs.run

    def counting(args: Any, **kwargs: Any) -> procs.Result:
        if "status" in list(args):
            seen.append(str(kwargs.get("cwd")))
        return real(args, **kwargs)

    monkeypatch.setattr(procs, "run", counting)
    yield seen


def test_no_status_is_read_before_the_tasks_start(repo: Path, statuses: list[str]) -> None:
    configure(repo, '[tasks.test]\ncmd = "true"\n')
    paths = spawn(repo, "a", "b", "c")
    (paths["c"] / "scratch.txt").write_text("dirty")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=("test",)))
    assert statuses == []  # planned and ready to start: no worktree read yet
    report = run_sync(dispatcher)
    assert all(t.status is RunStatus.OK for t in report.tasks)
    assert sorted(statuses) == sorted(str(p) for p in paths.values())  # read during the run
    # The results were recorded for the clean worktrees only.
    statuses.clear()
    again = by_key(run_request(repo, RunRequest(task_names=("test",), changed=True)))
    assert len(statuses) == 3  # --changed reads first: it must know before skipping
    assert again[TaskKey("a", "test")].status is RunStatus.SKIPPED
    assert again[TaskKey("b", "test")].status is RunStatus.SKIPPED
    assert again[TaskKey("c", "test")].status is RunStatus.OK
