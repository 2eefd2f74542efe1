"""`wtpar land` and what lies beyond the base ref: the worktree where the base is checked out
(an untracked file the landed branches add makes the land refuse, naming it, before the ref
moves) and the upstream `--push` sends it to (a refusal says git's reason)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from fixtures.recipes import commit_file, git, make_clone
from tests.conftest import Invoke
from tests.land_helpers import land_json, refs, train_repo


def test_an_untracked_file_the_branches_add_makes_the_land_refuse_first(
    repo: Path, wtpar: Invoke
) -> None:
    train_repo(repo)
    (repo / "flag_b").write_text("mine\n")  # untracked in main's worktree; branch b adds it
    before = refs(repo)
    for args in (("a", "b"), ()):
        result = wtpar("land", *args)
        assert result.exit_code == 1
        assert f"untracked file flag_b in {repo} would be overwritten" in result.output
        assert "round 1" not in result.output  # refused before the train ran anything
        assert refs(repo) == before
    assert (repo / "flag_b").read_text() == "mine\n"
    assert git(repo, "status", "--porcelain", "-uno") == ""  # no stale index either


def test_an_untracked_file_appearing_during_the_land_keeps_the_base_where_it_was(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    # The check task drops flag_a into main's worktree, from inside the train, once.
    dropper = f"if rm {gate} 2>/dev/null; then echo mine > {repo}/flag_a; fi\n"
    train_repo(repo, prelude=dropper)
    assert wtpar("check").exit_code == 0  # the results are recorded: land runs no check first
    gate.write_text("")
    before = refs(repo)
    result = wtpar("land", "a", "b", "--json")
    assert result.exit_code == 1
    report = land_json(result)
    assert report["landing"] == "base worktree has changes"
    assert any("untracked file flag_a" in note for note in report["notes"])
    (repo / "flag_a").unlink()
    gate.write_text("")
    text = wtpar("land", "a", "b")  # the same, in words
    assert text.exit_code == 1
    assert "was not moved under it: nothing landed" in text.output
    assert "commit or stash" not in text.output  # an untracked file, not uncommitted changes
    assert refs(repo) == before
    assert git(repo, "status", "--porcelain", "-uno") == ""
    assert (repo / "flag_a").read_text() == "mine\n"


def test_a_refused_push_says_someone_pushed_first(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    train_repo(repo)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    other = make_clone(remote, tmp_path / "other")
    commit_file(other, "theirs.txt", "theirs\n", "someone else's commit")
    git(other, "push", "-q", "origin", "HEAD:main")
    result = wtpar("land", "a", "--push", "--no-run")
    assert result.exit_code == 1
    assert "push to origin main refused: rejected (fetch first)" in result.stdout
    assert "someone pushed first" in result.stdout
    assert "Done" not in result.stdout


def test_collisions_cover_files_in_a_folders_way_and_folders_in_a_files_way(repo: Path) -> None:
    from wtpar.git import Git
    from wtpar.git.repo import discover
    from wtpar.land.collide import untracked_collisions

    base = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "switch", "-q", "-c", "adds")
    commit_file(repo, "d/e.txt", "theirs\n", "adds d/e.txt")
    commit_file(repo, "f", "theirs\n", "adds f")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "switch", "-q", "main")
    g = Git(discover(repo))
    assert untracked_collisions(g, str(repo), base, [head]) == []
    (repo / "d").write_text("a file where a folder goes\n")
    (repo / "f").mkdir()
    (repo / "f" / "kept.txt").write_text("in a folder where a file goes\n")
    assert untracked_collisions(g, str(repo), base, [head]) == ["d", "f/kept.txt"]


def test_a_base_worktree_that_cannot_be_updated_gets_advice_that_works(
    repo: Path, wtpar: Invoke
) -> None:
    """The base moved, but its checked-out worktree could not follow (its index was locked).
    The advice was `git reset --keep main`: HEAD being there already, that left the old
    files, which then read as changes undoing the land."""
    train_repo(repo)
    assert wtpar("check").exit_code == 0  # results recorded: the land runs no check
    lock = repo / ".git" / "index.lock"
    lock.write_text("")
    result = wtpar("land", "a")
    assert result.exit_code == 0, result.output
    advice = re.search(r"`(git -C [^`]*read-tree[^`]*)`", result.output)
    assert advice is not None, result.output
    assert git(repo, "status", "--porcelain", "-uno") != ""  # the land is not in the files
    lock.unlink()
    subprocess.run(["bash", "-c", advice.group(1)], check=True)
    assert git(repo, "status", "--porcelain", "-uno") == ""
    assert (repo / "flag_a").read_text() == "a\n"


def test_push_keeps_the_upstream_branch_s_name_whole(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    """An upstream branch named `rel` and U+2028: `strip` cut the name, and `--push` made a
    new branch `rel` on the remote, said it had pushed, and left the upstream behind."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    train_repo(repo)
    upstream = "rel\u2028"
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", f"main:refs/heads/{upstream}")
    git(repo, "branch", "-q", f"--set-upstream-to=origin/{upstream}", "main")
    assert wtpar("check").exit_code == 0
    result = wtpar("land", "a", "--push")
    assert result.exit_code == 0, result.output
    assert git(remote, "for-each-ref", "--format=%(refname)") == f"refs/heads/{upstream}\n"
    assert git(remote, "rev-parse", upstream) == git(repo, "rev-parse", "main")


def test_a_file_merely_touched_in_the_base_s_worktree_does_not_stop_its_update(
    repo: Path, wtpar: Invoke
) -> None:
    """read-tree takes a file whose time changed for a changed file ("not uptodate") until
    the index is refreshed, which `git status --no-optional-locks` does not save: the land
    left the worktree behind, and said it had been changed."""
    commit_file(repo, "x.txt", "old\n", "x")
    feat = repo.parent / "feat"
    git(repo, "worktree", "add", "-q", "-b", "feat", str(feat))
    commit_file(feat, "x.txt", "new\n", "x changed")
    stamp = (repo / "x.txt").stat().st_mtime + 5
    os.utime(repo / "x.txt", (stamp, stamp))  # touched, not changed
    result = wtpar("land", "--no-run", "feat")
    assert result.exit_code == 0, result.output
    assert "not brought up to date" not in result.output
    assert (repo / "x.txt").read_text() == "new\n"
    assert git(repo, "status", "--porcelain", "-uno") == ""
