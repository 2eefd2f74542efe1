"""A reader that goes away (`wtpar run ... | head -2`) stops the printing, not the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.conftest import ROOT
from tests.land_helpers import train_repo
from tests.run_helpers import spawn
from tests.terminal_helpers import Terminal


def _head(args: list[str], cwd: Path, lines: int) -> tuple[list[str], int, str]:
    """`python -m wtpar ARGS | head -LINES`: what head read, wtpar's exit status, its stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "wtpar", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    got = [proc.stdout.readline().decode() for _ in range(lines)]
    proc.stdout.close()
    err = proc.stderr.read().decode()
    return got, proc.wait(timeout=60), err


@pytest.mark.parametrize("command", ["seq 1 20000", "seq 1 20000; exit 3"])
def test_run_into_a_closed_pipe_finishes_the_tasks(repo: Path, command: str) -> None:
    spawn(repo, "a", "b")
    got, code, err = _head(["run", "--output", "stream", "--", command], repo, 2)
    assert len(got) == 2 and got[0].startswith("[")
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == (0 if "exit" not in command else 1)
    runs = repo / ".git" / "wtpar" / "runs"
    report = json.loads((runs / (runs / "last").read_text().strip() / "report.json").read_text())
    assert [t["exit_code"] for t in report["tasks"]] == [code and 3] * 2
    for task in report["tasks"]:
        assert Path(task["log"]).read_text().splitlines()[-1] == "20000"


def test_exec_into_a_closed_pipe_keeps_the_commands_exit_status(repo: Path) -> None:
    spawn(repo, "a")
    got, code, err = _head(["exec", "a", "--", "seq 1 50000; exit 4"], repo, 1)
    assert got == ["1\n"]
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code == 4


def test_closing_the_terminal_during_a_run_exits_129(repo: Path, tmp_path: Path) -> None:
    """The terminal goes away (the window closed): writes to it fail (EIO) and wtpar gets
    SIGHUP. The run stops its tasks and exits 129, as the README says, with the report
    naming SIGHUP; it used to end with "error: Input/output error", exit 1."""
    spawn(repo, "a")
    flag = tmp_path / "started"
    with Terminal(["run", "-b", "a", "--", f"touch {flag}; sleep 60"], repo) as term:
        wait_for(flag.exists, 30, "the task to start")
        assert term.hang_up() == 128 + signal.SIGHUP
    runs = repo / ".git" / "wtpar" / "runs"
    (report,) = runs.glob("*/report.json")
    data = json.loads(report.read_text())
    assert (data["interrupted"], data["signal"]) == (True, "SIGHUP")


def test_closing_the_terminal_during_land_exits_129(repo: Path, tmp_path: Path) -> None:
    """land prints its progress as it goes: a closed terminal must not turn its exit into
    "error: Input/output error", exit 1."""
    flag = tmp_path / "started"
    train_repo(repo, f"touch {flag}; sleep 60")
    with Terminal(["land", "b"], repo) as term:
        wait_for(flag.exists, 60, "the check to start")
        assert term.hang_up(60) == 128 + signal.SIGHUP
    assert not (repo / "flag_b").exists()  # main left as it was
