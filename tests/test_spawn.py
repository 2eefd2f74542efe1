"""`wtpar spawn`: new, local and remote branches, idempotence, partial failure, setup."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fixtures.recipes import commit_file, git, make_branch, make_clone, make_repo
from tests.conftest import ROOT, Invoke, run_wtpar_process


def worktree_dir(repo: Path, branch: str) -> Path:
    return repo.parent / f"{repo.name}.worktrees" / branch


def test_spawn_creates_new_branches_from_base_with_files_checked_out(
    repo: Path, wtpar: Invoke
) -> None:
    result = wtpar("spawn", "feature-a", "feature/b", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    by_branch = {w["branch"]: w for w in data["worktrees"]}
    assert set(by_branch) == {"feature-a", "feature/b"}
    main_sha = git(repo, "rev-parse", "main").strip()
    for branch, path in (("feature-a", "feature-a"), ("feature/b", "feature-b")):
        wt = worktree_dir(repo, path)
        assert by_branch[branch]["path"] == str(wt)
        assert by_branch[branch]["outcome"] == "created"
        assert by_branch[branch]["base"] == "main"
        assert by_branch[branch]["base_sha"] == main_sha
        assert (wt / "src" / "app.py").read_text() == 'print("hello")\n'
        assert git(wt, "status", "--porcelain") == ""
        assert git(wt, "symbolic-ref", "--short", "HEAD").strip() == branch
        assert git(wt, "rev-parse", "HEAD").strip() == main_sha


def test_spawn_from_ref_and_state_record(repo: Path, wtpar: Invoke) -> None:
    first = git(repo, "rev-parse", "HEAD").strip()
    commit_file(repo, "later.txt", "later\n")
    result = wtpar("spawn", "old", "--from", first)
    assert result.exit_code == 0, result.output
    assert git(worktree_dir(repo, "old"), "rev-parse", "HEAD").strip() == first
    state = json.loads((repo / ".git" / "wtpar" / "state.json").read_text())
    rec = state["worktrees"]["old"]
    assert rec["base_ref"] == first and rec["base_sha"] == first
    assert rec["path"] == str(worktree_dir(repo, "old"))
    assert rec["created"] > 0


def test_spawn_checks_out_existing_local_branch(repo: Path, wtpar: Invoke) -> None:
    tip = make_branch(repo, "existing", {"src/new.py": "x = 1\n"})
    result = wtpar("spawn", "existing")
    assert result.exit_code == 0, result.output
    assert "existing branch" in result.output
    wt = worktree_dir(repo, "existing")
    assert git(wt, "rev-parse", "HEAD").strip() == tip
    assert (wt / "src" / "new.py").read_text() == "x = 1\n"


def test_spawn_tracks_a_branch_that_exists_only_on_the_remote(
    tmp_path: Path, monkeypatch: object, wtpar: Invoke
) -> None:
    origin = make_repo(tmp_path / "origin")
    tip = make_branch(origin, "remote-only", {"r.txt": "remote\n"})
    clone = make_clone(origin, tmp_path / "clone")
    result = wtpar("spawn", "remote-only", cwd=clone)
    assert result.exit_code == 0, result.output
    assert "tracking origin/remote-only" in result.output
    wt = worktree_dir(clone, "remote-only")
    assert git(wt, "rev-parse", "HEAD").strip() == tip
    upstream = git(wt, "rev-parse", "--abbrev-ref", "remote-only@{upstream}").strip()
    assert upstream == "origin/remote-only"


def test_spawn_is_idempotent(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "a").exit_code == 0
    (worktree_dir(repo, "a") / "work.txt").write_text("in progress\n")
    again = wtpar("spawn", "a")
    assert again.exit_code == 0, again.output
    assert again.output.startswith("exists")
    assert (worktree_dir(repo, "a") / "work.txt").read_text() == "in progress\n"


def test_one_bad_branch_does_not_stop_the_others(repo: Path, wtpar: Invoke) -> None:
    blocker = worktree_dir(repo, "taken")
    blocker.mkdir(parents=True)
    (blocker / "keep.txt").write_text("mine\n")
    result = wtpar("spawn", "good", "bad..name", "taken", "--json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    by_branch = {w["branch"]: w for w in data["worktrees"]}
    assert by_branch["good"]["outcome"] == "created"
    assert by_branch["bad..name"]["outcome"] == "failed"
    assert "invalid branch name" in by_branch["bad..name"]["error"]
    assert by_branch["taken"]["outcome"] == "failed"
    assert "not an empty folder" in by_branch["taken"]["error"]
    assert (blocker / "keep.txt").read_text() == "mine\n"
    assert (worktree_dir(repo, "good") / "README.md").exists()
    assert "taken" not in git(repo, "branch", "--list", "taken")


def test_a_stale_ref_lock_is_named_in_the_failure(repo: Path, wtpar: Invoke) -> None:
    # A git killed mid-write leaves refs/heads/B.lock; git's last line ("remove the file
    # manually to continue.") did not say which file.
    lock = repo / ".git" / "refs" / "heads" / "stuck.lock"
    lock.write_text("")
    result = wtpar("spawn", "stuck", "fine", "--json")
    assert result.exit_code == 1
    by_branch = {w["branch"]: w for w in json.loads(result.stdout)["worktrees"]}
    assert by_branch["fine"]["outcome"] == "created"
    assert by_branch["stuck"]["outcome"] == "failed"
    assert str(lock) in by_branch["stuck"]["error"], by_branch["stuck"]["error"]
    assert "\n" not in by_branch["stuck"]["error"]


def test_spawn_human_output_reports_failures_on_stderr(repo: Path, wtpar: Invoke) -> None:
    result = wtpar("spawn", "ok-branch", "bad~name")
    assert result.exit_code == 1
    assert "created  ok-branch" in result.stdout
    assert "failed   bad~name: invalid branch name" in result.stderr


def test_concurrent_spawn_processes_all_succeed(repo: Path) -> None:
    # Plain concurrent `git worktree add` races on .git/config; wtpar must never fail that way.
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "wtpar", "spawn", f"c{i}a", f"c{i}b", "--json"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        for i in range(6)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert all(w["outcome"] == "created" for w in json.loads(out)["worktrees"])
    listed = git(repo, "worktree", "list", "--porcelain")
    for i in range(6):
        for suffix in "ab":
            assert f"branch refs/heads/c{i}{suffix}\n" in listed
            assert git(worktree_dir(repo, f"c{i}{suffix}"), "status", "--porcelain") == ""
    state = json.loads((repo / ".git" / "wtpar" / "state.json").read_text())
    assert len(state["worktrees"]) == 12


def test_setup_copies_ignored_files_and_runs_post_create(repo: Path, wtpar: Invoke) -> None:
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "wtpar.toml").write_text(
        '[worktrees]\ncopy = [".env"]\npost_create = ["echo setup-for-$WTPAR_BRANCH > made.txt"]\n'
    )
    result = wtpar("spawn", "s1", "s2")
    assert result.exit_code == 0, result.output
    for b in ("s1", "s2"):
        wt = worktree_dir(repo, b)
        assert (wt / ".env").read_text() == "SECRET=1\n"
        assert (wt / "made.txt").read_text() == f"setup-for-{b}\n"
        log = repo / ".git" / "wtpar" / "logs" / "post_create" / f"{b}.log"
        assert "$ echo setup-for-$WTPAR_BRANCH" in log.read_text()


def test_failing_post_create_is_reported_with_its_log(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text('[worktrees]\npost_create = ["echo boom; exit 3"]\n')
    result = wtpar("spawn", "pc")
    assert result.exit_code == 1
    assert "post_create `echo boom; exit 3` exited 3" in result.stderr
    log = repo / ".git" / "wtpar" / "logs" / "post_create" / "pc.log"
    assert "boom" in log.read_text()
    assert (worktree_dir(repo, "pc") / "README.md").exists()


def test_submodules_are_initialised(tmp_path: Path, wtpar: Invoke) -> None:
    lib = make_repo(tmp_path / "lib")
    app = make_repo(tmp_path / "app")
    git(app, "submodule", "add", "-q", str(lib), "vendor/lib")
    git(app, "commit", "-qm", "add submodule")
    result = wtpar("spawn", "with-sub", cwd=app)
    assert result.exit_code == 0, result.output
    assert (worktree_dir(app, "with-sub") / "vendor" / "lib" / "README.md").exists()


def test_path_template_from_pyproject(repo: Path, wtpar: Invoke) -> None:
    (repo / "pyproject.toml").write_text('[tool.wtpar.worktrees]\npath = ".wt/{branch}"\n')
    result = wtpar("spawn", "feat/x")
    assert result.exit_code == 0, result.output
    assert (repo / ".wt" / "feat-x" / "README.md").exists()


def test_spawn_from_a_linked_worktree_uses_the_same_repository(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "one").exit_code == 0
    result = run_wtpar_process("spawn", "two", cwd=worktree_dir(repo, "one"))
    assert result.returncode == 0, result.stderr
    assert worktree_dir(repo, "two").is_dir()
