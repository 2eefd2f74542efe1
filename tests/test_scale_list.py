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


def test_removing_many_worktrees_lists_them_a_fixed_number_of_times(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`remove` looked each name up with a listing of its own, twice: N listings of N
    worktrees, 25x the time of a `git worktree remove` loop at 60 worktrees."""
    from typing import Any

    from wtpar import procs

    listings: list[int] = [0]  # the last: the listings since it was appended
    real = procs.run

    def counting(args: Any, **kwargs: Any) -> procs.Result:
        if [str(a) for a in args][1:3] == ["worktree", "list"]:
            listings[-1] += 1
        return real(args, **kwargs)

    monkeypatch.setattr(procs, "run", counting)
    services = Services.from_cwd(repo)
    for count in (3, 12):
        names = [f"w{count}-{i}" for i in range(count)]
        services.spawn(names)
        listings.append(0)
        results = services.remove(names)
        assert all(r.removed for r in results), results
    assert max(listings[1:]) <= 3, listings  # not 2N: 7 and 24 before
