"""`wtpar list` starts few git processes: a worktree at its base's head needs no ahead/behind
call, and the repository-wide calls are few (a count stands for the time)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fixtures.recipes import commit_file
from wtpar import procs
from wtpar.services import Services


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The git subcommands wtpar starts, counted in its one subprocess wrapper."""
    seen: Counter[str] = Counter()
    real = procs.run

    def counting(args: Any, **kwargs: Any) -> procs.Result:
        argv = [str(a) for a in args]
        sub = [a for a in argv[1:] if not a.startswith("-")]
        seen[sub[0] if sub else "?"] += 1
        return real(args, **kwargs)

    monkeypatch.setattr(procs, "run", counting)
    return seen


def test_listing_one_worktree_starts_at_most_five_git_processes(
    repo: Path, git_calls: Counter[str]
) -> None:
    statuses = Services.from_cwd(repo).list_worktrees()
    assert [(s.ahead, s.behind) for s in statuses] == [(0, 0)]
    assert git_calls["rev-list"] == 0  # HEAD is the base's head: 0 ahead, 0 behind
    assert sum(git_calls.values()) <= 5, git_calls


def test_only_worktrees_away_from_the_base_ask_git_for_ahead_and_behind(
    repo: Path, git_calls: Counter[str]
) -> None:
    services = Services.from_cwd(repo)
    services.spawn(["same", "moved"])
    commit_file(Path(services.path_of("moved")), "new.txt", "x\n")
    git_calls.clear()
    by_branch = {s.worktree.branch: s for s in services.list_worktrees()}
    assert (by_branch["same"].ahead, by_branch["same"].behind) == (0, 0)
    assert (by_branch["moved"].ahead, by_branch["moved"].behind) == (1, 0)
    assert git_calls["rev-list"] == 1
