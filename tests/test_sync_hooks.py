"""`wtpar sync` (copy ignored files again, never over an edit) and `pre_remove` hooks."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from fixtures.waiting import wait_for
from tests.conftest import Invoke
from tests.run_helpers import wtpar_popen
from tests.test_spawn import worktree_dir
from wtpar.procs import pid_alive


def setup_copies(repo: Path) -> None:
    (repo / ".gitignore").write_text(".env\nbuild/\nsecrets/\n*.local\n")
    (repo / ".env").write_text("A=1\n")
    (repo / "app.local").write_text("debug=0\n")
    (repo / "secrets").mkdir()
    (repo / "secrets" / "key.txt").write_text("k1\n")
    (repo / "notes.txt").write_text("untracked, not ignored\n")
    (repo / ".worktreeinclude").write_text("secrets/\nnotes.txt\nREADME.md\n")
    (repo / "wtpar.toml").write_text('[worktrees]\ncopy = [".env", "*.local"]\n')


def test_spawn_copies_configured_and_worktreeinclude_files(repo: Path, wtpar: Invoke) -> None:
    setup_copies(repo)
    assert wtpar("spawn", "w").exit_code == 0
    wt = worktree_dir(repo, "w")
    assert (wt / ".env").read_text() == "A=1\n"
    assert (wt / "app.local").read_text() == "debug=0\n"
    assert (wt / "secrets" / "key.txt").read_text() == "k1\n"
    # .worktreeinclude copies only ignored files: not an untracked or a tracked one.
    assert not (wt / "notes.txt").exists()


def test_sync_updates_untouched_files_and_skips_changed_ones(repo: Path, wtpar: Invoke) -> None:
    setup_copies(repo)
    assert wtpar("spawn", "w").exit_code == 0
    wt = worktree_dir(repo, "w")
    (repo / ".env").write_text("A=2\n")
    (repo / "app.local").write_text("debug=1\n")
    (wt / "app.local").write_text("debug=mine\n")
    (repo / "secrets" / "new.txt").write_text("n\n")
    result = wtpar("sync", "w")
    assert result.exit_code == 0, result.output
    assert "w: 1 copied, 1 updated, 1 unchanged" in result.stdout
    assert "skipped app.local: changed in the worktree (--force overwrites)" in result.stderr
    assert (wt / ".env").read_text() == "A=2\n"
    assert (wt / "app.local").read_text() == "debug=mine\n"
    assert (wt / "secrets" / "new.txt").read_text() == "n\n"
    again = json.loads(wtpar("sync", "w", "--json").output)["worktrees"][0]["files"]
    assert {f["path"]: f["outcome"] for f in again}["app.local"] == "skipped"
    forced = wtpar("sync", "w", "--force")
    assert "1 overwritten" in forced.stdout
    assert (wt / "app.local").read_text() == "debug=1\n"


def test_sync_default_is_every_worktree_but_main(repo: Path, wtpar: Invoke) -> None:
    setup_copies(repo)
    assert wtpar("spawn", "a", "b").exit_code == 0
    (repo / ".env").write_text("A=3\n")
    result = wtpar("sync")
    assert result.exit_code == 0
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == ["a", "b"]
    for b in ("a", "b"):
        assert (worktree_dir(repo, b) / ".env").read_text() == "A=3\n"


def test_pre_remove_failure_refuses_with_its_output(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text(
        '[env]\nports = ["web"]\n[worktrees]\npre_remove = [\n'
        '  "echo closing $WTPAR_BRANCH on port $WTPAR_PORT_WEB",\n'
        '  "case $WTPAR_BRANCH in keep*) echo database still attached >&2; exit 4;; esac",\n'
        "]\n"
    )
    assert wtpar("spawn", "keep-me", "go").exit_code == 0
    port = json.loads(wtpar("env", "keep-me", "--json").output)["WTPAR_PORT_WEB"]
    refused = wtpar("remove", "keep-me")
    assert refused.exit_code == 1
    assert "pre_remove `case $WTPAR_BRANCH" in refused.stderr
    assert "exited 4" in refused.stderr
    assert f"closing keep-me on port {port}" in refused.stderr
    assert "database still attached" in refused.stderr
    assert worktree_dir(repo, "keep-me").exists()
    assert wtpar("remove", "go").exit_code == 0
    forced = wtpar("remove", "keep-me", "--force")
    assert forced.exit_code == 0, forced.output
    assert not worktree_dir(repo, "keep-me").exists()


def test_sigterm_during_pre_remove_stops_the_hook_and_keeps_the_worktree(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    pid_file = tmp_path / "hook.pid"
    (repo / "wtpar.toml").write_text(
        f'[worktrees]\npre_remove = ["echo $$ > {pid_file}; exec sleep 300"]\n'
    )
    assert wtpar("spawn", "slow").exit_code == 0
    proc = wtpar_popen("remove", "slow", cwd=repo)
    try:
        wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the hook")
        hook = int(pid_file.read_text())
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 143
        wait_for(lambda: not pid_alive(hook), what="the hook to be stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert worktree_dir(repo, "slow").exists()
