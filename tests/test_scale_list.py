"""`wtpar list` starts few git processes: a worktree at its base's head needs no ahead/behind
call, and the repository-wide calls are few (a count stands for the time)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from fixtures.recipes import commit_file, git, make_clone, make_repo
from wtpar.services import Services


def test_listing_one_worktree_starts_four_git_processes(
    repo: Path, git_calls: Counter[str]
) -> None:
    statuses = Services.from_cwd(repo).list_worktrees()
    assert [(s.ahead, s.behind) for s in statuses] == [(0, 0)]
    assert git_calls["rev-list"] == 0  # HEAD is the base's head: 0 ahead, 0 behind
    # rev-parse (the repository), worktree list, status, and one for-each-ref for the
    # branches' upstreams and the remote's default branch together (it was two).
    assert sum(git_calls.values()) <= 4, git_calls
    assert git_calls["for-each-ref"] == 1


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


def test_one_call_gives_the_remotes_default_base_and_the_upstreams(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, git_calls: Counter[str]
) -> None:
    origin = make_repo(tmp_path / "origin")
    git(origin, "branch", "trunk")
    git(origin, "symbolic-ref", "HEAD", "refs/heads/trunk")  # the remote's default: trunk
    clone = make_clone(origin, tmp_path / "clone")
    git(clone, "checkout", "-q", "-b", "topic", "origin/trunk")
    commit_file(clone, "t.txt", "t\n")
    monkeypatch.chdir(clone)
    git_calls.clear()
    (status,) = Services.from_cwd(clone).list_worktrees()
    assert status.worktree.branch == "topic"
    assert status.base == "origin/trunk"  # origin's HEAD, not the checked-out branch
    assert (status.ahead, status.behind) == (1, 0)
    assert (status.upstream, status.upstream_ahead, status.upstream_behind) == (
        "origin/trunk",
        1,
        0,
    )
    assert git_calls["for-each-ref"] == 1
