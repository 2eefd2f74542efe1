"""The warm pool: `pool fill` sets spares up ahead of time, `spawn` and `claim --any` take
them (same content as a fresh checkout, only differing files written, environment
allocated), `pool drain` removes them, and no spare is ever handed out twice."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

from fixtures.recipes import git, make_branch, make_repo
from fixtures.waiting import wait_for
from tests.conftest import Invoke, run_wtpar_process
from tests.run_helpers import alive, kill_quietly, wtpar_popen
from tests.test_spawn import worktree_dir

SETUP = """
[worktrees]
copy = [".env"]
post_create = ["echo set-up > made.txt"]
[env]
ports = ["web"]
file = ".env.local"
"""


def configure(repo: Path) -> None:
    (repo / ".gitignore").write_text("made.txt\n.env\n.env.local\nwtpar.toml\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore setup output")
    (repo / ".env").write_text("SECRET=1\n")
    (repo / "wtpar.toml").write_text(SETUP)


def fill_one_with(repo: Path, post_create: str) -> None:
    """Fill one spare whose post_create is `post_create` (in the background)."""
    configure(repo)
    (repo / "wtpar.toml").write_text(
        SETUP.replace('"echo set-up > made.txt"', json.dumps(post_create))
    )
    assert run_wtpar_process("pool", "fill", "1", cwd=repo).returncode == 0


def spares(wtpar: Invoke) -> list[dict[str, str]]:
    result = wtpar("pool", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema"] == 1
    return list(data["spares"])


def tracked_content(path: Path) -> dict[str, str]:
    files = git(path, "ls-files", "-z").split("\0")
    return {f: (path / f).read_text() for f in files if f}


def test_fill_sets_spares_up_and_drain_removes_them(repo: Path, wtpar: Invoke) -> None:
    configure(repo)
    result = wtpar("pool", "fill", "2", "--wait")
    assert result.exit_code == 0, result.output
    listed = spares(wtpar)
    head = git(repo, "rev-parse", "main").strip()
    assert [s["state"] for s in listed] == ["ready", "ready"]
    for spare in listed:
        path = Path(spare["path"])
        assert spare["commit"] == head
        assert (path / "made.txt").read_text() == "set-up\n"
        assert (path / ".env").read_text() == "SECRET=1\n"
        assert git(path, "status", "--porcelain") == ""
    # Spares are nobody's yet: list, run and the dashboard do not show them.
    listed_paths = [w["path"] for w in json.loads(wtpar("list", "--json").output)["worktrees"]]
    assert all(".wtpar-spares" not in p for p in listed_paths)
    assert wtpar("spawn", "feat").exit_code == 0  # takes one of the two spares
    run = json.loads(wtpar("run", "--json", "--", "true").stdout)
    assert [t["branch"] for t in run["tasks"]] == ["feat"]
    drained = wtpar("pool", "drain")
    assert "drained 1 spare" in drained.output
    assert spares(wtpar) == []
    assert "spare-" not in git(repo, "worktree", "list")
    assert all(not Path(s["path"]).exists() for s in listed)
    assert (worktree_dir(repo, "feat") / "made.txt").exists()


def test_fill_returns_at_once_and_sets_up_in_the_background(repo: Path, wtpar: Invoke) -> None:
    gate = repo.parent / "go"
    configure(repo)
    (repo / "wtpar.toml").write_text(
        SETUP.replace('"echo set-up > made.txt"', f'"while [ ! -e {gate} ]; do sleep 0.05; done"')
    )
    result = run_wtpar_process("pool", "fill", "1", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert [s["state"] for s in spares(wtpar)] == ["filling"]
    gate.write_text("")
    wait_for(lambda: [s["state"] for s in spares(wtpar)] == ["ready"], 30, "the spare to be ready")


def test_a_failed_setup_marks_the_spare_failed_and_spawn_skips_it(
    repo: Path, wtpar: Invoke
) -> None:
    configure(repo)
    (repo / "wtpar.toml").write_text(SETUP.replace("echo set-up > made.txt", "exit 3"))
    result = wtpar("pool", "fill", "1", "--wait")
    assert result.exit_code == 1
    (spare,) = spares(wtpar)
    assert spare["state"] == "failed"
    assert "exited 3" in str(spare["error"])
    spawned = json.loads(wtpar("spawn", "feat", "--json").output)["worktrees"][0]
    assert spawned["from_spare"] is False
    assert wtpar("pool", "drain").exit_code == 0


def test_spawn_from_a_spare_equals_a_fresh_checkout(repo: Path, wtpar: Invoke) -> None:
    configure(repo)
    make_branch(repo, "feature", {"README.md": "changed\n", "new/file.txt": "new\n"})
    git(repo, "branch", "fresh-copy", "feature")
    assert wtpar("pool", "fill", "1", "--wait").exit_code == 0
    (spare,) = spares(wtpar)
    unchanged = Path(spare["path"]) / ".gitignore"
    before = os.stat(unchanged)
    result = wtpar("spawn", "feature", "--json")
    assert result.exit_code == 0, result.output
    (item,) = json.loads(result.output)["worktrees"]
    assert item["from_spare"] is True and item["outcome"] == "created"
    took = worktree_dir(repo, "feature")
    assert item["path"] == str(took)
    assert not Path(spare["path"]).exists() and spares(wtpar) == []
    assert wtpar("spawn", "fresh-copy").exit_code == 0  # the pool is empty: a full checkout
    fresh = worktree_dir(repo, "fresh-copy")
    assert tracked_content(took) == tracked_content(fresh)
    assert (took / "new" / "file.txt").read_text() == "new\n"
    assert git(took, "status", "--porcelain") == ""
    assert git(took, "branch", "--show-current").strip() == "feature"
    # Only the files that differ were written: an unchanged one is the same file.
    after = os.stat(took / ".gitignore")
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    # Set up at fill time, its environment allocated when handed out.
    assert (took / "made.txt").read_text() == "set-up\n"
    env = (took / ".env.local").read_text()
    assert "WTPAR_PORT_WEB=" in env
    ports = json.loads((repo / ".git" / "wtpar" / "ports.json").read_text())
    assert "feature" in json.dumps(ports)
    # git knows the worktree at its new path.
    listed = git(repo, "worktree", "list", "--porcelain")
    assert f"worktree {took}\nHEAD " in listed and "spare-" not in listed
    assert wtpar("remove", "feature").exit_code == 0


def test_a_new_branch_from_a_spare_starts_at_the_base(repo: Path, wtpar: Invoke) -> None:
    configure(repo)
    assert wtpar("pool", "fill", "1", "--wait").exit_code == 0
    git(repo, "commit", "-q", "--allow-empty", "-m", "main moved on")
    result = wtpar("spawn", "topic", "--json")
    (item,) = json.loads(result.output)["worktrees"]
    assert item["from_spare"] is True
    took = worktree_dir(repo, "topic")
    assert git(took, "rev-parse", "HEAD") == git(repo, "rev-parse", "main")
    assert git(took, "status", "--porcelain") == ""


def test_claim_any_from_8_processes_takes_each_spare_once(repo: Path, wtpar: Invoke) -> None:
    configure(repo)
    assert wtpar("pool", "fill", "4", "--wait").exit_code == 0
    procs = [
        wtpar_popen("claim", "--any", "--by", f"agent-{i}", "--json", cwd=repo) for i in range(8)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    got = [json.loads(out) for out, _ in outputs]
    assert len({g["path"] for g in got}) == 8
    assert sum(bool(g["from_spare"]) for g in got) == 4
    assert spares(wtpar) == []
    web_ports = [g["ports"]["web"] for g in got]
    assert len(set(web_ports)) == 8
    for g in got:
        path = Path(g["path"])
        assert git(path, "branch", "--show-current").strip() == g["branch"]
        assert git(path, "status", "--porcelain") == ""


def test_a_killed_filler_leaves_a_failed_spare_that_drain_removes(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    started = tmp_path / "started"
    fill_one_with(repo, f"touch {started}; sleep 60")
    wait_for(started.exists, 30, "post_create to start in the spare")
    records = json.loads((repo / ".git" / "wtpar" / "spares.json").read_text())["spares"]
    (record,) = records.values()
    os.killpg(record["filler_pid"], signal.SIGKILL)
    wait_for(lambda: spares(wtpar)[0]["state"] == "failed", 30, "the spare to show as failed")
    assert "filler process ended" in str(spares(wtpar)[0]["error"])
    (repo / "wtpar.toml").write_text(SETUP)  # a fresh spawn's post_create must not block
    assert (
        json.loads(wtpar("spawn", "feat", "--json").output)["worktrees"][0]["from_spare"] is False
    )
    assert "drained 1 spare" in wtpar("pool", "drain").output
    assert spares(wtpar) == []


def test_claim_any_with_a_name_and_a_start(repo: Path, wtpar: Invoke) -> None:
    configure(repo)
    make_branch(repo, "release", {"VERSION": "2\n"})
    assert wtpar("pool", "fill", "1", "--wait").exit_code == 0
    result = wtpar(
        "claim", "--any", "--by", "bot", "--branch", "bot/fix", "--from", "release", "--json"
    )
    assert result.exit_code == 0, result.output
    got = json.loads(result.output)
    assert got["branch"] == "bot/fix" and got["from_spare"] is True and got["holder"] == "bot"
    path = Path(got["path"])
    assert (path / "VERSION").read_text() == "2\n"
    assert git(path, "status", "--porcelain") == ""
    again = wtpar("claim", "--any", "--by", "bot", "--branch", "bot/fix")
    assert again.exit_code == 2
    assert "branch 'bot/fix' already exists" in again.stderr


def test_a_spare_with_submodules_keeps_them_working_after_the_move(
    tmp_path: Path, wtpar: Invoke
) -> None:
    lib = make_repo(tmp_path / "lib")
    app = make_repo(tmp_path / "app")
    git(app, "submodule", "add", "-q", str(lib), "vendor/lib")
    git(app, "commit", "-qm", "add submodule")
    assert wtpar("pool", "fill", "1", "--wait", cwd=app).exit_code == 0
    result = wtpar("spawn", "with-sub", "--json", cwd=app)
    assert json.loads(result.output)["worktrees"][0]["from_spare"] is True
    took = worktree_dir(app, "with-sub")
    assert (took / "vendor" / "lib" / "README.md").exists()
    assert git(took / "vendor" / "lib", "status", "--porcelain") == ""
    assert git(took, "status", "--porcelain") == ""
    assert git(took, "submodule", "status").startswith(" ")  # checked out, at the recorded commit


def test_drain_removes_spares_whose_records_were_damaged(repo: Path, wtpar: Invoke) -> None:
    configure(repo)
    assert wtpar("pool", "fill", "2", "--wait").exit_code == 0
    (repo / ".git" / "wtpar" / "spares.json").write_text('{"spares": [1')
    listed = wtpar("pool")
    assert "not valid JSON" in listed.stderr and "Traceback" not in listed.output
    assert "drained 2 spares" in wtpar("pool", "drain").output
    assert "spare-" not in git(repo, "worktree", "list")


def test_drain_stops_the_post_create_of_spares_still_filling(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    pidfile = tmp_path / "hook.pid"
    fill_one_with(repo, f"echo $$ > {pidfile}; exec sleep 300")
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), 30, "post_create")
        pid = int(pidfile.read_text())
        drained = run_wtpar_process("pool", "drain", cwd=repo)
        assert drained.returncode == 0 and "drained 1 spare" in drained.stdout, drained.stderr
        wait_for(lambda: not alive(pid), 10, "the post_create command to be stopped")
        assert spares(wtpar) == []
    finally:
        with contextlib.suppress(ValueError, FileNotFoundError):
            kill_quietly([int(pidfile.read_text())])


def test_a_spare_someone_used_is_never_handed_out(repo: Path, wtpar: Invoke) -> None:
    """Handed out as it was, a spare moved to another commit gave the new branch that
    commit's files, staged, and a commit made in it was reset away. Such a spare is now
    left out of the pool, as it is, and the spawn is fresh."""
    configure(repo)
    make_branch(repo, "feat", {"feat.txt": "feat\n"})
    uses: dict[str, Callable[[Path], object]] = {
        "moved": lambda spare: git(spare, "checkout", "-q", "--detach", "feat"),
        "committed in": lambda spare: git(spare, "commit", "-q", "--allow-empty", "-m", "x"),
        "on a branch": lambda spare: git(spare, "checkout", "-q", "-b", "hijack"),
    }
    for i, (how, use) in enumerate(uses.items()):
        assert wtpar("pool", "fill", "1", "--wait").exit_code == 0
        (spare,) = [s for s in spares(wtpar) if s["state"] == "ready"]
        use(Path(spare["path"]))
        result = wtpar("spawn", f"new{i}", "--json")
        assert result.exit_code == 0, result.output
        (item,) = json.loads(result.stdout)["worktrees"]
        assert item["from_spare"] is False, how
        took = worktree_dir(repo, f"new{i}")
        assert git(took, "status", "--porcelain") == "", how
        assert git(took, "rev-parse", "HEAD") == git(repo, "rev-parse", "main"), how
        left = {s["name"]: s for s in spares(wtpar)}[spare["name"]]
        assert left["state"] == "failed" and left["error"], how
        assert Path(spare["path"]).is_dir(), how  # kept as it is
    assert wtpar("pool", "drain").exit_code == 0
