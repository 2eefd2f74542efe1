"""`spawn` of many branches looks them all up in one git call: the number of git processes
it starts stands for its time (and for the time it holds the repository lock)."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fixtures.recipes import git, make_branch, make_clone
from wtpar import procs
from wtpar.model import SpawnOutcome
from wtpar.refnames import branch_name_ok
from wtpar.services import Services


def _count_git(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the git subcommands wtpar starts (through its one subprocess wrapper)."""
    seen: Counter[str] = Counter()
    real = procs.run

    def counting(args: Any, **kwargs: Any) -> procs.Result:
        argv = [str(a) for a in args]
        if argv and argv[0].endswith("git"):
            sub = [a for a in argv[1:] if not a.startswith("-") and "=" not in a]
            seen[sub[0] if sub else "?"] += 1
        return real(args, **kwargs)

    monkeypatch.setattr(procs, "run", counting)
    return seen


def test_spawning_eight_branches_starts_no_git_process_per_branch_lookup(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_branch(repo, "local-1", {"one.txt": "1\n"})
    seen = _count_git(monkeypatch)
    names = ["local-1", *(f"feature-{i}" for i in range(7))]
    results = Services.from_cwd(repo).spawn(names)
    assert [r.outcome for r in results] == [SpawnOutcome.CREATED] * 8
    assert [r.how for r in results] == ["local"] + ["new"] * 7
    # Per branch: one `worktree add` (under the lock) and one checkout (outside it).
    assert seen["worktree"] <= 8 + 1 and seen["reset"] == 8
    # Before: a check-ref-format, a show-ref and a for-each-ref per branch (45 in all).
    assert seen["check-ref-format"] == 0 and seen["show-ref"] == 0
    assert sum(seen.values()) <= 8 + 8 + 6, seen


def test_remote_and_local_branches_are_told_apart_in_the_batched_look_up(
    repo: Path, tmp_path: Path
) -> None:
    make_branch(repo, "shared", {"s.txt": "s\n"})
    make_branch(repo, "other/below", {"b.txt": "b\n"})  # below the name `other`: not it
    clone = make_clone(repo, tmp_path / "clone")
    git(clone, "update-ref", "refs/heads/mine", "HEAD")
    results = Services.from_cwd(clone).spawn(["shared", "mine", "other"])
    how = {r.branch: r.how for r in results}
    assert how == {"shared": "remote", "mine": "local", "other": "new"}
    remote_sha = git(clone, "rev-parse", "origin/shared").strip()
    assert results[0].base_ref == "origin/shared" and results[0].base_sha == remote_sha


NAMES = [
    "a", "a/b", "feature/x-1", "a..b", "a/.b", ".a", "a.", "a.lock", "a.lock/b", "a/b.lock",
    "a//b", "/a", "a/", "-a", "HEAD", "head", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[1]",
    "a\\b", "a\tb", "a\x7fb", "a{b}", "ü/日本", "a/./b", "a/..", "...", "a.b.c", "x.lock.y",
    "refs/heads/a", "a\x01", "lock", ".lock", "a/.lock", "]", "a]b", "a}", "a,b", "a#b",
]  # fmt: skip


def test_the_branch_name_check_agrees_with_git(repo: Path) -> None:
    rng = random.Random(3)
    alphabet = "ab./-~^:?*[\\ {}@_é"
    names = NAMES + ["".join(rng.choices(alphabet, k=rng.randrange(1, 6))) for _ in range(150)]
    for name in itertools.chain(names, ["a@b", "@", "@{-1}", "a@{u}"]):
        ours = branch_name_ok(name)
        theirs = subprocess_ok(repo, name)
        assert ours is None or ours == theirs, (name, ours, theirs)
        assert (ours is None) == ("@" in name)


def subprocess_ok(repo: Path, name: str) -> bool:
    return (
        procs.run(["git", "check-ref-format", "--branch", name], cwd=repo, check=False).returncode
        == 0
    )
