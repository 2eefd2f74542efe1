"""What one task costs `wtpar run` when there are thousands: counts stand for the time and
memory (system calls of the costly kinds per task, objects kept per finished task)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.run_helpers import configure, make_dispatcher, spawn
from wtpar import busy
from wtpar.model import RunStatus
from wtpar.run.plan import RunRequest
from wtpar.run.runner import run_sync


def configure_tasks(repo: Path, count: int) -> tuple[str, ...]:
    """COUNT independent tasks running `true`; their names."""
    names = tuple(f"t{i:04d}" for i in range(count))
    configure(repo, "".join(f'[tasks.{n}]\ncmd = "true"\n' for n in names))
    return names


@pytest.fixture
def os_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often wtpar calls some `os` functions (by name) while the fixture is active."""
    seen: Counter[str] = Counter()

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen[name] += 1
            return real(*args, **kwargs)

        return call

    for name in ("ftruncate", "open", "mkdir", "close"):
        monkeypatch.setattr(os, name, counting(name, getattr(os, name)))
    yield seen


def test_a_busy_record_is_never_truncated(repo: Path, os_calls: Counter[str]) -> None:
    # On ext4, a file truncated and then deleted makes its last close wait for a flush:
    # a millisecond on every task, more than the rest of wtpar's work for `true`.
    names = configure_tasks(repo, 12)
    spawn(repo, "a")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=names, branches=("a",), jobs=2))
    os_calls.clear()
    report = run_sync(dispatcher)
    assert [t.status for t in report.tasks] == [RunStatus.OK] * 12
    assert os_calls["ftruncate"] == 0


def test_a_busy_record_rewritten_shorter_still_reads(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    with busy.running_in(wtpar_dir, worktree, "test") as record:
        record.started(123456789)
        record.started(7)  # shorter: the rest of the earlier record is padding
        [task] = busy.running_tasks(wtpar_dir, worktree)
        assert (task.task, task.pid) == ("test", 7)
