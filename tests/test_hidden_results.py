"""Hidden changes (files marked assume-unchanged or skip-worktree whose content differs) are
changes: `run --changed` never reuses a result of the committed tree for them, a run there
records no result for HEAD's tree, and the Dask snapshot holds the files as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.recipes import git
from tests.conftest import Invoke
from tests.run_helpers import configure, spawn
from tests.test_tree_results import ran, task


@pytest.mark.parametrize("flag", ["--assume-unchanged", "--skip-worktree"])
def test_a_hidden_change_does_not_reuse_the_committed_trees_result(
    wtpar: Invoke, repo: Path, tmp_path: Path, flag: str
) -> None:
    stamps = tmp_path / "stamps"
    configure(repo, task(stamps))
    paths = spawn(repo, "a", "b")
    assert wtpar("run", "t", "-b", "a").exit_code == 0 and ran(stamps) == ["a"]
    (paths["b"] / "README.md").write_text("hidden\n")
    git(paths["b"], "update-index", flag, "README.md")
    assert git(paths["b"], "status", "--porcelain") == ""  # git status does not show it
    result = wtpar("run", "t", "--changed", "-b", "b")
    assert result.exit_code == 0 and ran(stamps) == ["b"], result.output
    # The hidden state that passed is itself a tree whose result is reused.
    assert wtpar("run", "t", "--changed", "-b", "b").exit_code == 0 and ran(stamps) == []
    assert git(paths["b"], "ls-files", "-v", "README.md")[0] in "hS"  # the flag is kept


def test_a_run_over_a_hidden_change_records_nothing_for_the_committed_tree(
    wtpar: Invoke, repo: Path, tmp_path: Path
) -> None:
    stamps = tmp_path / "stamps"
    configure(repo, task(stamps))
    paths = spawn(repo, "a", "b")
    (paths["b"] / "README.md").write_text("hidden\n")
    git(paths["b"], "update-index", "--assume-unchanged", "README.md")
    assert wtpar("run", "t", "-b", "b").exit_code == 0 and ran(stamps) == ["b"]
    # a is clean at the same HEAD tree: b's pass was not about that tree.
    assert wtpar("run", "t", "--changed", "-b", "a").exit_code == 0 and ran(stamps) == ["a"]
