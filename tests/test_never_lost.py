"""Work that `remove` and `prune` must never lose without --force (issue 9): a running task,
submodule commits, hidden (assume-unchanged / skip-worktree) changes, a rebase in progress,
and what they must say about the ignored files they do delete."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fixtures.recipes import commit_file, git, make_repo
from fixtures.waiting import wait_for
from tests.conftest import Invoke, run_wtpar_process
from tests.run_helpers import wtpar_popen
from tests.test_spawn import worktree_dir
from wtpar.git import Git, discover
from wtpar.model import IgnoredFiles
from wtpar.worktrees.safety import ignored_files


@contextmanager
def running_exec(repo: Path, branch: str, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """A real `wtpar exec BRANCH` process whose command runs until the block ends."""
    started = tmp_path / f"{branch}-started"
    gate = tmp_path / f"{branch}-gate"
    os.mkfifo(gate)
    script = f"touch '{started}'; cat '{gate}' >/dev/null; echo out > result.txt"
    proc = wtpar_popen("exec", branch, "--", "sh", "-c", script, cwd=repo)
    try:
        wait_for(started.exists, 30, "the task to start")
        yield proc
    finally:
        # Opening the FIFO for writing and closing it lets the task's `cat` end.
        with contextlib.suppress(OSError):
            os.close(os.open(gate, os.O_WRONLY | os.O_NONBLOCK))
        try:
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_remove_and_prune_refuse_a_worktree_with_a_running_task(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    assert wtpar("spawn", "b").exit_code == 0
    wt = worktree_dir(repo, "b")
    commit_file(wt, "b.txt", "b\n")
    git(repo, "merge", "-q", "b")
    with running_exec(repo, "b", tmp_path) as proc:
        refused = wtpar("remove", "b")
        assert refused.exit_code == 1
        assert "task cmd is running in it (pid " in refused.stderr
        assert wt.is_dir()
        pruned = json.loads(wtpar("prune", "--merged", "--json").output)
        assert pruned["merged"] == []
        assert "task cmd is running in it" in pruned["kept"][0]["reason"]
        assert proc.poll() is None
    assert proc.returncode == 0, proc.communicate()
    assert (wt / "result.txt").read_text() == "out\n"
    (wt / "result.txt").unlink()
    assert wtpar("remove", "b").exit_code == 0
    assert not wt.exists()


def test_remove_force_stops_the_running_task_first(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    assert wtpar("spawn", "b").exit_code == 0
    wt = worktree_dir(repo, "b")
    with running_exec(repo, "b", tmp_path) as proc:
        forced = wtpar("remove", "b", "--force")
        assert forced.exit_code == 0, forced.output
        assert "stopped task cmd (pid " in forced.output
        assert not wt.exists()
        proc.wait(timeout=30)
    assert proc.returncode != 0
    assert not (wt / "result.txt").exists()


def _repo_with_submodule(tmp_path: Path) -> Path:
    lib = make_repo(tmp_path / "lib")
    app = make_repo(tmp_path / "app")
    git(app, "submodule", "add", "-q", str(lib), "vendor/lib")
    git(app, "commit", "-qm", "add submodule")
    return app


def test_remove_refuses_submodule_commits_found_only_in_the_worktree(
    tmp_path: Path, wtpar: Invoke
) -> None:
    app = _repo_with_submodule(tmp_path)
    assert wtpar("spawn", "sub-work", cwd=app).exit_code == 0
    wt = worktree_dir(app, "sub-work")
    sub = wt / "vendor" / "lib"
    assert "/worktrees/" in git(sub, "rev-parse", "--absolute-git-dir")
    lost = commit_file(sub, "lib.txt", "only here\n")
    git(wt, "add", "vendor/lib")
    git(wt, "commit", "-qm", "bump lib")
    git(app, "merge", "-q", "sub-work")
    refused = wtpar("remove", "sub-work", cwd=app)
    assert refused.exit_code == 1
    assert "submodule vendor/lib" in refused.stderr and lost[:10] in refused.stderr
    assert sub.is_dir()
    pruned = json.loads(wtpar("prune", "--merged", "--json", cwd=app).output)
    assert pruned["merged"] == [] and "submodule vendor/lib" in pruned["kept"][0]["reason"]
    # Once the commit reaches the library's own repository, nothing would be lost.
    git(sub, "push", "-q", "origin", "HEAD:refs/heads/kept")
    git(sub, "fetch", "-q", "origin")
    assert wtpar("remove", "sub-work", cwd=app).exit_code == 0


def test_remove_names_commits_of_a_nested_submodule(tmp_path: Path, wtpar: Invoke) -> None:
    inner = make_repo(tmp_path / "inner")
    lib = make_repo(tmp_path / "lib")
    git(lib, "submodule", "add", "-q", str(inner), "inner")
    git(lib, "commit", "-qm", "add inner")
    app = make_repo(tmp_path / "app")
    git(app, "submodule", "add", "-q", str(lib), "vendor/lib")
    git(app, "submodule", "update", "--init", "--recursive", "-q")
    git(app, "commit", "-qm", "add lib")
    assert wtpar("spawn", "deep", cwd=app).exit_code == 0
    wt = worktree_dir(app, "deep")
    sub = wt / "vendor" / "lib"
    lost = commit_file(sub / "inner", "deep.txt", "only here\n")
    git(sub, "add", "inner")
    git(sub, "commit", "-qm", "bump inner")
    git(wt, "add", "vendor/lib")
    git(wt, "commit", "-qm", "bump lib")
    git(app, "merge", "-q", "deep")
    refused = wtpar("remove", "deep", cwd=app)
    assert refused.exit_code == 1
    assert "in submodule vendor/lib (" in refused.stderr
    assert f"1 commit in submodule vendor/lib/inner ({lost[:10]})" in refused.stderr


def test_remove_refuses_hidden_changes(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "assumed", "skipped", "sparse").exit_code == 0
    assumed = worktree_dir(repo, "assumed")
    git(assumed, "update-index", "--assume-unchanged", "README.md")
    (assumed / "README.md").write_text("local edit git does not show\n")
    skipped = worktree_dir(repo, "skipped")
    git(skipped, "update-index", "--skip-worktree", "src/app.py")
    (skipped / "src" / "app.py").write_text("print('hidden')\n")
    assert git(assumed, "status", "--porcelain") == ""
    assert git(skipped, "status", "--porcelain") == ""
    # skip-worktree with the file absent is a sparse checkout: nothing is lost there.
    sparse = worktree_dir(repo, "sparse")
    git(sparse, "update-index", "--skip-worktree", "src/app.py")
    (sparse / "src" / "app.py").unlink()
    result = wtpar("remove", "assumed", "skipped", "sparse")
    assert result.exit_code == 1
    assert "refused  assumed: would lose 1 hidden change (assume-unchanged: README.md)" in (
        result.stderr
    )
    assert "refused  skipped: would lose 1 hidden change (skip-worktree: src/app.py)" in (
        result.stderr
    )
    assert "removed  sparse" in result.output
    assert (assumed / "README.md").read_text() == "local edit git does not show\n"


def test_remove_says_which_ignored_files_it_deleted(repo: Path, wtpar: Invoke) -> None:
    (repo / ".gitignore").write_text("build/\n*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore build output")
    assert wtpar("spawn", "built").exit_code == 0
    wt = worktree_dir(repo, "built")
    (wt / "build").mkdir()
    (wt / "build" / "a.o").write_bytes(b"\0" * 3000)
    (wt / "build" / "b.o").write_bytes(b"\0" * 2000)
    (wt / "run.log").write_text("x" * 1000)
    result = wtpar("remove", "built")
    assert result.exit_code == 0, result.output
    assert "also 3 ignored files, 6.0 kB" in result.output
    assert wtpar("spawn", "again").exit_code == 0
    data = json.loads(wtpar("remove", "again", "--json").output)
    assert data["removed"][0]["ignored_files"] == 0
    assert data["removed"][0]["ignored_bytes"] == 0


def test_counting_ignored_files_stops_at_its_budget(repo: Path) -> None:
    (repo / ".gitignore").write_text("build/\n")
    (repo / "build" / "deep").mkdir(parents=True)
    (repo / "build" / "deep" / "a.o").write_bytes(b"\0" * 10)
    git_ = Git(discover(repo))
    assert ignored_files(git_, str(repo)) == IgnoredFiles(1, 10)
    partial = ignored_files(git_, str(repo), budget=-1)
    assert not partial.complete and partial.files == 0
    assert IgnoredFiles(5000, 12_000_000, complete=False).text() == (
        "also at least 5000 ignored files, 12 MB"
    )


def test_prune_merged_reports_ignored_files_and_keeps_new_branches(
    repo: Path, wtpar: Invoke
) -> None:
    (repo / ".gitignore").write_text("*.log\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore logs")
    assert wtpar("spawn", "landed", "fresh").exit_code == 0
    landed = worktree_dir(repo, "landed")
    commit_file(landed, "l.txt", "l\n")
    (landed / "debug.log").write_text("12345")
    git(repo, "merge", "-q", "landed")
    # `fresh` has no commit of its own: its head is still the base it was spawned from.
    result = wtpar("prune", "--merged")
    assert result.exit_code == 0, result.output
    assert "removed  landed  (merged; also 1 ignored file, 5 B)" in result.output
    assert "kept  fresh: no commit since it was spawned from main (new, not merged)" in (
        result.stderr
    )
    assert worktree_dir(repo, "fresh").is_dir()


def _stopped_rebase(repo: Path, wtpar: Invoke, backend: str) -> Path:
    assert wtpar("spawn", "o1").exit_code == 0
    wt = worktree_dir(repo, "o1")
    commit_file(wt, "README.md", "branch side\n")
    commit_file(repo, "README.md", "main side\n")
    git(wt, "rebase", backend, "main", check=False)
    state = "rebase-merge" if backend == "--merge" else "rebase-apply"
    assert (Path(git(wt, "rev-parse", "--absolute-git-dir").strip()) / state).is_dir()
    assert git(wt, "branch", "--show-current").strip() == ""
    (wt / "notes.txt").write_text("uncommitted\n")
    return wt


@pytest.mark.parametrize("backend", ["--merge", "--apply"])
def test_a_worktree_mid_rebase_belongs_to_the_branch_being_rebased(
    repo: Path, wtpar: Invoke, backend: str
) -> None:
    wt = _stopped_rebase(repo, wtpar, backend)
    rows = {r["branch"]: r for r in json.loads(wtpar("list", "--json").output)["worktrees"]}
    assert rows["o1"]["path"] == str(wt) and rows["o1"]["operation"] == "rebase"
    assert wtpar("path", "o1").output.strip() == str(wt)
    check = wtpar("check", "o1", "--no-run")
    assert check.exit_code == 1
    assert "blocked" in check.output and "rebase is in progress" in check.output
    assert "o1" in wtpar("check", "--no-run").output
    refused = wtpar("remove", "o1")
    assert refused.exit_code == 1
    assert "a rebase is in progress" in refused.stderr
    assert (wt / "notes.txt").exists()


def test_spawn_keeps_git_s_rule_against_local_path_submodules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """git refuses to clone a submodule from a local path unless the user allowed it
    (CVE-2022-39253); spawn no longer overrides that: the setup says what git refused."""
    app = _repo_with_submodule(tmp_path)
    strict = tmp_path / "strict.gitconfig"  # the tests' own config allows it: not this one
    strict.write_text("[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(strict))
    done = run_wtpar_process("spawn", "feature", cwd=app)
    assert "submodules:" in done.stderr and "not allowed" in done.stderr, done.stderr
