"""`wtpar tune`: the table, the JSON, the recommendation, and `-j auto` using it."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.conftest import Invoke
from tests.run_helpers import alive, kill_quietly, read_pids, spawn, wtpar_popen
from wtpar.model import RunReport, RunStatus, TaskKey, TaskRun
from wtpar.run.tune import TuneRecords, recommend, tune_json, tune_rows, tune_table


def report(wall: float, durations: list[float], ok: bool = True) -> RunReport:
    status = RunStatus.OK if ok else RunStatus.FAILED
    tasks = tuple(
        TaskRun(TaskKey(f"b{i}", "t"), "c", "/w", status, 0, 100.0, 100.0 + d)
        for i, d in enumerate(durations)
    )
    return RunReport("r", 100.0, 100.0 + wall, 1, tasks)


def test_rows_speedup_efficiency_and_the_recommendation() -> None:
    rows = tune_rows(
        [
            (1, 0.0, report(8.0, [2.0] * 4)),
            (2, 0.0, report(4.0, [2.0] * 4)),
            (4, 0.0, report(3.9, [2.0, 2.0, 2.0, 3.9])),
            (8, 0.0, report(2.0, [2.0] * 4, ok=False)),
        ]
    )
    assert [round(r.speedup or 0, 3) for r in rows] == [1.0, 2.0, 2.051, 4.0]
    assert [round(r.efficiency or 0, 3) for r in rows] == [1.0, 1.0, 0.513, 0.5]
    assert rows[0].throughput == 0.5 and round(rows[2].p99 or 0, 6) == 3.9
    chosen = recommend(rows)
    assert chosen is not None and chosen.jobs == 2  # within 5 % of -j 4; -j 8 failed
    text = tune_table(rows, chosen)
    for word in ("WALL", "TASKS/S", "SPEEDUP", "EFFICIENCY", "P50", "P95", "P99", "8 (failed)"):
        assert word in text
    bars = text.split("wall time:\n")[1].splitlines()
    assert bars[0].startswith("-j 1 " + "#" * 40) and bars[3].startswith("-j 8 " + "#" * 10 + " ")
    assert "recommended: -j 2 (the smallest within 5% of the fastest)" in text
    data = json.loads(tune_json(rows, chosen))
    assert data["recommended"] == {"jobs": 2, "stagger": 0.0}
    assert [s["jobs"] for s in data["settings"]] == [1, 2, 4, 8]
    assert recommend(tune_rows([(1, 0.0, report(1.0, [1.0], ok=False))])) is None


def test_records_survive_damage(tmp_path: Path) -> None:
    records = TuneRecords(str(tmp_path))
    assert records.best("tasks:test") is None
    records.record("tasks:test", 3, 0.0)
    assert records.best("tasks:test") == 3
    Path(records.path).write_text('{"best": {"tasks:test": {"jobs": "many"}}}')
    assert records.best("tasks:test") is None
    Path(records.path).write_text("[1, 2")
    assert records.best("tasks:test") is None


def test_tune_measures_prints_and_records_for_j_auto(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a", "b")
    result = wtpar("tune", "-j", "1,2", "--stagger", "0,0.05", "--", "sleep 0.05")
    assert result.exit_code == 0, result.output
    assert "tune: -j 2 --stagger 0.05:" in result.output  # progress, on stderr
    assert "SPEEDUP" in result.output and "wall time:" in result.output
    assert "recommended: -j " in result.output
    auto = wtpar("run", "-j", "auto", "--", "sleep 0.05")
    assert "the best -j recorded by `wtpar tune`" in auto.output
    assert "wtpar tune" not in wtpar("run", "-j", "auto", "--", "true").output  # other work


def test_tune_json_and_bad_settings(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a")
    result = wtpar("tune", "-j", "1,2", "--json", "--", "true")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [s["jobs"] for s in data["settings"]] == [1, 2]
    assert data["recommended"]["jobs"] in (1, 2)
    assert wtpar("tune", "-j", "0", "--", "true").exit_code == 2
    assert wtpar("tune", "-j", "two", "--", "true").exit_code == 2
    assert wtpar("tune", "--stagger", "-1", "--", "true").exit_code == 2
    assert wtpar("tune", "-j", "1", "--", "false").exit_code == 1


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_tune_and_records_nothing(repo: Path, tmp_path: Path, sig: int) -> None:
    spawn(repo, "a")
    pids = tmp_path / "pids"
    pids.mkdir()
    command = f"echo $$ > {pids}/$WTPAR_RUN_ID.pid; exec sleep 300"
    proc = wtpar_popen("tune", "-j", "1,2", "-b", "a", "--", command, cwd=repo, new_session=True)
    try:
        wait_for(lambda: read_pids(pids), 30, "the first setting's task")
        (task,) = read_pids(pids)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
        kill_quietly(read_pids(pids))
    assert proc.returncode == 128 + sig, out + err
    assert "Traceback" not in err and "-j 2" not in err
    wait_for(lambda: not alive(task), 10, "the task to be stopped")
    assert len(read_pids(pids)) == 1  # the second setting never started
    assert not (repo / ".git" / "wtpar" / "cache" / "tune.json").exists()
