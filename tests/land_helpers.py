"""Helpers for the `wtpar land` and `wtpar update` tests: a repository whose branches each
pass the check task alone while two of them break it together (textually clean)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from click.testing import Result

from fixtures.recipes import commit_file, git, make_branch
from tests.check_helpers import add_worktree

# The check: flags b and c may not be present together (a semantic clash, no textual one).
CLASH = 'if [ -e flag_b ] && [ -e flag_c ]; then echo "b and c break each other"; exit 1; fi\n'


def train_repo(repo: Path, test_cmd: str = "sh test.sh", prelude: str = "") -> dict[str, Path]:
    """Commit test.sh and wtpar.toml on main, then branches a, b, c (one flag file each),
    each with its worktree; the worktree paths by branch."""
    (repo / "wtpar.toml").write_text(
        f'[tasks.test]\ncmd = "{test_cmd}"\n[check]\ntasks = ["test"]\n'
    )
    commit_file(repo, "test.sh", prelude + CLASH + "echo ok\n", "the check")
    worktrees = {}
    for name in ("a", "b", "c"):
        make_branch(repo, name, {f"flag_{name}": f"{name}\n"})
        worktrees[name] = add_worktree(repo, name)
    return worktrees


def land_json(result: Result) -> dict[str, Any]:
    """The JSON report printed by `wtpar land --json`."""
    data = json.loads(result.stdout)
    assert data["schema"] == 1
    return data  # type: ignore[no-any-return]


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    """Each branch's outcome in a JSON land report."""
    return {b["branch"]: b["outcome"] for b in report["branches"]}


def tree_files(repo: Path, ref: str) -> dict[str, str]:
    """Every file of REF's tree and its content."""
    names = git(repo, "ls-tree", "-r", "--name-only", "-z", ref).split("\0")
    return {n: git(repo, "show", f"{ref}:{n}") for n in names if n}


def refs(repo: Path) -> str:
    """Every ref and where it points."""
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def temporary_worktrees(repo: Path) -> list[str]:
    """Worktrees a land made (under the wtpar folder) that still exist or are remembered."""
    listed = git(repo, "worktree", "list", "--porcelain").splitlines()
    paths = [line.split(" ", 1)[1] for line in listed if line.startswith("worktree ")]
    made = repo / ".git" / "wtpar" / "land"
    leftovers = [str(p) for p in made.iterdir()] if made.exists() else []
    return [p for p in paths if "/wtpar/land/" in p] + leftovers


def is_ancestor(repo: Path, commit: str, of: str) -> bool:
    """True when COMMIT is reachable from OF."""
    proc = subprocess.run(
        ["git", "merge-base", "--is-ancestor", commit, of], cwd=repo, capture_output=True
    )
    return proc.returncode == 0
