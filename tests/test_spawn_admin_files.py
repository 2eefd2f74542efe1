"""`spawn` of new branches writes each worktree's git metadata itself (one `update-ref`
for all the branches, no git process per branch under the repository lock), and what it
writes is what `git worktree add --no-checkout` writes: git's own commands agree."""

from __future__ import annotations

import contextlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.recipes import git, make_branch
from tests.test_spawn import worktree_dir
from wtpar import procs
from wtpar.locks import repo_lock
from wtpar.model import SpawnOutcome
from wtpar.services import Services
from wtpar.worktrees import spawn as spawn_module


class LockedGit:
    """Counts the git subcommands started while spawn holds the repository lock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.locked: Counter[str] = Counter()
        self.holding = False
        real_run, real_lock = procs.run, repo_lock

        def counting(args: Any, **kwargs: Any) -> procs.Result:
            argv = [str(a) for a in args]
            if self.holding and argv and argv[0].endswith("git"):
                sub = [a for a in argv[1:] if not a.startswith("-") and "=" not in a]
                self.locked[sub[0] if sub else "?"] += 1
            return real_run(args, **kwargs)

        @contextlib.contextmanager
        def held(*args: Any, **kwargs: Any) -> Iterator[None]:
            with real_lock(*args, **kwargs):
                self.holding = True
                try:
                    yield
                finally:
                    self.holding = False

        monkeypatch.setattr(procs, "run", counting)
        monkeypatch.setattr(spawn_module, "repo_lock", held)


def test_no_git_process_per_new_branch_under_the_lock(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counts = LockedGit(monkeypatch)
    services = Services.from_cwd(repo)
    few = services.spawn([f"few-{i}" for i in range(3)])
    at_three = sum(counts.locked.values())
    counts.locked.clear()
    many = services.spawn([f"many-{i}" for i in range(12)])
    assert {r.outcome for r in few + many} == {SpawnOutcome.CREATED}
    # worktree list, for-each-ref, the base's rev-parse, one update-ref for every branch;
    # before: one `git worktree add` (three git processes) per branch on top.
    assert sum(counts.locked.values()) == at_three <= 5, counts.locked
    assert counts.locked["update-ref"] == 1 and counts.locked["worktree"] == 1


def _admin_files(admin: Path) -> dict[str, str]:
    files = {n: (admin / n).read_text() for n in ("HEAD", "commondir", "gitdir")}
    # The reflog's first entry, but for when it was made (the checkout adds a second).
    first = (admin / "logs" / "HEAD").read_text().splitlines()[0]
    return files | {"logs/HEAD": re.sub(r" \d+ [+-]\d{4}$", " TIME", first)}


def test_the_metadata_is_what_git_worktree_add_writes(repo: Path) -> None:
    results = Services.from_cwd(repo).spawn(["ours", "feature/deep"])
    assert [r.outcome for r in results] == [SpawnOutcome.CREATED] * 2
    theirs_path = repo.parent / f"{repo.name}.worktrees" / "theirs"
    git(repo, "worktree", "add", "--no-checkout", "-q", "-b", "theirs", str(theirs_path), "main")
    admin = repo / ".git" / "worktrees"
    ours, theirs = _admin_files(admin / "ours"), _admin_files(admin / "theirs")
    assert ours == {k: v.replace("theirs", "ours") for k, v in theirs.items()}
    assert (worktree_dir(repo, "ours") / ".git").read_text() == (
        (theirs_path / ".git").read_text().replace("theirs", "ours")
    )
    assert not (admin / "ours" / "locked").exists()
    assert _admin_files(admin / "feature-deep")["HEAD"] == "ref: refs/heads/feature/deep\n"
    assert "branch: Created from main" in git(repo, "reflog", "show", "ours")
    main = git(repo, "rev-parse", "main")
    assert git(worktree_dir(repo, "ours"), "rev-parse", "HEAD@{1}") == main  # as git's has


def test_git_works_with_the_worktrees_it_did_not_write(repo: Path) -> None:
    Services.from_cwd(repo).spawn(["alpha", "beta"])
    alpha = worktree_dir(repo, "alpha")
    listed = git(repo, "worktree", "list", "--porcelain")
    assert f"worktree {alpha}\n" in listed and "branch refs/heads/alpha\n" in listed
    assert git(repo, "worktree", "repair") == ""  # nothing to repair
    git(repo, "worktree", "prune")
    assert f"worktree {alpha}\n" in git(repo, "worktree", "list", "--porcelain")
    git(repo, "fsck", "--no-progress")
    assert git(alpha, "status", "--porcelain") == ""
    assert git(alpha, "rev-parse", "--abbrev-ref", "HEAD").strip() == "alpha"
    (alpha / "README.md").write_text("changed\n")
    git(alpha, "commit", "-qam", "change")
    assert git(repo, "log", "-1", "--format=%s", "alpha").strip() == "change"
    git(repo, "worktree", "lock", str(alpha))
    git(repo, "worktree", "unlock", str(alpha))
    git(repo, "worktree", "move", str(alpha), str(alpha) + "-moved")
    git(repo, "worktree", "remove", str(alpha) + "-moved")
    git(repo, "worktree", "remove", str(worktree_dir(repo, "beta")))
    assert not (repo / ".git" / "worktrees" / "beta").exists()


def test_a_taken_admin_folder_name_is_numbered_as_git_numbers_it(repo: Path) -> None:
    other = repo.parent / "elsewhere" / "twin"
    git(repo, "worktree", "add", "-q", "-b", "elsewhere", str(other), "main")
    Services.from_cwd(repo).spawn(["twin"])
    assert (repo / ".git" / "worktrees" / "twin1" / "HEAD").read_text() == (
        "ref: refs/heads/twin\n"
    )
    assert git(worktree_dir(repo, "twin"), "status", "--porcelain") == ""


def test_a_branch_that_cannot_be_created_fails_alone(repo: Path) -> None:
    make_branch(repo, "feat/x", {"x.txt": "x\n"})  # refs/heads/feat cannot exist beside it
    results = Services.from_cwd(repo).spawn(["a", "feat", "b"])
    outcome = {r.branch: r.outcome for r in results}
    assert outcome == {
        "a": SpawnOutcome.CREATED,
        "feat": SpawnOutcome.FAILED,
        "b": SpawnOutcome.CREATED,
    }
    failed = next(r for r in results if r.branch == "feat")
    assert failed.error is not None and "refs/heads/feat" in failed.error
    assert git(worktree_dir(repo, "b"), "status", "--porcelain") == ""
    assert not os.path.exists(repo / ".git" / "worktrees" / "feat")


def test_a_repository_with_shared_permissions_is_left_to_git(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(repo, "config", "core.sharedRepository", "group")
    counts = LockedGit(monkeypatch)
    results = Services.from_cwd(repo).spawn(["one", "two"])
    assert [r.outcome for r in results] == [SpawnOutcome.CREATED] * 2
    assert counts.locked["worktree"] == 1 + 2  # the list, then one `worktree add` each
    assert counts.locked["update-ref"] == 0
    assert git(worktree_dir(repo, "two"), "status", "--porcelain") == ""
