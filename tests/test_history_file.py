"""The history file itself: attempts read back exactly, files of the older formats still
read (and rewritten in the new one), damaged rows dropped, and two runs recording at once
losing nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from wtpar.run.history import Attempted, History, TaskId

KEY = "t\x1fa\x1fc"


def write_history(history: History, schema: int, entries: dict[str, Any]) -> None:
    Path(history.path).parent.mkdir(parents=True, exist_ok=True)
    Path(history.path).write_text(json.dumps({"schema": schema, "entries": entries}))


def durations(history: History, task: str = "t") -> list[float]:
    return [a.duration for a in history.load().get(TaskId(task, "a", "c"), [])]


def test_attempts_read_back_exactly(tmp_path: Path) -> None:
    recorded = [
        Attempted("t", "a", "c", 0.1 + 0.2, 0, 1764600000.1234567, 1 / 3, 8_589_934_592),
        Attempted("t", "a", "c", 5e-324, -9, 1e-7, None, None),
        Attempted("t", "a", "c", 9999999.999999998, None, -1.5, 0.0, 0),  # the longest kept
    ]
    History(str(tmp_path)).record(recorded)
    assert History(str(tmp_path)).load() == {TaskId("t", "a", "c"): recorded}
    found = History(str(tmp_path)).tallies()[TaskId("t", "a", "c")]
    seconds = 0.1 + 0.2 + 5e-324 + 9999999.999999998
    assert (found.count, found.seconds, found.peak) == (3, seconds, 1 << 33)


def test_a_history_of_the_second_format_is_read_and_written_as_the_third(
    tmp_path: Path,
) -> None:
    history = History(str(tmp_path))
    good = [[2, 0, 5.0, None, None], [2.5, 1, 6.25, 1.0, 4096]]
    damaged = [["2", 0, 5.0, None, None], [1.0, True, 5.0, None, None], [-1.0, 0, 5.0]]
    entries = {KEY: [*good, *damaged], "u\x1fa\x1fc": damaged, "not a key": good}
    write_history(history, 2, {**entries, "v\x1fa\x1fc": [[7.0, 0, 8.0, 0.5, 1]]})
    assert durations(history) == [2.0, 2.5] and durations(history, "u") == []
    assert history.tallies(tasks={"t"})[TaskId("t", "a", "c")].count == 2
    history.record([Attempted("w", "a", "c", 3.0, 0, 7.0)])
    data = json.loads(Path(history.path).read_text())
    assert data["schema"] == 3
    assert data["entries"] == {
        KEY: "2,0,5.0,,;2.5,1,6.25,1.0,4096",
        "v\x1fa\x1fc": "7.0,0,8.0,0.5,1",
        "w\x1fa\x1fc": "3.0,0,7.0,,",
    }
    assert durations(History(str(tmp_path))) == [2.0, 2.5]


def test_damaged_rows_are_dropped_where_they_are_read(tmp_path: Path) -> None:
    history = History(str(tmp_path), keep=10)
    damaged = [
        *("nan,0,1.0,,", "inf,0,1.0,,", "-1.0,0,1.0,,", "1.0,0,nan,,", "1.0,0,1.0,-inf,"),
        *("1.0,x,1.0,,", "1.0,0,1.0,,1.5", "1.0,0,1.0", "1.0,0,1.0,,,", "", "1.0;0,1.0,,"),
    ]
    text = ";".join(["1.0,0,1.0,,", *damaged, "2.0,0,2.0,0.5,64"])
    write_history(history, 3, {KEY: text, "u\x1fa\x1fc": text, "v\x1fa\x1fc": [[1.0]]})
    assert durations(history) == durations(history, "u") == [1.0, 2.0]
    assert durations(history, "v") == []
    history.record([Attempted("t", "a", "c", 3.0, 0, 3.0)])
    entries = json.loads(Path(history.path).read_text())["entries"]
    assert entries[KEY] == "1.0,0,1.0,,;2.0,0,2.0,0.5,64;3.0,0,3.0,,"  # rewritten: checked
    assert entries["u\x1fa\x1fc"] == text  # carried over as it was, dropped when read
    assert "v\x1fa\x1fc" not in entries
    assert durations(History(str(tmp_path)), "u") == [1.0, 2.0]


RECORD = """
import sys
from wtpar.run.history import Attempted, History
both = Attempted("both", "a", "c", 1.0, 0, 0.0)
for i in range(25):
    History(sys.argv[1], keep=100).record([Attempted(sys.argv[2], "a", "c", i, 0, 0.0), both])
"""


def test_two_runs_recording_at_once_lose_no_attempt(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", RECORD, str(tmp_path), name])
        for name in ("p", "q")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    history = History(str(tmp_path), keep=100)
    assert durations(history, "p") == durations(history, "q") == [float(i) for i in range(25)]
    assert len(durations(history, "both")) == 50


def test_the_file_is_json_with_a_key_a_line_least_recently_used_first(tmp_path: Path) -> None:
    history = History(str(tmp_path), keep=2, max_keys=3)
    history.record([Attempted(t, "a", "c", 1.0, 0, 1.0) for t in ("t", "u", "v")])
    history.record([Attempted("t", "a", "c", 2.0, 0, 2.0), Attempted("w", "a", "c", 3.0, 0, 3.0)])
    text = Path(history.path).read_text()
    lines = text.splitlines()
    assert lines[0] == '{"schema":3,"entries":{' and lines[-1] == "}}"
    # u was used least recently: the fourth key pushed it out; t moved to the end.
    assert [json.loads("{" + line.rstrip(",") + "}").popitem()[0] for line in lines[1:-1]] == [
        "v\x1fa\x1fc",
        "t\x1fa\x1fc",
        "w\x1fa\x1fc",
    ]
    assert json.loads(text)["entries"]["t\x1fa\x1fc"].count(";") == 1  # valid JSON, keep=2
    assert durations(history) == [1.0, 2.0]


def test_a_damaged_line_loses_its_key_only(tmp_path: Path) -> None:
    history = History(str(tmp_path))
    history.record([Attempted(t, "a", "c", 1.0, 0, 1.0) for t in ("t", "u", "v")])
    lines = Path(history.path).read_text().splitlines()
    lines[2] = lines[2][:15]  # u's line cut short, as by hand or by a bad editor
    Path(history.path).write_text("\n".join(lines) + "\n")
    assert sorted(t.task for t in History(str(tmp_path)).load()) == ["t", "v"]
    history.record([Attempted("u", "a", "c", 4.0, 0, 4.0)])
    assert durations(history, "u") == [4.0] and durations(history, "v") == [1.0]
    json.loads(Path(history.path).read_text())  # whole again
