"""The Dask path's parts that need no cluster: snapshots, the worker cache, settings, checks."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from fixtures.recipes import commit_file, git
from wtpar.config import load_config
from wtpar.errors import ConfigError, UsageError
from wtpar.run.dask.checkout import CheckoutError, checked_out, repo_folder
from wtpar.run.dask.connect import insecure_warning, version_mismatches
from wtpar.run.dask.settings import dask_settings
from wtpar.run.dask.snapshot import publish, run_ref, snapshot, unpublish
from wtpar.run.runconfig import backend_of

pytestmark = pytest.mark.dask


def _refs(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname)").split()


def test_a_clean_worktree_runs_on_its_head(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    snap = snapshot(str(repo / "src"))
    assert (snap.commit, snap.snapshotted, snap.top) == (head, False, str(repo))


def test_uncommitted_changes_become_a_commit_without_touching_the_worktree(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "README.md").write_text("changed\n")
    (repo / "new.txt").write_text("untracked\n")
    (repo / "src" / "util.py").unlink()
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_text("ignored\n")
    git(repo, "add", "README.md")
    status_before = git(repo, "status", "--porcelain")
    index_before = (repo / ".git" / "index").read_bytes()

    snap = snapshot(str(repo))

    assert snap.snapshotted and snap.commit != head
    assert git(repo, "rev-parse", f"{snap.commit}^").strip() == head
    files = git(repo, "ls-tree", "-r", "--name-only", snap.commit).split()
    assert "new.txt" in files and "src/util.py" not in files and "build/out.o" not in files
    assert git(repo, "show", f"{snap.commit}:README.md") == "changed\n"
    assert git(repo, "status", "--porcelain") == status_before
    assert (repo / ".git" / "index").read_bytes() == index_before
    assert not snapshot(str(repo), include_changes=False).snapshotted


def test_published_refs_exist_for_the_run_and_are_deleted_after(repo: Path, tmp_path: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    publish(str(repo), None, "r1", [head])
    assert run_ref("r1", head) in _refs(repo)
    unpublish(str(repo), None, "r1", [head])
    assert run_ref("r1", head) not in _refs(repo)

    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    publish(str(repo), str(remote), "r2", [head])
    assert _refs(remote) == [run_ref("r2", head)]
    unpublish(str(repo), str(remote), "r2", [head])
    assert _refs(remote) == []


def checkout(source: str, ref: str, commit: str, cache: str, keep: int = 16) -> str:
    """The worktree's path (not kept from pruning after the call)."""
    with checked_out(source, ref, commit, cache, keep) as path:
        return path


def test_a_worker_checks_out_each_commit_once_and_reuses_it(repo: Path, tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    first = git(repo, "rev-parse", "HEAD").strip()
    second = commit_file(repo, "only-here.txt", "second\n")
    for commit in (first, second):
        publish(str(repo), None, "r", [commit])
    source = str(repo / ".git")

    paths: list[str] = []
    threads = [
        threading.Thread(
            target=lambda: paths.append(checkout(source, run_ref("r", second), second, cache))
        )
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(paths)) == 1
    assert (Path(paths[0]) / "only-here.txt").read_text() == "second\n"

    older = checkout(source, run_ref("r", first), first, cache)
    assert not (Path(older) / "only-here.txt").exists()
    assert os.listdir(repo_folder(cache, source)).count("mirror.git") == 1

    unpublish(str(repo), None, "r", [first, second])
    assert checkout(source, run_ref("r", second), second, cache) == paths[0]  # no fetch needed


def _kept(cache: str, source: str) -> set[str]:
    """The commits whose worktrees the cache holds (and git knows of)."""
    folder = repo_folder(cache, source)
    trees = {n for n in os.listdir(os.path.join(folder, "trees")) if len(n) == 40}
    listed = git(os.path.join(folder, "mirror.git"), "worktree", "list", "--porcelain")
    registered = {Path(line.split(" ", 1)[1]).name for line in listed.splitlines()
                  if line.startswith("worktree ") and "/trees/" in line}  # fmt: skip
    assert trees == registered
    return trees


def test_a_worker_keeps_the_most_recently_used_worktrees_and_any_in_use(
    repo: Path, tmp_path: Path
) -> None:
    cache, source = str(tmp_path / "cache"), str(repo / ".git")
    commits = [git(repo, "rev-parse", "HEAD").strip()]
    commits += [commit_file(repo, f"f{i}.txt", f"{i}\n") for i in range(4)]
    publish(str(repo), None, "r", commits)
    c0, c1, c2, c3, c4 = commits

    for commit in (c0, c1, c2):
        checkout(source, run_ref("r", commit), commit, cache, keep=2)
    assert _kept(cache, source) == {c1, c2}

    checkout(source, run_ref("r", c1), c1, cache, keep=2)  # used again: now the latest
    checkout(source, run_ref("r", c3), c3, cache, keep=2)
    assert _kept(cache, source) == {c1, c3}

    # A worktree a task is running in stays, however old, until the task ends.
    with checked_out(source, run_ref("r", c1), c1, cache, 1) as running:
        (Path(running) / "output.txt").write_text("the task's own file\n")
        checkout(source, run_ref("r", c4), c4, cache, keep=1)
        assert _kept(cache, source) == {c1, c4}
        assert (Path(running) / "output.txt").exists()
    checkout(source, run_ref("r", c3), c3, cache, keep=1)
    assert _kept(cache, source) == {c3}

    # A pruned commit is checked out again when a task needs it.
    assert (Path(checkout(source, run_ref("r", c0), c0, cache, keep=1)) / "README.md").exists()


def test_a_commit_the_source_does_not_hold_is_a_clear_error(repo: Path, tmp_path: Path) -> None:
    missing = "0" * 40
    with pytest.raises(CheckoutError, match="cannot check out 0000000000"):
        checkout(str(repo / ".git"), run_ref("r", missing), missing, str(tmp_path / "cache"))


def test_dask_settings_are_checked_with_the_line(repo: Path) -> None:
    (repo / "wtpar.toml").write_text('[run]\nbackend = "dask"\n[dask]\nschedular = "x"\n')
    config = load_config(str(repo))
    assert backend_of(config, None) == "dask"
    assert backend_of(config, "local") == "local"
    with pytest.raises(ConfigError, match=r"wtpar.toml:4: dask: unknown setting 'schedular'"):
        dask_settings(config)

    (repo / "wtpar.toml").write_text('[dask]\ntls_ca_file = "ca.pem"\n')
    with pytest.raises(ConfigError, match="missing: tls_cert, tls_key"):
        dask_settings(load_config(str(repo)))

    (repo / "wtpar.toml").write_text(
        '[dask]\ntls_ca_file = "ca.pem"\ntls_cert = "c.pem"\ntls_key = "c.key"\n'
    )
    with pytest.raises(UsageError, match="use a tls:// address"):
        dask_settings(load_config(str(repo)), "tcp://10.0.0.1:8786")
    settings = dask_settings(load_config(str(repo)), "tls://10.0.0.1:8786")
    assert settings.tls_ca_file == str(repo / "ca.pem")

    assert dask_settings(load_config(str(repo))).cache_worktrees == 16
    (repo / "wtpar.toml").write_text("[dask]\ncache_worktrees = 3\n")
    assert dask_settings(load_config(str(repo))).cache_worktrees == 3
    (repo / "wtpar.toml").write_text("[dask]\ncache_worktrees = 0\n")
    with pytest.raises(ConfigError, match="cache_worktrees must be a whole number, 1 or more"):
        dask_settings(load_config(str(repo)))

    (repo / "wtpar.toml").write_text('[run]\nbackend = "ray"\n')
    with pytest.raises(ConfigError, match="run.backend must be one of local, dask"):
        backend_of(load_config(str(repo)), None)


@pytest.mark.parametrize(
    ("address", "warned"),
    [
        ("tcp://127.0.0.1:8786", False),
        ("tcp://localhost:8786", False),
        ("tcp://[::1]:8786", False),
        ("tls://sched.example:8786", False),
        ("tcp://10.1.2.3:8786", True),
        ("sched.example:8786", True),
    ],
)
def test_a_scheduler_reached_in_clear_over_a_network_is_warned_about(
    address: str, warned: bool
) -> None:
    assert (insecure_warning(address) is not None) is warned


def test_different_versions_on_the_cluster_are_named() -> None:
    mine = {"wtpar": "0.1.0", "dask": "1", "distributed": "1", "python": "3.11.7"}
    versions = {
        "client": {"packages": mine},
        "scheduler": {"packages": {**mine, "python": "3.11.9"}},
        "workers": {
            "tcp://w1": {"packages": mine},
            "tcp://w2": {"packages": {**mine, "wtpar": "0.2.0", "python": "3.12.1"}},
        },
    }
    assert version_mismatches(versions) == [
        "wtpar 0.1.0 here, 0.2.0 on worker tcp://w2",
        "python 3.11.7 here, 3.12.1 on worker tcp://w2",
    ]


def test_a_snapshot_holds_hidden_changes_as_they_are(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    (repo / "README.md").write_text("assumed\n")
    (repo / "src" / "util.py").write_text("skipped\n")
    git(repo, "update-index", "--assume-unchanged", "README.md")
    git(repo, "update-index", "--skip-worktree", "src/util.py")
    index_before = (repo / ".git" / "index").read_bytes()

    snap = snapshot(str(repo))

    assert snap.snapshotted and snap.commit != head
    assert git(repo, "show", f"{snap.commit}:README.md") == "assumed\n"
    assert git(repo, "show", f"{snap.commit}:src/util.py") == "skipped\n"
    assert (repo / ".git" / "index").read_bytes() == index_before
