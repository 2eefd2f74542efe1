"""`wtpar list`: every worktree, with the counts a user relies on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from fixtures.recipes import commit_file, git, make_repo
from tests.conftest import Invoke
from tests.test_spawn import worktree_dir


def listed(wtpar: Invoke, cwd: Path | None = None) -> dict[str, dict[str, Any]]:
    result = wtpar("list", "--json", cwd=cwd)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema"] == 1
    return {w["branch"] or w["path"]: w for w in data["worktrees"]}


def test_list_counts_changes_and_ahead_behind(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feat").exit_code == 0
    wt = worktree_dir(repo, "feat")
    commit_file(wt, "f1.txt", "1\n")
    commit_file(wt, "f2.txt", "2\n")
    commit_file(repo, "m.txt", "main moved\n")
    (wt / "README.md").write_text("changed\n")
    (wt / "staged.txt").write_text("s\n")
    git(wt, "add", "staged.txt")
    (wt / "u1.txt").write_text("u\n")
    (wt / "u2.txt").write_text("u\n")
    rows = listed(wtpar)
    feat = rows["feat"]
    assert feat["path"] == str(wt)
    assert feat["head"] == git(wt, "rev-parse", "HEAD").strip()
    assert (feat["dirty"], feat["staged"], feat["modified"], feat["untracked"]) == (True, 1, 1, 2)
    assert (feat["ahead"], feat["behind"]) == (2, 1)
    assert feat["base"] == "main"
    assert feat["upstream"] is None and feat["upstream_ahead"] is None
    assert feat["locked"] is False and feat["prunable"] is False
    main = rows["main"]
    assert main["is_main"] is True and main["dirty"] is False
    assert (main["ahead"], main["behind"]) == (0, 0)


def test_list_includes_plain_git_worktrees_locked_prunable_and_detached(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    git(repo, "worktree", "add", "-q", "-b", "plain", str(tmp_path / "plain"))
    git(repo, "worktree", "add", "-q", "--detach", str(tmp_path / "det"))
    git(repo, "worktree", "add", "-q", "-b", "gone", str(tmp_path / "gone"))
    git(repo, "worktree", "lock", "--reason", "on a USB disk", str(tmp_path / "plain"))
    shutil.rmtree(tmp_path / "gone")
    rows = listed(wtpar)
    assert rows["plain"]["locked"] is True
    assert rows["plain"]["locked_reason"] == "on a USB disk"
    assert rows["gone"]["prunable"] is True
    assert rows["gone"]["dirty"] is None
    detached = rows[str(tmp_path / "det")]
    assert detached["detached"] is True and detached["branch"] is None
    text = wtpar("list")
    assert text.exit_code == 0
    assert "(detached)" in text.output
    assert "locked" in text.output and "prunable" in text.output


def test_list_shows_upstream_ahead_behind_and_gone(tmp_path: Path, wtpar: Invoke) -> None:
    origin = make_repo(tmp_path / "origin")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    commit_file(clone, "local.txt", "mine\n")
    commit_file(origin, "theirs.txt", "theirs\n")
    commit_file(origin, "theirs2.txt", "theirs\n")
    git(clone, "fetch", "-q")
    rows = listed(wtpar, cwd=clone)
    main = rows["main"]
    assert main["upstream"] == "origin/main"
    assert (main["upstream_ahead"], main["upstream_behind"]) == (1, 2)
    assert main["upstream_gone"] is False


def test_list_shows_an_operation_in_progress(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "conflict").exit_code == 0
    wt = worktree_dir(repo, "conflict")
    commit_file(wt, "README.md", "branch side\n")
    commit_file(repo, "README.md", "main side\n")
    git(wt, "merge", "main", check=False)
    row = listed(wtpar)["conflict"]
    assert row["operation"] == "merge"
    assert row["conflicted"] == 1
    assert "merge" in wtpar("list").output


def test_list_human_table_has_a_row_per_worktree(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "a", "b").exit_code == 0
    lines = wtpar("list").output.splitlines()
    assert lines[0].split() == [
        "BRANCH",
        "PATH",
        "HEAD",
        "DIRTY",
        "BASE",
        "UPSTREAM",
        "AGE",
        "FLAGS",
    ]
    assert [line.split()[0] for line in lines[1:]] == ["main", "a", "b"]
