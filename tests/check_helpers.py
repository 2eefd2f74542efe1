"""Helpers for the `wtpar check` tests: worktrees, config, object-store snapshots, traces."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from click.testing import Result

from fixtures.recipes import git


def add_worktree(repo: Path, branch: str) -> Path:
    """A worktree for an existing branch, beside the repository."""
    path = repo.parent / f"wt-{branch.replace('/', '-')}"
    git(repo, "worktree", "add", "-q", str(path), branch)
    return path


def write_config(repo: Path, text: str) -> None:
    """Write wtpar.toml at the repository root and commit nothing (it is untracked in main)."""
    (repo / "wtpar.toml").write_text(text)


def objects_snapshot(repo: Path) -> tuple[int, int, list[str]]:
    """(loose count, objects in packs, every loose object file) of the repository."""
    out = git(repo, "count-objects", "-v")
    fields = dict(line.split(": ", 1) for line in out.splitlines())
    root = Path(git(repo, "rev-parse", "--git-common-dir").strip())
    if not root.is_absolute():
        root = repo / root
    loose = sorted(
        str(p.relative_to(root / "objects")) for p in (root / "objects").glob("??/*") if p.is_file()
    )
    return int(fields["count"]), int(fields["in-pack"]), loose


def report_of(result: Result) -> dict[str, Any]:
    """The JSON report printed by `wtpar check --json`."""
    data = json.loads(result.stdout)
    assert data["schema"] == 1
    return data  # type: ignore[no-any-return]


def branch_of(report: dict[str, Any], name: str) -> dict[str, Any]:
    """One branch of a JSON report."""
    found: dict[str, Any] = next(b for b in report["branches"] if b["branch"] == name)
    return found


def codes(branch: dict[str, Any]) -> dict[str, bool]:
    """The branch's reason codes and whether each blocks."""
    return {r["code"]: r["blocking"] for r in branch["reasons"]}


def trace_count(trace: Path, command: str) -> int:
    """How many git processes ran `command`, from a GIT_TRACE file."""
    if not trace.exists():
        return 0
    needle = f"trace: built-in: git {command} "
    return sum(needle in line for line in trace.read_text().splitlines())


def fake_git(folder: Path, version: str) -> Path:
    """A `git` that claims VERSION and runs the real git for everything else."""
    real = git(".", "--exec-path").strip()
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "git"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "git version {version}"; exit 0; fi\n'
        f'exec "{real}/git" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def path_with(folder: Path) -> str:
    """PATH with FOLDER first."""
    return f"{folder}{os.pathsep}{os.environ.get('PATH', '')}"
