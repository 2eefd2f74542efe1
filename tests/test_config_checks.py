"""Settings are checked when they are read, before anything runs: an unknown placeholder or
an unknown `[run]` key is exit 2 naming the file and line, and an empty command is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Invoke
from tests.run_helpers import spawn


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{nope}/{branch}", "unknown placeholder {nope}"),
        ("{repo_parent}/{branch}/{repo", "worktrees.path is not a valid template"),
        ("{0}/{branch}", "unknown placeholder {0}"),
        ("x/{branch}/{branch.upper}", "unknown placeholder {branch.upper}"),
        ("x/{branch}/{branch!z}", "worktrees.path is not a valid template"),
        ("x/{branch}/{branch:{nope}}", "worktrees.path is not a valid template"),
        ("x/{}/{branch}", "unknown placeholder {}"),
    ],
)
def test_unknown_path_placeholders_are_a_config_error_at_load(
    repo: Path, wtpar: Invoke, template: str, message: str
) -> None:
    (repo / "wtpar.toml").write_text(f'base = "main"\n\n[worktrees]\npath = "{template}"\n')
    for args in (("list",), ("spawn", "x"), ("run", "--", "true")):
        result = wtpar(*args)
        assert result.exit_code == 2, (args, result.output)
        assert f"wtpar.toml:4: {message}" in result.stderr, result.stderr
        assert "{repo_parent}" in result.stderr  # the known placeholders are listed
    assert not (repo.parent / "proj.worktrees").exists()


def test_a_template_with_every_placeholder_is_fine(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text(
        '[worktrees]\npath = "{repo_parent}/{repo}-wt/{branch}"  # {not a placeholder}\n'
    )
    assert wtpar("spawn", "x").exit_code == 0
    assert (repo.parent / "proj-wt" / "x").is_dir()


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("[run]\njobs = 2\nfrobnicate = 1\n", "unknown setting run.frobnicate", 3),
        ("[run]\njobs = 0\n", "run.jobs must be a whole number, 1 or more", 2),
        ('[run]\njobs = "4"\n', "run.jobs must be a whole number, 1 or more", 2),
        ('[run]\noutput = "loud"\n', "run.output must be one of stream, grouped", 2),
        # U+2028 in a string is no line break to TOML (it counted one line too many).
        ('[tasks.t]\ncmd = "echo a\u2028b"\n[run]\nfrobnicate = 1\n', "unknown setting run.", 4),
    ],
)
def test_run_settings_are_read_or_refused(
    repo: Path, wtpar: Invoke, text: str, message: str, line: int
) -> None:
    (repo / "wtpar.toml").write_text(text)
    result = wtpar("run", "--", "true")
    assert result.exit_code == 2, result.output
    assert f"wtpar.toml:{line}: {message}" in result.stderr


def test_run_settings_are_the_defaults(repo: Path, wtpar: Invoke) -> None:
    spawn(repo, "a", "b")
    (repo / "wtpar.toml").write_text('[run]\njobs = 1\noutput = "stream"\n')
    result = wtpar("run", "--", "echo hello")
    assert result.exit_code == 0, result.output
    assert "[a:cmd] hello" in result.output  # stream, from [run]
    assert "at -j 1" in result.output
    quiet = wtpar("run", "-j", "2", "--output", "quiet", "--", "echo hello")
    assert "[a:cmd] hello" not in quiet.output and "at -j 2" in quiet.output


@pytest.mark.parametrize("command", ["", "   ", "\n"])
def test_an_empty_command_is_refused(repo: Path, wtpar: Invoke, command: str) -> None:
    spawn(repo, "a")
    for args in (("run", "--", command), ("exec", "a", "--", command)):
        result = wtpar(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "empty command" in result.stderr
    assert not (repo / ".git" / "wtpar" / "runs").exists()
