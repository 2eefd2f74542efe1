"""Results keyed by the tested tree, the command and the task's env: reused across branches
with one tree, after a rebase that left the tree as it was, and on a dirty worktree whose
state already passed; not reused when the command or the env changed."""

from __future__ import annotations

import json
from pathlib import Path

from fixtures.recipes import git, make_branch
from tests.check_helpers import add_worktree, write_config
from tests.conftest import Invoke
from tests.run_helpers import configure, spawn


def ran(stamps: Path) -> list[str]:
    """The branches the stamped task ran in, then forget them."""
    if not stamps.exists():
        return []
    lines = stamps.read_text().split()
    stamps.unlink()
    return lines


def task(stamps: Path, env: str = "") -> str:
    return f'[tasks.t]\ncmd = "echo $WTPAR_BRANCH >> {stamps}"\n{env}'


def test_two_branches_with_one_tree_share_a_result(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    configure(repo, task(stamps))
    spawn(repo, "a", "b")
    assert wtpar("run", "t", "-b", "a").exit_code == 0
    assert ran(stamps) == ["a"]
    result = wtpar("run", "t", "--changed")
    assert result.exit_code == 0 and ran(stamps) == []
    assert "unchanged: succeeded on the same clean tree" in result.output
    assert "on a)" in result.output  # b reuses a's result


def test_a_rebase_onto_an_unchanged_tree_reuses_the_result(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    configure(repo, task(stamps))
    paths = spawn(repo, "a")
    (paths["a"] / "new.txt").write_text("work\n")
    git(paths["a"], "add", "new.txt")
    git(paths["a"], "commit", "-q", "-m", "work")
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == ["a"]
    git(repo, "commit", "-q", "--allow-empty", "-m", "main moves, its tree does not")
    before = git(paths["a"], "rev-parse", "HEAD")
    git(paths["a"], "rebase", "-q", "main")
    assert git(paths["a"], "rev-parse", "HEAD") != before
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == []
    (paths["a"] / "new.txt").write_text("changed\n")
    git(paths["a"], "commit", "-q", "-am", "a real change")
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == ["a"]


def test_a_changed_command_or_env_is_not_reused(wtpar: Invoke, repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    configure(repo, task(stamps))
    spawn(repo, "a")
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == ["a"]
    configure(repo, task(stamps, env='env = { MODE = "fast" }\n'))
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == ["a"]
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == []
    configure(repo, task(stamps, env='env = { MODE = "slow" }\n'))
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == ["a"]
    cmd = f"echo $WTPAR_BRANCH >> {stamps}"
    assert wtpar("run", "--changed", "--", cmd).exit_code == 0 and ran(stamps) == ["a"]
    assert wtpar("run", "--changed", "--", cmd).exit_code == 0 and ran(stamps) == []
    assert wtpar("run", "--changed", "--", cmd + " ").exit_code == 0 and ran(stamps) == ["a"]


def test_a_dirty_worktree_is_skipped_when_its_state_already_passed(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    configure(repo, task(stamps))
    paths = spawn(repo, "a")
    (paths["a"] / "untracked.txt").write_text("draft\n")
    (paths["a"] / "README.md").write_text("edited\n")
    status = git(paths["a"], "status", "--porcelain")
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == ["a"]
    result = wtpar("run", "t", "--changed")
    assert ran(stamps) == [] and "same uncommitted tree" in result.output
    assert git(paths["a"], "status", "--porcelain") == status  # the real index is untouched
    (paths["a"] / "untracked.txt").write_text("draft 2\n")
    assert wtpar("run", "t", "--changed").exit_code == 0 and ran(stamps) == ["a"]


def test_check_reuses_a_result_from_another_branch_with_the_same_tree(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    write_config(repo, task(stamps) + '[check]\ntasks = ["t"]\n')
    make_branch(repo, "one", {"src/util.py": "better\n"})
    add_worktree(repo, "one")
    assert wtpar("check", "one").exit_code == 0 and ran(stamps) == ["one"]
    git(repo, "branch", "two", "one")
    git(repo, "commit", "-q", "--allow-empty", "-m", "same tree, another commit")
    add_worktree(repo, "two")
    git(repo.parent / "wt-two", "commit", "-q", "--amend", "-m", "reworded")
    result = wtpar("check", "--json", "two")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ran"] == [] and ran(stamps) == []
