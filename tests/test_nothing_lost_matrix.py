"""The kind of test that finds the next way to lose work: every recipe below leaves
something precious in a merged worktree; `remove` must refuse it, `prune --merged` must
keep it, and the precious thing must still be there. A new way to lose work is one more
recipe (issue 9)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.recipes import commit_file, git
from tests.conftest import Invoke
from tests.test_spawn import worktree_dir

Check = Callable[[], bool]


def untracked(repo: Path, wt: Path) -> Check:
    (wt / "notes" / "idea.txt").parent.mkdir()
    (wt / "notes" / "idea.txt").write_text("idea\n")
    return lambda: (wt / "notes" / "idea.txt").exists()


def modified(repo: Path, wt: Path) -> Check:
    (wt / "README.md").write_text("edited\n")
    return lambda: (wt / "README.md").read_text() == "edited\n"


def staged(repo: Path, wt: Path) -> Check:
    (wt / "new.txt").write_text("new\n")
    git(wt, "add", "new.txt")
    return lambda: (wt / "new.txt").exists()


def intent_to_add(repo: Path, wt: Path) -> Check:
    (wt / "later.txt").write_text("later\n")
    git(wt, "add", "-N", "later.txt")
    return lambda: (wt / "later.txt").exists()


def assume_unchanged(repo: Path, wt: Path) -> Check:
    git(wt, "update-index", "--assume-unchanged", "README.md")
    (wt / "README.md").write_text("hidden\n")
    return lambda: (wt / "README.md").read_text() == "hidden\n"


def skip_worktree(repo: Path, wt: Path) -> Check:
    git(wt, "update-index", "--skip-worktree", "README.md")
    (wt / "README.md").write_text("hidden\n")
    return lambda: (wt / "README.md").read_text() == "hidden\n"


def unpushed_commit(repo: Path, wt: Path) -> Check:
    sha = commit_file(wt, "more.txt", "more\n")
    return lambda: git(repo, "cat-file", "-t", sha, check=False).strip() == "commit"


def commit_kept_by_a_worktree_ref(repo: Path, wt: Path) -> Check:
    # refs/worktree/* live in the worktree's own git dir: removing it deletes them.
    sha = commit_file(wt, "kept.txt", "kept\n")
    git(wt, "update-ref", "refs/worktree/keep", sha)
    git(wt, "reset", "-q", "--hard", "HEAD~1")
    return lambda: git(wt, "rev-parse", "--verify", "-q", "refs/worktree/keep").strip() == sha


def merge_in_progress(repo: Path, wt: Path) -> Check:
    commit_file(wt, "README.md", "branch side\n")
    git(repo, "branch", "-f", "keep-branch-side", "HEAD")  # the commit itself is safe
    git(wt, "branch", "-f", "keep-branch-side", "HEAD")
    commit_file(repo, "README.md", "main side\n")
    git(wt, "merge", "main", check=False)
    return lambda: "<<<<<<<" in (wt / "README.md").read_text()


def rebase_in_progress(repo: Path, wt: Path) -> Check:
    commit_file(wt, "README.md", "branch side\n")
    git(wt, "branch", "-f", "keep-branch-side", "HEAD")
    commit_file(repo, "README.md", "main side\n")
    git(wt, "rebase", "main", check=False)
    return lambda: "<<<<<<<" in (wt / "README.md").read_text()


RECIPES = [
    untracked,
    modified,
    staged,
    intent_to_add,
    assume_unchanged,
    skip_worktree,
    unpushed_commit,
    commit_kept_by_a_worktree_ref,
    merge_in_progress,
    rebase_in_progress,
]


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda r: r.__name__)
def test_remove_refuses_and_prune_keeps(
    repo: Path, wtpar: Invoke, recipe: Callable[[Path, Path], Check]
) -> None:
    assert wtpar("spawn", "w").exit_code == 0
    wt = worktree_dir(repo, "w")
    commit_file(wt, "landed.txt", "landed\n")
    git(repo, "merge", "-q", "w")
    still_there = recipe(repo, wt)
    assert still_there()
    refused = wtpar("remove", "w")
    assert refused.exit_code == 1, refused.output
    assert still_there()
    pruned = json.loads(wtpar("prune", "--merged", "--json").output)
    assert pruned["merged"] == [], pruned
    assert still_there()
    assert wtpar("remove", "w", "--force").exit_code == 0
    assert not wt.exists()
