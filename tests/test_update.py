"""`wtpar update` on real worktrees: a clean rebase, a conflict put back exactly as it was
and reported with its files, a worktree with changes skipped; `--merge`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from fixtures.recipes import commit_file, git, make_branch
from fixtures.waiting import wait_for
from tests.check_helpers import add_worktree
from tests.conftest import ROOT, Invoke
from tests.land_helpers import is_ancestor


def three_branches(repo: Path) -> dict[str, Path]:
    """clean (rebases fine), clash (conflicts with main's new commit), dirty (has changes);
    main then moves on."""
    make_branch(repo, "clean", {"clean.txt": "clean\n"})
    make_branch(repo, "clash", {"README.md": "clash's readme\n"})
    make_branch(repo, "dirty", {"dirty.txt": "dirty\n"})
    wts = {name: add_worktree(repo, name) for name in ("clean", "clash", "dirty")}
    (wts["dirty"] / "dirty.txt").write_text("edited, not committed\n")
    commit_file(repo, "README.md", "main's readme\n", "main moves on")
    return wts


def update_json(wtpar: Invoke, *args: str) -> tuple[int, dict[str, dict[str, object]]]:
    result = wtpar("update", "--json", *args)
    data = json.loads(result.stdout)
    return result.exit_code, {b["branch"]: b for b in data["branches"]}


def test_update_rebases_restores_a_conflict_and_skips_a_dirty_worktree(
    repo: Path, wtpar: Invoke
) -> None:
    wts = three_branches(repo)
    heads = {b: git(repo, "rev-parse", b).strip() for b in wts}
    code, result = update_json(wtpar)
    assert code == 1
    assert {b: r["outcome"] for b, r in result.items()} == {
        "clean": "updated",
        "clash": "conflict",
        "dirty": "skipped",
    }
    main = git(repo, "rev-parse", "main").strip()
    assert is_ancestor(repo, main, "clean")
    assert git(repo, "rev-list", "--count", "--merges", "main..clean").strip() == "0"
    # The conflicting branch is exactly where it was: same commit, clean, no rebase under way.
    assert result["clash"]["files"] == ["README.md"]
    assert git(repo, "rev-parse", "clash").strip() == heads["clash"]
    assert git(wts["clash"], "status", "--porcelain") == ""
    gitdir = Path(git(wts["clash"], "rev-parse", "--absolute-git-dir").strip())
    assert not (gitdir / "rebase-merge").exists() and not (gitdir / "rebase-apply").exists()
    # The dirty one is untouched, its change still there, and the reason says why.
    assert "uncommitted changes" in str(result["dirty"]["detail"])
    assert git(repo, "rev-parse", "dirty").strip() == heads["dirty"]
    assert (wts["dirty"] / "dirty.txt").read_text() == "edited, not committed\n"


def test_update_merge_merges_the_base_in(repo: Path, wtpar: Invoke) -> None:
    three_branches(repo)
    code, result = update_json(wtpar, "clean", "--merge")
    assert code == 0 and result["clean"]["outcome"] == "updated"
    assert git(repo, "rev-list", "--count", "--merges", "main..clean").strip() == "1"
    code, result = update_json(wtpar, "clean")
    assert code == 0 and result["clean"]["outcome"] == "up to date"


def test_update_table_names_the_conflicting_files(repo: Path, wtpar: Invoke) -> None:
    three_branches(repo)
    text = wtpar("update", "clash").stdout
    assert "clash   conflict" in text
    assert "conflicts in README.md; put back as it was" in text


def test_update_merge_that_conflicts_is_aborted_and_reported(repo: Path, wtpar: Invoke) -> None:
    wts = three_branches(repo)
    head = git(repo, "rev-parse", "clash").strip()
    code, result = update_json(wtpar, "clash", "--merge")
    assert code == 1
    assert result["clash"]["outcome"] == "conflict" and result["clash"]["files"] == ["README.md"]
    assert git(repo, "rev-parse", "clash").strip() == head
    assert git(wts["clash"], "status", "--porcelain") == ""
    gitdir = Path(git(wts["clash"], "rev-parse", "--absolute-git-dir").strip())
    assert not (gitdir / "MERGE_HEAD").exists()


def test_update_skips_a_worktree_with_a_hidden_change(repo: Path, wtpar: Invoke) -> None:
    """An assume-unchanged file edited in the worktree is a change `git status` hides: the
    rebase would fail ("could not detach HEAD") or carry it along; update skips it, naming it."""
    wts = three_branches(repo)
    path = wts["clash"]
    git(path, "update-index", "--assume-unchanged", "README.md")
    (path / "README.md").write_text("hidden edit\n")
    head = git(repo, "rev-parse", "clash").strip()
    code, result = update_json(wtpar, "clash")
    assert code == 1
    assert result["clash"]["outcome"] == "skipped"
    assert "hidden change (assume-unchanged: README.md)" in str(result["clash"]["detail"])
    assert git(repo, "rev-parse", "clash").strip() == head
    assert (path / "README.md").read_text() == "hidden edit\n"


def test_ctrl_c_during_update_leaves_no_worktree_mid_rebase(repo: Path, tmp_path: Path) -> None:
    """A Ctrl-C at the terminal reaches every process of the foreground group: it killed
    git half-way through the rebase, and left the worktree mid-rebase (a stale index.lock
    once in a while), against the README's promise. git now runs out of its reach: the
    rebase finishes, then wtpar stops (130)."""
    make_branch(repo, "slow", {"slow.txt": "slow\n"})
    wt = add_worktree(repo, "slow")
    commit_file(repo, "README.md", "main's readme\n", "main moves on")
    started = tmp_path / "checkout-hook-started"
    hook = repo / ".git" / "hooks" / "post-checkout"  # runs inside the rebase
    hook.write_text(f"#!/bin/sh\ntouch {started}\nsleep 2\n")
    hook.chmod(0o755)
    proc = subprocess.Popen(
        [sys.executable, "-m", "wtpar", "update", "slow"],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,  # its own group, as a terminal's foreground job
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(started.exists, timeout=60, what="the rebase's checkout hook")
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at the terminal does
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    gitdir = Path(git(wt, "rev-parse", "--absolute-git-dir").strip())
    assert not (gitdir / "rebase-merge").exists() and not (gitdir / "index.lock").exists()
    assert is_ancestor(repo, "main", "slow")  # the rebase under way finished
    assert git(wt, "status", "--porcelain") == ""
