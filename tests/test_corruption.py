"""Every file wtpar keeps under `.git/wtpar/`, damaged in every way we could think of, against
every command: an answer (exit 0, 1 or 2) with a message, never a traceback, never work done
and then a crash. A damaged cache is dropped with one warning; a damaged state.json is an
error naming the file and the way out.

The valid contents come from real commands, so the matrix follows the formats as they change.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from fixtures.recipes import commit_file, git, make_repo
from tests.run_helpers import spawn
from wtpar.cli import cli

COMMANDS: list[tuple[str, ...]] = [
    ("list",),
    ("list", "--json"),
    ("path", "a"),
    ("spawn", "c"),
    ("remove", "c"),
    ("prune",),
    ("run", "--output", "quiet", "--", "true"),
    ("exec", "a", "--", "true"),
    ("check",),
    ("run", "--failed"),
]
# What each command answers when nothing is damaged (test_the_baseline checks these).
BASELINE = {c: 0 for c in COMMANDS}

FILES = ["state.json", "cache/results.json", "cache/merge.json", "runs/last", "report.json"]
CACHES = {"cache/results.json", "cache/merge.json"}


def _mutate_leaves(value: Any) -> Any:
    """Every leaf replaced by a value of another JSON type (the schema number kept)."""
    if isinstance(value, dict):
        return {k: v if k == "schema" else _mutate_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mutate_leaves(v) for v in value] or [7]
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, int | float):
        return "7"
    if isinstance(value, str):
        return 7
    return {"null": None}


def _empty_nested(value: Any, depth: int = 0) -> Any:
    """Every object below the top level emptied of its keys."""
    if isinstance(value, dict):
        return {} if depth > 1 else {k: _empty_nested(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_empty_nested(v, depth + 1) for v in value]
    return value


def _json(change: Callable[[Any], Any]) -> Callable[[str], str | bytes | None]:
    return lambda text: json.dumps(change(json.loads(text)))


JSON_MODES: dict[str, Callable[[str], str | bytes | None]] = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "binary": lambda text: bytes(range(256)) * 4,
    "a list": lambda text: "[1, 2, 3]",
    "null": lambda text: "null",
    "wrong types": _json(_mutate_leaves),
    "missing keys": _json(_empty_nested),
    "only a schema": lambda text: '{"schema": 1}',
    "no schema": _json(lambda d: {k: v for k, v in d.items() if k != "schema"}),
    "future schema": _json(lambda d: {**d, "schema": 99}),
    "a folder": lambda text: None,
}
LAST_MODES: dict[str, Callable[[str], str | bytes | None]] = {
    "truncated": lambda text: text[:4],
    "empty": lambda text: "",
    "binary": lambda text: bytes(range(256)),
    "a list": lambda text: "[1, 2, 3]",
    "a path out of runs": lambda text: "../../../../etc\n",
    "an unknown run": lambda text: "20990101-000000-dead\n",
    "a folder": lambda text: None,
}
CASES = [(f, m) for f in FILES for m in (LAST_MODES if f == "runs/last" else JSON_MODES)]


def _target(repo: Path, name: str) -> Path:
    base = repo / ".git" / "wtpar"
    if name == "report.json":
        return base / "runs" / (base / "runs" / "last").read_text().strip() / "report.json"
    return base / name


def _damage(path: Path, valid: str, mode: Callable[[str], str | bytes | None]) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
    content = mode(valid)
    if content is None:
        path.mkdir(parents=True)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def _invoke(repo: Path, args: tuple[str, ...]) -> Result:
    old = os.getcwd()
    os.chdir(repo)
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(old)


@pytest.fixture
def used_repo(repo: Path) -> Path:
    """A repository where every file under .git/wtpar/ exists, written by real commands."""
    paths = spawn(repo, "a", "b")
    commit_file(paths["a"], "a.txt", "a\n")
    commit_file(paths["b"], "b.txt", "b\n")
    for args in (("run", "--output", "quiet", "--", "true"), ("check",)):
        result = _invoke(repo, args)
        assert result.exit_code == 0, result.output
    for name in FILES:
        assert _target(repo, name).is_file(), name
    return repo


def _says_what_went_wrong(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code:
        assert result.output.strip(), "a failure with no message"


def test_the_baseline(used_repo: Path) -> None:
    for args in COMMANDS:
        result = _invoke(used_repo, args)
        assert result.exit_code == BASELINE[args], (args, result.output)
        assert "warning" not in result.output, (args, result.output)


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{f}-{m}" for f, m in CASES])
def test_damaged_file_against_every_command(used_repo: Path, name: str, mode: str) -> None:
    modes = LAST_MODES if name == "runs/last" else JSON_MODES
    valid = _target(used_repo, name).read_text()
    for args in COMMANDS:
        path = _target(used_repo, name)
        _damage(path, valid, modes[mode])
        result = _invoke(used_repo, args)
        _says_what_went_wrong(result)
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        assert len(warnings) <= 1, (args, result.stderr)
        if name in CACHES:
            # A cache only saves time: the answer is the one without it, plus one warning.
            assert result.exit_code == BASELINE[args], (args, result.output)
        if name == "state.json" and result.exit_code == 2:
            assert str(path) in result.stderr, (args, result.stderr)
            assert "move it away" in result.stderr or "newer wtpar" in result.stderr
        if args[0] == "spawn" and result.exit_code:
            # Refused before anything was done: no worktree for c.
            assert "/c\n" not in git(used_repo, "worktree", "list", "--porcelain")
        if path.exists():
            # Put the valid file back so the next command starts from a used repository.
            _damage(path, valid, lambda text: text)


def test_a_damaged_cache_is_rewritten_by_the_next_run(used_repo: Path) -> None:
    results = used_repo / ".git" / "wtpar" / "cache" / "results.json"
    results.write_bytes(b"\x00\xff garbage")
    result = _invoke(used_repo, ("run", "--output", "quiet", "--", "true"))
    assert result.exit_code == 0
    assert f"wtpar: warning: {results}: not text (binary content)" in result.stderr
    assert json.loads(results.read_text())["schema"] == 1
    again = _invoke(used_repo, ("run", "--output", "quiet", "--", "true"))
    assert "warning" not in again.stderr


def test_a_damaged_state_file_names_the_way_out(used_repo: Path) -> None:
    state = used_repo / ".git" / "wtpar" / "state.json"
    state.write_text("[1, 2, 3]")
    result = _invoke(used_repo, ("list",))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"wtpar: error: {state}: the file should be an object, not a list; "
        f"move it away (mv {state} {state}.bad): the worktrees stay, wtpar forgets only "
        "the bases it recorded when spawning them"
    )
    # check judges without it, and says what that costs: it called new branches merged.
    spawned = _invoke(used_repo, ("spawn", "fresh"))
    assert spawned.exit_code == 2  # spawn stops at it too
    checked = _invoke(used_repo, ("check", "--no-run"))
    assert "reads as merged" in checked.stderr, checked.stderr
    state.rename(f"{state}.bad")
    assert _invoke(used_repo, ("list",)).exit_code == 0


@pytest.mark.parametrize("folder", ["cache", "runs", "locks", "logs", "trash", "watch"])
def test_a_file_where_wtpar_keeps_a_folder(used_repo: Path, folder: str) -> None:
    path = used_repo / ".git" / "wtpar" / folder
    if path.is_dir():
        shutil.rmtree(path)
    for args in COMMANDS:
        path.write_text("not a folder\n")
        _says_what_went_wrong(_invoke(used_repo, args))
        if path.is_dir():
            shutil.rmtree(path)


@pytest.mark.parametrize(
    "content", [b"", b"\xff\x00", b"[1, 2, 3]", b"# wtpar x watchdog y\n+1\n", b"+1\n-1\n"]
)
def test_a_damaged_watchdog_record_is_dropped(repo: Path, content: bytes) -> None:
    watch = repo / ".git" / "wtpar" / "watch"
    watch.mkdir(parents=True)
    record = watch / "999999999-1.groups"  # written by a wtpar long gone
    record.write_bytes(content)
    result = _invoke(repo, ("list",))
    _says_what_went_wrong(result)
    assert result.exit_code == 0 and not record.exists()


def test_every_other_file_wtpar_wrote_is_damaged_too(used_repo: Path) -> None:
    """Files added after this matrix was written (history, ports, sync manifests...): found
    by walking .git/wtpar, so a new store is covered the day it appears."""
    base = used_repo / ".git" / "wtpar"
    covered = {_target(used_repo, name) for name in FILES}
    found = [
        p
        for p in sorted(base.rglob("*"))
        if p.is_file()
        and p not in covered
        and not p.name.endswith((".lock", ".log"))
        and "locks" not in p.relative_to(base).parts
    ]
    assert found, "the commands above wrote nothing else"
    for path in found:
        valid = path.read_text(errors="replace")
        modes = ("binary", "a list", "wrong types") if path.suffix == ".json" else ("binary",)
        for mode in modes:
            for args in (("list",), ("run", "--output", "quiet", "--", "true"), ("check",)):
                _damage(path, valid, JSON_MODES[mode] if valid.strip() else JSON_MODES["binary"])
                result = _invoke(used_repo, args)
                _says_what_went_wrong(result)
                assert result.exit_code == BASELINE[args], (path, mode, args, result.output)
        _damage(path, valid, lambda text: text)


def test_the_way_out_of_a_damaged_state_file_pastes_as_printed(tmp_path: Path) -> None:
    """In a folder named with a space and a quote, `mv` took the path for several words."""
    repo = make_repo(tmp_path / "my repo's")
    state = repo / ".git" / "wtpar" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{garbage")
    result = _invoke(repo, ("list",))
    assert result.exit_code == 2
    way_out = re.search(r"\((mv [^)]*\.bad')\)", result.stderr)
    assert way_out is not None, result.stderr
    subprocess.run(["bash", "-c", way_out.group(1)], check=True)
    assert not state.exists()
    assert _invoke(repo, ("list",)).exit_code == 0
