"""Honest answers about odd worktrees (issue 9): bad input exits 2, a deleted folder, detached
worktrees named by folder, non-ASCII branch names, and a spawn killed during its checkout."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

from fixtures.recipes import git
from fixtures.waiting import wait_for
from tests.conftest import Invoke, run_wtpar_process
from tests.run_helpers import wtpar_popen
from tests.test_spawn import worktree_dir


def test_bad_input_exits_2_and_changes_nothing(repo: Path, wtpar: Invoke) -> None:
    main = wtpar("remove", "main")
    assert main.exit_code == 2
    assert "main worktree is never removed" in main.stderr
    spawn = wtpar("spawn", "x", "--from", "nosuchref")
    assert spawn.exit_code == 2
    assert "--from 'nosuchref' is not a commit" in spawn.stderr
    assert "x" not in git(repo, "branch", "--list", "x")
    assert not worktree_dir(repo, "x").exists()


def test_a_worktree_whose_folder_was_deleted(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "gone").exit_code == 0
    wt = worktree_dir(repo, "gone")
    shutil.rmtree(wt)
    path = wtpar("path", "gone")
    assert path.exit_code == 1
    assert "folder missing" in path.stderr and "wtpar prune" in path.stderr
    # Named by its path, it suggests spawning the branch, not the path (which spawn refuses).
    by_path = wtpar("path", str(wt))
    assert "`wtpar spawn gone` recreates it" in by_path.stderr, by_path.stderr
    ran = wtpar("exec", "gone", "--", "true")
    assert ran.exit_code == 1
    assert "folder missing" in ran.stderr
    in_run = wtpar("run", "-b", "gone", "--", "true")
    assert in_run.exit_code == 1
    assert "folder missing" in in_run.stderr
    rows = {r["branch"]: r for r in json.loads(wtpar("list", "--json").output)["worktrees"]}
    assert rows["gone"]["prunable"] is True
    again = wtpar("spawn", "gone")
    assert again.exit_code == 0, again.output
    assert "created" in again.output
    assert (wt / "README.md").exists()
    assert wtpar("path", "gone").output.strip() == str(wt)


def test_detached_worktrees_are_named_by_folder_or_path(repo: Path, wtpar: Invoke) -> None:
    folder = repo.parent / "side"
    git(repo, "worktree", "add", "-q", "--detach", str(folder), "HEAD")
    assert wtpar("path", "side").output.strip() == str(folder)
    assert wtpar("path", str(folder)).output.strip() == str(folder)
    ran = wtpar("exec", "side", "--", "sh", "-c", "pwd > where.txt")
    assert ran.exit_code == 0, ran.output
    assert (folder / "where.txt").read_text().strip() == str(folder)
    (folder / "where.txt").unlink()
    removed = wtpar("remove", "side")
    assert removed.exit_code == 0, removed.output
    assert not folder.exists()


def test_non_ascii_branch_names_keep_distinct_folders(repo: Path, wtpar: Invoke) -> None:
    result = wtpar("spawn", "feat-ü-日本", "feat-ä-中国", "--json")
    assert result.exit_code == 0, result.output
    paths = {w["branch"]: w["path"] for w in json.loads(result.output)["worktrees"]}
    assert paths["feat-ü-日本"] == str(worktree_dir(repo, "feat-ü-日本"))
    assert paths["feat-ä-中国"] == str(worktree_dir(repo, "feat-ä-中国"))
    assert git(paths["feat-ä-中国"], "branch", "--show-current").strip() == "feat-ä-中国"


def spawn_killed_during_checkout(repo: Path, branch: str) -> None:
    """`wtpar spawn BRANCH`, SIGKILLed (with its git) in the middle of its checkout."""
    # A smudge filter that never ends holds the checkout half-way.
    started = repo.parent / "checkout-started"
    (repo / ".gitattributes").write_text("*.md filter=stall\n")
    git(repo, "add", ".gitattributes")
    git(repo, "commit", "-qm", "filter")
    git(repo, "config", "filter.stall.smudge", f"touch '{started}'; exec sleep 600")
    proc = wtpar_popen("spawn", branch, cwd=repo, new_session=True)
    try:
        wait_for(started.exists, 30, "the checkout to start")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    git(repo, "config", "filter.stall.smudge", "cat")


def test_a_spawn_killed_during_checkout_is_completed_later(repo: Path, wtpar: Invoke) -> None:
    spawn_killed_during_checkout(repo, "half")
    wt = worktree_dir(repo, "half")
    rows = {r["branch"]: r for r in json.loads(wtpar("list", "--json").output)["worktrees"]}
    assert rows["half"]["populated"] is False
    assert "populating" in wtpar("list").output
    again = run_wtpar_process("spawn", "half", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert "completed" in again.stdout
    assert git(wt, "status", "--porcelain") == ""
    assert (wt / "README.md").exists()
    rows = {r["branch"]: r for r in json.loads(wtpar("list", "--json").output)["worktrees"]}
    assert rows["half"]["populated"] is True


def test_remove_knows_a_half_populated_worktree_holds_nothing(repo: Path, wtpar: Invoke) -> None:
    spawn_killed_during_checkout(repo, "half")
    assert git(worktree_dir(repo, "half"), "status", "--porcelain") != ""
    removed = wtpar("remove", "half")
    assert removed.exit_code == 0, removed.output
    assert not worktree_dir(repo, "half").exists()


def test_two_detached_worktrees_with_one_folder_name_need_a_path(repo: Path, wtpar: Invoke) -> None:
    first, second = repo.parent / "a" / "side", repo.parent / "b" / "side"
    for folder in (first, second):
        git(repo, "worktree", "add", "-q", "--detach", str(folder), "HEAD")
    ambiguous = wtpar("path", "side")
    assert ambiguous.exit_code == 2
    assert f"'side' names 2 detached worktrees ({first}, {second}): give its path" in (
        ambiguous.stderr
    )
    assert wtpar("path", str(second)).output.strip() == str(second)


def test_a_completed_worktree_is_not_left_locked_initializing(repo: Path, wtpar: Invoke) -> None:
    spawn_killed_during_checkout(repo, "half")
    # What a spawn killed just before its last step (unlocking the worktree) leaves.
    (repo / ".git" / "worktrees" / "half" / "locked").write_text("initializing\n")
    assert "locked initializing" in git(repo, "worktree", "list", "--porcelain")
    assert "completed" in run_wtpar_process("spawn", "half", cwd=repo).stdout
    assert "locked" not in git(repo, "worktree", "list", "--porcelain")
    assert wtpar("remove", "half").exit_code == 0


def test_names_and_folders_that_are_not_utf_8_work_throughout(tmp_path: Path) -> None:
    """A repository folder named in another encoding and a branch name that is not UTF-8
    (git takes both): spawn made half a worktree and a traceback; now spawn, list, run and
    remove work, and show the odd bytes as escapes."""
    from fixtures.recipes import make_repo

    repo = make_repo(os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff\xfe"))
    branch = os.fsdecode(b"br\xffx")
    spawned = run_wtpar_process("spawn", "a", branch, cwd=repo)
    assert spawned.returncode == 0, spawned.stderr
    assert "created  br\\xffx  " in spawned.stdout
    listed = run_wtpar_process("list", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["worktrees"]
    assert sorted(w["branch"] for w in rows) == sorted(["main", "a", branch])
    assert all(w["populated"] for w in rows)
    ran = run_wtpar_process("run", "--output", "stream", "--", "echo hi", cwd=repo)
    assert ran.returncode == 0, ran.stderr
    assert "[br\\xffx:cmd] hi" in ran.stdout.splitlines()
    removed = run_wtpar_process("remove", "a", branch, cwd=repo)
    assert removed.returncode == 0, removed.stderr
    assert not os.path.exists(worktree_dir(repo, "a"))


def test_csv_and_junit_reports_of_a_branch_whose_name_is_not_utf_8(
    repo: Path, tmp_path: Path
) -> None:
    """They crashed with a traceback (exit 1, an empty file) after the tasks had run."""
    import csv
    import xml.etree.ElementTree as ET

    branch = os.fsdecode(b"u\xff")
    assert run_wtpar_process("spawn", branch, cwd=repo).returncode == 0
    table, junit = tmp_path / "r.csv", tmp_path / "r.xml"
    args = ("run", "-b", branch, "--csv", str(table), "--junit", str(junit))
    ran = run_wtpar_process(*args, "--", "echo out; false", cwd=repo)
    assert ran.returncode == 1, ran.stderr  # the task's failure, nothing else
    assert "Traceback" not in ran.stderr
    with open(table, encoding="utf-8", errors="surrogateescape", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["branch"] for r in rows] == [branch]  # the name's bytes, as they are
    case = ET.parse(junit).getroot().find(".//testcase")
    assert case is not None and case.find("failure") is not None


def test_branch_names_holding_unicode_line_separators(repo: Path) -> None:
    """Git takes U+0085, U+2028 and U+2029 in a branch's name, and Python's `splitlines`
    splits at them: `list`, `check` and `land` crashed with a traceback, and `spawn` of such
    a branch took it for a new one. Git's output is now split at "\\n" alone."""
    names = ["nel\x85x", "ls\u2028x", "ps\u2029x"]
    for name in names:
        git(repo, "branch", name)
    spawned = run_wtpar_process("spawn", names[0], cwd=repo)
    assert spawned.returncode == 0, spawned.stderr
    listed = run_wtpar_process("list", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert names[0] in [w["branch"] for w in json.loads(listed.stdout)["worktrees"]]
    checked = run_wtpar_process("check", "--json", "--no-run", *names, cwd=repo)
    assert "Traceback" not in checked.stderr
    assert sorted(b["branch"] for b in json.loads(checked.stdout)["branches"]) == sorted(names)
    landed = run_wtpar_process("land", "--dry-run", "--no-run", names[1], cwd=repo)
    assert "Traceback" not in landed.stderr, landed.stderr
    assert landed.returncode in (0, 1), landed.stderr


def test_a_branch_and_a_folder_ending_in_a_line_separator_mid_rebase(repo: Path) -> None:
    """`strip` took a final U+2028 off the branch git names in `rebase-merge/head-name` and
    off the worktree's `.git` pointer: the worktree showed under another branch, the rebase
    went unseen, and `remove` deleted the worktree without --force."""
    from fixtures.recipes import commit_file

    branch = "fix\u2028"
    folder = repo.parent / "odd\u2028"
    git(repo, "worktree", "add", "-q", "-b", branch, str(folder))
    commit_file(folder, "README.md", "branch side\n")
    commit_file(repo, "README.md", "main side\n")
    git(folder, "rebase", "--merge", "main", check=False)
    listed = run_wtpar_process("list", "--json", cwd=repo)
    rows = {w["path"]: w for w in json.loads(listed.stdout)["worktrees"]}
    assert rows[str(folder)]["branch"] == branch
    assert rows[str(folder)]["operation"] == "rebase"
    refused = run_wtpar_process("remove", str(folder), cwd=repo)
    assert refused.returncode == 1
    assert "a rebase is in progress" in refused.stderr
    assert folder.is_dir()
