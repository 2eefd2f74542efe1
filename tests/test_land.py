"""`wtpar land` end to end on real repositories: the train lands the compatible branches,
reports the culprit with its log, lands exactly what passed, and never overwrites a base
that moved; dry runs change nothing; each strategy; cleanup."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from fixtures.recipes import commit_file, git, make_branch
from fixtures.waiting import wait_for
from tests.check_helpers import add_worktree, objects_snapshot
from tests.conftest import Invoke
from tests.land_helpers import (
    is_ancestor,
    land_json,
    outcomes,
    refs,
    temporary_worktrees,
    train_repo,
    tree_files,
)
from tests.run_helpers import alive, wtpar_popen


def test_land_lands_the_compatible_branches_and_reports_the_culprit(
    repo: Path, wtpar: Invoke
) -> None:
    train_repo(repo)
    before = tree_files(repo, "main")
    result = wtpar("land", "--json")
    assert result.exit_code == 1, result.output
    report = land_json(result)
    assert outcomes(report) == {"a": "landed", "b": "landed", "c": "culprit"}
    [culprit] = report["culprits"]
    assert culprit["branch"] == "c" and culprit["task"] == "test"
    assert "b and c break each other" in culprit["log_tail"]
    # The base now holds exactly a and b: their files, nothing of c.
    assert tree_files(repo, "main") == {**before, "flag_a": "a\n", "flag_b": "b\n"}
    assert git(repo, "rev-parse", "main").strip() == report["base_after"]
    # The main worktree had main checked out and clean: it was fast-forwarded.
    assert (repo / "flag_b").read_text() == "b\n"
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert temporary_worktrees(repo) == []
    assert git(repo, "fsck", "--no-dangling") == ""


def test_the_table_shows_each_step_and_the_culprits_log(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    result = wtpar("land")
    text = result.stdout
    assert "step  branch  combined" in text
    lines = {line.split()[1]: line for line in text.splitlines() if line[:1].isdigit()}
    assert lines["a"].endswith("landed") and lines["b"].endswith("landed")
    assert "test failed" in lines["c"] and "breaks the checks once combined" in lines["c"]
    assert "| b and c break each other" in text
    assert "moved main from" in text


def test_branches_after_the_culprit_are_tested_again_and_land(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    make_branch(repo, "d", {"flag_d": "d\n"})
    add_worktree(repo, "d")
    result = wtpar("land", "a", "b", "c", "d", "--json")
    report = land_json(result)
    assert outcomes(report) == {"a": "landed", "b": "landed", "c": "culprit", "d": "landed"}
    assert [s["branch"] for s in report["rounds"][1]["steps"]] == ["d"]
    assert report["rounds"][1]["prefix"] == ["a", "b"]
    assert set(tree_files(repo, "main")) >= {"flag_a", "flag_b", "flag_d"}
    assert "flag_c" not in tree_files(repo, "main")


def test_a_branch_conflicting_with_an_earlier_one_is_left_out(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    make_branch(repo, "a2", {"flag_a": "not a\n"})
    add_worktree(repo, "a2")
    report = land_json(wtpar("land", "a", "a2", "b", "--json"))
    assert outcomes(report) == {"a": "landed", "a2": "conflict", "b": "landed"}
    assert tree_files(repo, "main")["flag_a"] == "a\n"


def test_dry_run_prints_the_plan_and_changes_nothing(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    git(repo, "worktree", "add", "-q", str(repo.parent / "dirty"), "-b", "dirty")
    (repo.parent / "dirty" / "scratch").write_text("x")
    assert wtpar("check").exit_code == 1  # records the checks' results; dirty is blocked
    snapshot = (refs(repo), objects_snapshot(repo), git(repo, "worktree", "list"))
    result = wtpar("land", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "1. a\n  2. b\n  3. c" in result.stdout
    assert "base+a, base+a+b, base+a+b+c" in result.stdout
    assert "dirty: uncommitted changes" in result.stdout
    assert (refs(repo), objects_snapshot(repo), git(repo, "worktree", "list")) == snapshot
    # Named, the blocked branch makes the plan fail, as `land dirty` would.
    assert wtpar("land", "--dry-run", "a", "dirty").exit_code == 1


def test_a_base_that_moves_during_the_land_is_not_overwritten(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    gate = tmp_path / "move-main"
    elsewhere = make_branch(repo, "elsewhere", {"other": "x\n"})
    # The check task moves main once, from inside the train, when the gate file exists.
    mover = f"if rm {gate} 2>/dev/null; then git update-ref refs/heads/main {elsewhere}; fi\n"
    train_repo(repo, prelude=mover)
    assert wtpar("check").exit_code == 0
    gate.write_text("")
    result = wtpar("land", "a", "b", "--json")
    assert result.exit_code == 1
    report = land_json(result)
    assert report["landing"] == "base moved"
    assert "was not overwritten" in report["message"]
    assert f"(now at {elsewhere[:10]})" in report["message"]  # it said "(now ?)"
    assert outcomes(report) == {"a": "not landed", "b": "not landed"}
    assert git(repo, "rev-parse", "main").strip() == elsewhere
    assert temporary_worktrees(repo) == []


def test_a_base_checked_out_with_changes_makes_the_land_refuse(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    (repo / "test.sh").write_text("echo edited\n")
    before = refs(repo)
    result = wtpar("land")
    assert result.exit_code == 1
    assert "main is checked out in" in result.output and "uncommitted changes" in result.output
    assert refs(repo) == before


@pytest.mark.parametrize("strategy", ["merge", "squash", "rebase"])
def test_each_strategy_lands_the_branches_content(repo: Path, wtpar: Invoke, strategy: str) -> None:
    train_repo(repo)
    base = git(repo, "rev-parse", "main").strip()
    commit_file(repo.parent / "wt-a", "more_a", "more\n", "a: second commit")
    result = wtpar("land", "a", "b", "--strategy", strategy)
    assert result.exit_code == 0, result.output
    files = tree_files(repo, "main")
    assert files["flag_a"] == "a\n" and files["more_a"] == "more\n" and files["flag_b"] == "b\n"
    log = git(repo, "log", "--format=%P%x09%an%x09%s", f"{base}..main").splitlines()
    parents = [len(line.split("\t")[0].split()) for line in log]
    subjects = [line.split("\t")[2] for line in log]
    if strategy == "merge":
        assert subjects[:1] == ["Merge branch 'b' into main"]
        assert is_ancestor(repo, "a", "main")
        assert parents.count(2) == 2
    elif strategy == "squash":
        assert parents == [1, 1]
        assert subjects == ["b (squashed, 1 commit)", "a (squashed, 2 commits)"]
    else:
        assert parents == [1, 1, 1]
        assert subjects == ["b: change flag_b", "a: second commit", "a: change flag_a"]
        assert {line.split("\t")[1] for line in log} == {"Test Author"}


def test_cleanup_removes_the_landed_worktrees_and_branches(repo: Path, wtpar: Invoke) -> None:
    worktrees = train_repo(repo)
    result = wtpar("land", "--cleanup")
    assert result.exit_code == 1  # c is the culprit
    assert not worktrees["a"].exists() and not worktrees["b"].exists()
    assert worktrees["c"].exists()
    branches = git(repo, "branch", "--format=%(refname:short)").split()
    assert "a" not in branches and "b" not in branches and "c" in branches
    assert "a: worktree removed, branch deleted" in result.stdout


def test_no_run_lands_on_textual_cleanliness_and_says_so(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    result = wtpar("land", "--no-run")
    assert result.exit_code == 0, result.output
    assert "landing on textual cleanliness alone" in result.stdout
    assert {"flag_a", "flag_b", "flag_c"} <= set(tree_files(repo, "main"))


def test_push_sends_the_base_to_its_upstream(repo: Path, wtpar: Invoke, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    train_repo(repo)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "-u", "origin", "main")
    result = wtpar("land", "a", "b", "--push")
    assert result.exit_code == 0, result.output
    assert "pushed to origin main" in result.stdout
    assert git(remote, "rev-parse", "main") == git(repo, "rev-parse", "main")


def test_into_must_name_a_local_branch(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    result = wtpar("land", "--into", "nope")
    assert result.exit_code == 2
    assert "land moves a local branch, and 'nope' is not one" in result.output


def test_ctrl_c_during_the_checks_leaves_the_base_and_no_temporary_worktree(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    gate, started = tmp_path / "gate", tmp_path / "started"
    # Inside the train (once the gate exists) the check says it started, then takes long.
    slow = (
        f"if [ -e {gate} ]; then echo $$ > {started}.tmp; mv {started}.tmp {started}; "
        "exec sleep 60; fi\n"
    )
    train_repo(repo, prelude=slow)
    assert wtpar("check").exit_code == 0
    gate.write_text("")
    before = refs(repo)
    proc = wtpar_popen("land", "-j", "2", cwd=repo)
    try:
        wait_for(started.exists, 60, "a check task running in the train")
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, out + err
    assert "interrupted: main left at" in out
    assert refs(repo) == before
    assert temporary_worktrees(repo) == []
    assert git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    check = int(started.read_text())
    wait_for(lambda: not alive(check), 10, "the interrupted check task ended")


def test_temporary_worktrees_left_by_a_killed_land_are_removed_by_the_next(
    repo: Path, wtpar: Invoke
) -> None:
    train_repo(repo)
    # What a land killed with SIGKILL leaves: a worktree under a pid that no longer runs.
    left = repo / ".git" / "wtpar" / "land" / "999999999-deadbeef-1" / "a-step1"
    git(repo, "worktree", "add", "-q", "--detach", str(left), "a")
    result = wtpar("land", "a", "--json")
    assert result.exit_code == 0, result.output
    assert temporary_worktrees(repo) == []
    assert str(left) not in git(repo, "worktree", "list")


def test_a_killed_land_s_worktrees_are_nobody_s_and_prune_removes_them(
    repo: Path, wtpar: Invoke
) -> None:
    """Until the next land they were listed, and `run` ran the user's command in them
    (their commits may be gone: quarantined objects the land never kept)."""
    train_repo(repo)
    left = repo / ".git" / "wtpar" / "land" / "999999999-deadbeef-1" / "a-step1"
    git(repo, "worktree", "add", "-q", "--detach", str(left), "a")
    listed = json.loads(wtpar("list", "--json").output)["worktrees"]
    assert str(left) not in [w["path"] for w in listed]
    ran = wtpar("run", "--json", "--", "true")
    assert str(left) not in ran.output and "a-step1" not in ran.output
    assert wtpar("prune").exit_code == 0
    assert str(left) not in git(repo, "worktree", "list")


def test_blocked_branches_fail_the_exit_only_when_named(repo: Path, wtpar: Invoke) -> None:
    train_repo(repo)
    git(repo, "worktree", "add", "-q", str(repo.parent / "dirty"), "-b", "dirty")
    (repo.parent / "dirty" / "scratch").write_text("x")
    named = wtpar("land", "a", "dirty", "--no-run", "--json")
    assert named.exit_code == 1
    assert outcomes(land_json(named)) == {"a": "landed", "dirty": "blocked"}
    everything = wtpar("land", "--no-run", "--json")
    assert everything.exit_code == 0, everything.output
    assert outcomes(land_json(everything)) == {
        "a": "already in base",
        "b": "landed",
        "c": "landed",
        "dirty": "blocked",
    }


def test_ctrl_c_while_land_waits_for_the_repository_lock_lands_nothing(
    repo: Path, tmp_path: Path
) -> None:
    """The checks passed; another wtpar process holds the repository lock; the user presses
    Ctrl-C. land waited on its event loop, saw the signal only once the lock was free, and
    then moved the base and exited 0."""
    import os
    import signal

    from fixtures.waiting import wait_for
    from tests.run_helpers import wtpar_writing_stderr
    from tests.test_cache_waits import held

    started, go = tmp_path / "started", tmp_path / "go"
    wait = f"i=0; while [ ! -e {go} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done"
    train_repo(repo, f"touch {started}; {wait}")
    before = git(repo, "rev-parse", "main").strip()
    err = tmp_path / "stderr"
    with wtpar_writing_stderr("land", "a", cwd=repo, stderr=err) as proc:
        wait_for(started.exists, 60, "the check to start")
        with held(tmp_path, repo / ".git" / "wtpar" / "locks" / "repo.lock"):
            go.touch()
            said = "waiting for another wtpar process to finish changing the repository"
            wait_for(lambda: said in err.read_text(), 30, "land to wait for the lock")
            os.kill(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=10) == 130, err.read_text()  # the lock still held
    assert git(repo, "rev-parse", "main").strip() == before
