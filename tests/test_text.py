"""Tables line up on the screen, whatever the characters; counts agree with their nouns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Invoke
from tests.run_helpers import spawn
from wtpar.text import aligned_table, display_width, format_seconds, plural


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
