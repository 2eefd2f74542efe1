"""Tables line up on the screen, whatever the characters; counts agree with their nouns."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Invoke, run_wtpar_process
from tests.run_helpers import spawn
from wtpar.text import aligned_table, display_width, format_seconds, plural, shell_word


def _columns(line: str) -> list[int]:
    """The screen column where each cell after the first starts (two blanks before it)."""
    starts, col, blanks = [], 0, 0
    for ch in line:
        if ch == " ":
            blanks += 1
        else:
            if blanks >= 2:
                starts.append(col)
            blanks = 0
        col += display_width(ch)
    return starts


def test_wide_characters_keep_the_columns_aligned() -> None:
    rows = [
        ["feat-日本語", "ok", "x"],
        ["fix-ü", "failed", "y"],
        ["é", "ok", "z"],
        ["a😀b", "-", "w"],
    ]
    table = aligned_table(["BRANCH", "STATUS", "NOTE"], rows).splitlines()
    assert len({tuple(_columns(line)) for line in table}) == 1, "\n".join(table)


def test_display_width() -> None:
    assert display_width("abc") == 3
    assert display_width("日本") == 4
    assert display_width("e\u0301") == 1  # a combining accent takes no column
    assert display_width("a\x07b") == 2  # a control character is not counted as -1


def test_plural() -> None:
    assert [plural(n, "task") for n in (0, 1, 2)] == ["0 tasks", "1 task", "2 tasks"]


def test_one_task_in_the_run_summary(repo: Path, wtpar: Invoke) -> None:
    spawn(repo, "a")
    result = wtpar("run", "--output", "quiet", "--", "true")
    assert "\n1 task: 1 ok" in result.output, result.output
    assert not re.search(r"(?<![\d.])1 tasks", result.output)  # "10.61 tasks/s" is fine


def test_a_non_finite_duration_reads_as_unknown() -> None:
    # a damaged history.json once brought NaN here and crashed the run summary
    assert format_seconds(float("nan")) == "-" and format_seconds(float("inf")) == "-"


def test_run_refuses_a_non_finite_timeout(repo: Path, wtpar: Invoke) -> None:
    spawn(repo, "x")
    for bad in ("nan", "inf"):
        result = wtpar("run", "-b", "x", "--timeout", bad, "--", "true")
        assert result.exit_code == 2 and "not a duration" in result.output


def test_json_output_never_prints_nan(capsys: pytest.CaptureFixture[str]) -> None:
    from wtpar.cli._common import echo_json

    echo_json({"a": float("nan"), "b": [float("inf"), 1.5], "c": "NaN"})
    printed = json.loads(capsys.readouterr().out, parse_constant=pytest.fail)
    assert printed == {"a": None, "b": [None, 1.5], "c": "NaN"}


def test_a_control_character_in_a_cell_is_shown_as_an_escape() -> None:
    # A path with a newline kept a row on two lines; an escape sequence reached the terminal.
    rows = [["/tmp/new\nline", "\x1b[2Jok"], ["a\tb", "\u009b\u202eok"]]
    table = aligned_table(["PATH", "STATE"], rows)
    assert table.splitlines() == [
        "PATH            STATE",
        "/tmp/new\\nline  \\x1b[2Jok",
        "a\\tb            \\x9b\\u202eok",  # a C1 control, a right-to-left override
    ]


ODD_WORDS = [
    "plain",
    "it's a;b",
    "esc\x1b]0;title\x07",
    "line\nbreak\ttab\rreturn",
    "back\\slash's",
    "bidi\u202eexe.txt",
    "ls\u2028x",
    "c1\x85here",
    os.fsdecode(b"nonutf\xff\xfe"),
    "wide 中文",
]


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
@pytest.mark.parametrize("word", ODD_WORDS)
def test_a_suggested_word_pastes_into_bash_as_the_very_bytes(word: str, locale: str) -> None:
    """Suggested commands name branches and paths: pasted into bash they must give back the
    name's bytes (a name that is not UTF-8 printed as `nonutf\\xff` did not), and printed they
    must not steer the terminal."""
    quoted = shell_word(word)
    assert quoted.isprintable() and "\x1b" not in quoted
    env = {**os.environ, "LC_ALL": locale}
    argv = ["bash", "-c", f"printf %s {quoted}"]
    out = subprocess.run(argv, env=env, capture_output=True, check=True)
    assert out.stdout == os.fsencode(word)


def test_a_lease_refusal_suggests_a_release_that_works_as_printed(
    repo: Path, tmp_path: Path
) -> None:
    branch = os.fsdecode(b"agent\xff;1")
    claimed = run_wtpar_process("spawn", branch, "--claim", "alice", cwd=repo)
    assert claimed.returncode == 0, claimed.stderr
    refused = run_wtpar_process("remove", branch, cwd=repo)
    assert refused.returncode == 1
    suggested = re.search(r"`(wtpar release [^`]*)`", refused.stderr)
    assert suggested is not None, refused.stderr
    assert suggested.group(1) == "wtpar release $'agent\\xff;1'"
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    pasted = subprocess.run(
        ["bash", "-c", suggested.group(1)], cwd=repo, env=env, capture_output=True, text=True
    )
    assert pasted.returncode == 0, pasted.stderr
    assert run_wtpar_process("remove", branch, cwd=repo).returncode == 0


def test_an_unknown_branch_names_a_few_worktrees_not_all(repo: Path, wtpar: Invoke) -> None:
    """With 200 worktrees, the error was one line of thousands of characters."""
    spawn(repo, *[f"w{i:02d}" for i in range(12)])
    for args in (("run", "-b", "nope", "--", "true"), ("path", "nope")):
        result = wtpar(*args)
        assert result.exit_code == 2
        (line,) = result.stderr.splitlines()
        assert "no worktree for branch 'nope'" in line and " more)" in line, line
        assert len(line) < 200
