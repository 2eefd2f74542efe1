"""Leases: `wtpar claim`/`release`, `spawn --claim`, expiry, and remove/prune refusing a
claimed worktree with the holder's name."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from fixtures.recipes import commit_file, git
from tests.conftest import Invoke, run_wtpar_process
from tests.run_helpers import wtpar_popen
from tests.test_spawn import worktree_dir
from wtpar.worktrees.leases import LeaseHeldError, LeaseStore, parse_ttl


def store(repo: Path) -> LeaseStore:
    return LeaseStore(str(repo / ".git" / "wtpar"))


def test_claim_refuses_another_holder_naming_who_and_since(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feat").exit_code == 0
    first = wtpar("claim", "feat", "--by", "alice", "--note", "fixing login")
    assert first.exit_code == 0, first.output
    assert "claimed  feat  by alice until" in first.output
    second = wtpar("claim", "feat", "--by", "bob")
    assert second.exit_code == 1
    assert "feat is held by alice since" in second.stderr
    assert "ago" in second.stderr and "bob cannot take it" in second.stderr
    assert "Traceback" not in second.output
    # The holder claiming again renews, keeping the original start.
    since = store(repo).active()["feat"].since
    assert wtpar("claim", "feat", "--by", "alice", "--ttl", "3h").exit_code == 0
    renewed = store(repo).active()["feat"]
    assert renewed.since == since and renewed.note == "fixing login"
    assert renewed.expires - time.time() > 2.5 * 3600


def test_release_by_someone_else_is_refused_and_then_the_branch_is_free(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "feat", "--claim", "alice").exit_code == 0
    refused = wtpar("release", "feat", "--by", "bob")
    assert refused.exit_code == 1
    assert "held by alice" in refused.stderr
    released = wtpar("release", "feat", "--by", "alice")
    assert released.exit_code == 0
    assert "released  feat  (held by alice)" in released.output
    assert wtpar("claim", "feat", "--by", "bob").exit_code == 0
    assert wtpar("release", "feat").exit_code == 0  # without --by: anyone may release
    assert "feat was not claimed" in wtpar("release", "feat").output
    # A name no worktree has is a mistake (a typo, a suggestion pasted into a shell that
    # quotes otherwise), not a success.
    unknown = wtpar("release", "fat")
    assert unknown.exit_code == 2
    assert "no worktree for branch 'fat'" in unknown.stderr


def test_an_expired_claim_is_free(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feat").exit_code == 0
    store(repo).claim("feat", "alice", ttl=60, now=time.time() - 3600)
    assert store(repo).active() == {}
    listed = json.loads(wtpar("list", "--json").output)["worktrees"]
    assert all(w["holder"] is None for w in listed)
    taken = wtpar("claim", "feat", "--by", "bob")
    assert taken.exit_code == 0, taken.output
    assert store(repo).active()["feat"].holder == "bob"


def test_expiry_in_the_store(repo: Path) -> None:
    leases = store(repo)
    leases.claim("feat", "alice", ttl=10, now=1000.0)
    with pytest.raises(LeaseHeldError, match="held by alice"):
        leases.claim("feat", "bob", ttl=10, now=1009.0)
    assert leases.claim("feat", "bob", ttl=10, now=1010.0).since == 1010.0
    assert parse_ttl("90s") == 90
    assert parse_ttl("2h") == 7200
    assert parse_ttl("1.5m") == 90


@pytest.mark.parametrize("bad", ["", "0", "-5", "2x", "h", "inf", "nan", "1e300"])
def test_bad_ttl_is_a_usage_error(repo: Path, wtpar: Invoke, bad: str) -> None:
    assert wtpar("spawn", "feat").exit_code == 0
    result = wtpar("claim", "feat", "--by", "alice", "--ttl", bad)
    assert result.exit_code == 2
    assert "invalid duration for --ttl" in result.stderr


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e999"])
def test_a_leases_file_with_a_non_number_is_ignored_with_one_warning(
    repo: Path, wtpar: Invoke, bad: str
) -> None:
    assert wtpar("spawn", "feat").exit_code == 0
    path = repo / ".git" / "wtpar" / "leases.json"
    since = time.time()
    entry = f'{{"holder": "q", "since": {since}, "expires": {bad}}}'
    path.write_text(f'{{"schema": 1, "leases": {{"feat": {entry}}}}}')
    listed = run_wtpar_process("list", "--json", cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.count("warning") == 1 and "leases.json" in listed.stderr
    items = json.loads(listed.stdout, parse_constant=pytest.fail)["worktrees"]
    assert [w["holder"] for w in items if w["branch"] == "feat"] == [None]
    assert run_wtpar_process("list", cwd=repo).returncode == 0
    assert wtpar("claim", "feat", "--by", "alice").exit_code == 0  # the file is whole again
    assert json.loads(path.read_text())["leases"]["feat"]["holder"] == "alice"


def test_claim_needs_a_worktree_and_a_name(repo: Path, wtpar: Invoke) -> None:
    nothing = wtpar("claim", "nope", "--by", "alice")
    assert nothing.exit_code == 2
    assert "no worktree for branch 'nope'" in nothing.stderr
    assert wtpar("spawn", "feat").exit_code == 0
    assert wtpar("claim", "feat", "--by", " ").exit_code == 2
    two_lines = wtpar("claim", "feat", "--by", "alice\nwtpar: claimed by nobody")
    assert two_lines.exit_code == 2  # printed raw, it forged a line of wtpar's own
    assert "without control characters" in two_lines.stderr


def test_list_shows_holder_and_expiry(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "a", "b").exit_code == 0
    plain = wtpar("list")
    assert "HOLDER" not in plain.output  # no column until someone claims
    assert wtpar("claim", "a", "--by", "agent-7", "--ttl", "30m", "--note", "n").exit_code == 0
    table = wtpar("list").output
    assert "HOLDER" in table
    row = next(line for line in table.splitlines() if line.startswith("a "))
    assert "agent-7 (29m left)" in row or "agent-7 (30m left)" in row
    items = {w["branch"]: w for w in json.loads(wtpar("list", "--json").output)["worktrees"]}
    assert items["a"]["holder"] == "agent-7"
    assert items["a"]["claim_note"] == "n"
    assert 29 * 60 < items["a"]["claim_expires"] - time.time() <= 30 * 60
    assert items["b"]["holder"] is None


def test_remove_refuses_a_claimed_worktree_naming_the_holder(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feat", "--claim", "alice").exit_code == 0
    refused = wtpar("remove", "feat")
    assert refused.exit_code == 1
    assert "claimed by alice since" in refused.stderr
    assert "wtpar release feat" in refused.stderr
    assert worktree_dir(repo, "feat").exists()
    forced = wtpar("remove", "feat", "--force")
    assert forced.exit_code == 0, forced.output
    assert store(repo).active() == {}


def test_prune_merged_keeps_a_claimed_worktree(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "done", "--claim", "bob").exit_code == 0
    commit_file(worktree_dir(repo, "done"), "done.txt", "done\n")
    git(repo, "merge", "-q", "--ff-only", "done")
    result = wtpar("prune", "--merged")
    assert "kept  done: claimed by bob since" in result.stderr
    assert worktree_dir(repo, "done").exists()
    assert wtpar("release", "done").exit_code == 0
    assert "removed  done  (merged)" in wtpar("prune", "--merged").output


def test_spawn_claim_refuses_a_branch_held_by_someone_else(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feat", "--claim", "alice").exit_code == 0
    result = wtpar("spawn", "feat", "other", "--claim", "bob", "--json")
    assert result.exit_code == 1
    items = {w["branch"]: w for w in json.loads(result.output)["worktrees"]}
    assert items["feat"]["outcome"] == "failed"
    assert "held by alice" in items["feat"]["error"]
    assert items["other"]["outcome"] == "created"
    assert store(repo).active()["other"].holder == "bob"
    assert store(repo).active()["feat"].holder == "alice"


def test_concurrent_claims_of_one_branch_have_one_winner(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "hot").exit_code == 0
    procs = [wtpar_popen("claim", "hot", "--by", f"agent-{i}", cwd=repo) for i in range(6)]
    for p in procs:
        p.communicate(timeout=60)
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1, 1, 1, 1, 1]
    winner = store(repo).active()["hot"].holder
    assert winner == f"agent-{codes.index(0)}"


def claim_any_processes(repo: Path, count: int) -> list[dict[str, object]]:
    """Start COUNT `claim --any --json` processes at once; their parsed outputs."""
    procs = [
        wtpar_popen("claim", "--any", "--by", f"agent-{i}", "--json", cwd=repo)
        for i in range(count)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    return [json.loads(out) for out, _ in outputs]


def test_claim_any_from_8_processes_hands_out_8_different_worktrees(repo: Path) -> None:
    got = claim_any_processes(repo, 8)
    paths = {str(g["path"]) for g in got}
    assert len(paths) == 8 and len({g["branch"] for g in got}) == 8
    leases = store(repo).active()
    for g in got:
        assert leases[str(g["branch"])].holder == g["holder"]
        assert Path(str(g["path"]), "README.md").exists()


def test_claim_any_says_when_the_setup_failed(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text('[worktrees]\npost_create = ["echo no-deps; exit 5"]\n')
    result = wtpar("claim", "--any", "--by", "agent", "--json")
    assert result.exit_code == 1
    got = json.loads(result.stdout)
    assert Path(got["path"]).is_dir() and got["holder"] == "agent"
    assert "exited 5" in got["setup_errors"][0]
    assert "setup failed: post_create `echo no-deps; exit 5` exited 5" in result.stderr
