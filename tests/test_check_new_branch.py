"""`wtpar check` on a branch with no commit since it was spawned: it is new, not merged, so
check says so and does not recommend `prune --merged` (which keeps such a branch)."""

from __future__ import annotations

from pathlib import Path

from fixtures.recipes import commit_file, git
from tests.check_helpers import branch_of, codes, report_of
from tests.conftest import Invoke


def test_a_branch_without_a_commit_since_spawn_is_new_not_merged(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "n").exit_code == 0
    text = wtpar("check", "n")
    assert text.exit_code == 0
    assert "n: new" in text.stdout
    assert "no commit of its own since it was spawned from main" in text.stdout
    assert "prune" not in text.stdout
    branch = branch_of(report_of(wtpar("check", "n", "--json")), "n")
    assert branch["verdict"] == "new"
    assert codes(branch) == {"new": False}
    assert "new, not merged" in wtpar("prune", "--merged", "--dry-run").output  # agrees


def test_a_spawned_branch_merged_after_its_own_commit_is_merged(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "m").exit_code == 0
    path = Path(git(repo, "worktree", "list", "--porcelain").split("worktree ")[2].split("\n")[0])
    commit_file(path, "m.txt", "m\n", "m's work")
    git(repo, "merge", "-q", "--no-edit", "m")
    branch = branch_of(report_of(wtpar("check", "m", "--json")), "m")
    assert branch["verdict"] == "merged"
    assert "integrated" in codes(branch)
