"""`wtpar remove` and `wtpar prune`: fast, and never losing work without --force."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from fixtures.recipes import commit_file, git, make_clone, make_repo
from fixtures.waiting import wait_for
from tests.conftest import Invoke
from tests.run_helpers import configure, wtpar_popen
from tests.test_spawn import worktree_dir


def branches(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads").split())


def test_remove_clean_worktree_moves_it_out_and_deletes_in_background(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "done").exit_code == 0
    wt = worktree_dir(repo, "done")
    build = wt / "build"
    build.mkdir()
    for i in range(200):
        (build / f"out{i}.o").write_bytes(b"\0" * 1024)
    result = wtpar("remove", "done")
    assert result.exit_code == 0, result.output
    assert not wt.exists()
    assert "done" not in git(repo, "worktree", "list")
    assert "done" in branches(repo)
    trash = repo / ".git" / "wtpar" / "trash"
    wait_for(lambda: not trash.exists() or not os.listdir(trash), 20, "trash to be emptied")
    state = json.loads((repo / ".git" / "wtpar" / "state.json").read_text())
    assert "done" not in state["worktrees"]


def test_remove_refuses_uncommitted_and_untracked_work(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "wip").exit_code == 0
    wt = worktree_dir(repo, "wip")
    (wt / "README.md").write_text("edited\n")
    (wt / "notes.txt").write_text("new\n")
    result = wtpar("remove", "wip")
    assert result.exit_code == 1
    assert "would lose uncommitted changes: 1 modified, 1 untracked" in result.stderr
    assert (wt / "notes.txt").read_text() == "new\n"
    forced = wtpar("remove", "wip", "--force")
    assert forced.exit_code == 0
    assert not wt.exists()


def test_remove_refuses_commits_on_no_other_branch(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "ahead").exit_code == 0
    commit_file(worktree_dir(repo, "ahead"), "x.txt", "x\n")
    result = wtpar("remove", "ahead")
    assert result.exit_code == 1
    assert "1 commit on no other branch or remote" in result.stderr
    git(repo, "branch", "ahead-copy", "ahead")
    assert wtpar("remove", "ahead").exit_code == 0


def test_remove_accepts_commits_that_are_pushed(tmp_path: Path, wtpar: Invoke) -> None:
    origin = make_repo(tmp_path / "origin")
    clone = make_clone(origin, tmp_path / "clone")
    assert wtpar("spawn", "pushed", cwd=clone).exit_code == 0
    wt = worktree_dir(clone, "pushed")
    commit_file(wt, "p.txt", "p\n")
    git(wt, "push", "-q", "origin", "pushed")
    assert wtpar("remove", "pushed", cwd=clone).exit_code == 0


def test_remove_never_touches_main_or_locked_or_unknown(repo: Path, wtpar: Invoke) -> None:
    main = wtpar("remove", "main", "--force")
    assert main.exit_code == 2
    assert "main worktree is never removed" in main.stderr
    assert wtpar("spawn", "locked").exit_code == 0
    git(repo, "worktree", "lock", str(worktree_dir(repo, "locked")))
    locked = wtpar("remove", "locked", "--force")
    assert locked.exit_code == 1
    assert "locked" in locked.stderr and worktree_dir(repo, "locked").exists()
    unknown = wtpar("remove", "nope")
    assert unknown.exit_code == 2
    assert "no worktree for branch 'nope'" in unknown.stderr


def test_delete_branch_only_when_integrated(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "merged", "squashed", "open").exit_code == 0
    commit_file(worktree_dir(repo, "merged"), "m.txt", "m\n")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge", "merged")
    commit_file(worktree_dir(repo, "squashed"), "s1.txt", "1\n")
    commit_file(worktree_dir(repo, "squashed"), "s2.txt", "2\n")
    git(repo, "merge", "-q", "--squash", "squashed")
    git(repo, "commit", "-q", "-m", "squash")
    commit_file(worktree_dir(repo, "open"), "o.txt", "o\n")
    git(repo, "branch", "open-backup", "open")
    result = wtpar("remove", "merged", "squashed", "open", "--delete-branch", "--json")
    assert result.exit_code == 0, result.output
    rows = {r["branch"]: r for r in json.loads(result.output)["removed"]}
    assert rows["merged"]["branch_deleted"] is True
    assert rows["squashed"]["branch_deleted"] is True
    assert rows["open"]["branch_deleted"] is False
    assert rows["open"]["message"] == "kept branch open: not integrated into main"
    assert branches(repo) == {"main", "open", "open-backup"}


def test_prune_forgets_missing_folders_and_dry_run_changes_nothing(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "lost", "kept").exit_code == 0
    shutil.rmtree(worktree_dir(repo, "lost"))
    dry = wtpar("prune", "--dry-run")
    assert dry.exit_code == 0
    assert "would prune" in dry.output and "lost" in dry.output
    assert "prunable" in git(repo, "worktree", "list", "--porcelain")
    real = wtpar("prune", "--json")
    assert json.loads(real.output)["stale"] == [str(worktree_dir(repo, "lost"))]
    listing = git(repo, "worktree", "list")
    assert "lost" not in listing and "kept" in listing


def test_prune_merged_removes_clean_integrated_worktrees_only(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "landed", "dirty-landed", "unmerged").exit_code == 0
    commit_file(worktree_dir(repo, "landed"), "l.txt", "l\n")
    git(repo, "merge", "-q", "landed")
    (worktree_dir(repo, "dirty-landed") / "scratch.txt").write_text("keep me\n")
    commit_file(worktree_dir(repo, "unmerged"), "u.txt", "u\n")
    dry = json.loads(wtpar("prune", "--merged", "--dry-run", "--json").output)
    assert dry["merged"] == ["landed"]
    assert worktree_dir(repo, "landed").exists()
    result = wtpar("prune", "--merged", "--json")
    data = json.loads(result.output)
    assert data["merged"] == ["landed"]
    assert [k["branch"] for k in data["kept"]] == ["dirty-landed"]
    assert not worktree_dir(repo, "landed").exists()
    assert (worktree_dir(repo, "dirty-landed") / "scratch.txt").exists()
    assert worktree_dir(repo, "unmerged").exists()


def test_path_prints_the_worktree_path(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feat/p").exit_code == 0
    result = wtpar("path", "feat/p")
    assert result.exit_code == 0
    assert result.output.strip() == str(worktree_dir(repo, "feat-p"))
    assert wtpar("path", "missing").exit_code == 2


def test_concurrent_removes_of_one_worktree_have_one_winner(repo: Path, wtpar: Invoke) -> None:
    # The hook holds each remover between finding the worktree and taking it away, the
    # window in which another remover used to pull it from under it.
    configure(repo, '[worktrees]\npre_remove = ["sleep 0.5"]\n')
    assert wtpar("spawn", "cc1").exit_code == 0
    procs = [wtpar_popen("remove", "cc1", cwd=repo) for _ in range(3)]
    ended = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in ended)
    assert codes == [0, 2, 2], ended
    for code, _, err in ended:
        if code == 2:
            assert err.startswith("wtpar: error: no worktree for branch 'cc1'"), err
    assert not worktree_dir(repo, "cc1").exists()
