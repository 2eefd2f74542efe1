"""A history wtpar cannot use costs a warning, never the run: a damaged file or line is
dropped with one warning (and never copied into the next file), one wtpar cannot read or a
newer wtpar wrote is left as it is, and one it cannot write leaves the run's outcome alone."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.conftest import ROOT, Invoke, run_wtpar_process
from wtpar.run.history import Attempted, History, TaskId


def _recorded(history: History, task: str) -> None:
    history.record([Attempted(task, "a", "c", 1.0, 0, 1.0)])


def test_a_file_that_is_not_a_history_is_dropped_with_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    history = History(str(tmp_path))
    Path(history.path).parent.mkdir(parents=True)
    Path(history.path).write_text("[1, 2, 3]")
    assert history.load() == {}
    _recorded(history, "t")
    assert "not what wtpar writes there; ignoring it" in capsys.readouterr().err
    assert list(History(str(tmp_path)).load()) == [TaskId("t", "a", "c")]


@pytest.mark.parametrize("schema_first", [True, False])
def test_a_newer_wtpar_s_history_is_left_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schema_first: bool
) -> None:
    history = History(str(tmp_path))
    Path(history.path).parent.mkdir(parents=True)
    entries: dict[str, object] = {"t\x1fa\x1fc": {"rows": []}}
    data = {"schema": 4, "entries": entries} if schema_first else {"entries": entries, "schema": 4}
    newer = json.dumps(data)
    Path(history.path).write_text(newer)
    assert history.load() == {}
    _recorded(history, "t")
    assert "written by a newer wtpar (schema 4)" in capsys.readouterr().err
    assert Path(history.path).read_text() == newer


@pytest.mark.parametrize(
    "attempts",
    ['"1.0,0,1.0,,\\q"', '"1.0,0,1.0,,26259456"junk"'],  # not JSON: \q; a stray quote
)
def test_a_line_that_is_no_json_is_dropped_not_copied_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], attempts: str
) -> None:
    history = History(str(tmp_path))
    _recorded(history, "t")
    lines = Path(history.path).read_text().splitlines()
    lines.insert(1, f'"u\\u001fa\\u001fc":{attempts},')
    Path(history.path).write_text("\n".join(lines) + "\n")
    assert list(History(str(tmp_path)).load()) == [TaskId("t", "a", "c")]
    _recorded(History(str(tmp_path)), "v")
    assert "1 damaged line(s) dropped; the others are kept" in capsys.readouterr().err
    entries = json.loads(Path(history.path).read_text())["entries"]  # valid JSON again
    assert sorted(entries) == ["t\x1fa\x1fc", "v\x1fa\x1fc"]


def test_the_temporary_files_of_killed_writers_go_with_the_next_write(tmp_path: Path) -> None:
    history = History(str(tmp_path))
    _recorded(history, "t")
    cache = Path(history.path).parent
    left = [cache / ".tmp-0123456789abhistory.json", cache / ".tmp-ba9876543210history.json"]
    for path in left:
        path.write_text('{"schema":3,"entries":{\n"t\\u001f')  # cut short by a SIGKILL
    other = cache / ".tmp-0123456789abresults.json"  # another file's: not the history's
    other.write_text("{")
    _recorded(history, "u")
    assert not any(p.exists() for p in left) and other.exists()
    assert sorted(t.task for t in history.load()) == ["t", "u"]


def test_a_history_that_cannot_be_read_or_written_leaves_the_run_s_outcome_alone(
    repo: Path, wtpar: Invoke
) -> None:
    assert wtpar("spawn", "a").exit_code == 0
    history = repo / ".git" / "wtpar" / "cache" / "history.json"
    history.mkdir(parents=True)  # neither readable nor replaceable as a file
    result = wtpar("run", "-b", "a", "--", "true")
    assert result.exit_code == 0, result.output
    assert "1 task: 1 ok" in result.output
    assert f"{history}: cannot read it" in result.output
    assert history.is_dir() and os.listdir(history) == []  # left as it was
    assert not [n for n in os.listdir(history.parent) if n.startswith(".tmp-")]
    result = wtpar("exec", "a", "--", "true")
    assert result.exit_code == 0, result.output


def test_a_history_that_cannot_be_written_costs_a_warning_only(repo: Path, wtpar: Invoke) -> None:
    """The history of 200 keys is too big to write under a 16 KB file size limit (a full
    disk, as far as the writer can tell), the rest of the run's files are not."""
    assert wtpar("spawn", "a").exit_code == 0
    history = History(str(repo / ".git" / "wtpar"))
    history.record([Attempted(f"t{i}", "a", "c" * 80, 1.0, 0, 1.0) for i in range(200)])
    before = Path(history.path).read_text()
    assert len(before) > 16384

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (16384, 16384))

    done = subprocess.run(
        [sys.executable, "-m", "wtpar", "run", "-b", "a", "--", "true"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=limited,  # noqa: PLW1509 - only sets a limit, nothing that could deadlock
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "1 task: 1 ok" in done.stdout
    assert f"{history.path}: cannot write it (File too large)" in done.stderr
    assert Path(history.path).read_text() == before


def test_a_run_waiting_for_the_history_s_lock_says_so_then_records(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    """Another process holding the history's lock (a run stopped with Ctrl-Z while it wrote)
    keeps this run waiting at its end: after a short wait it says what it waits for."""
    assert wtpar("spawn", "a").exit_code == 0
    history = History(str(repo / ".git" / "wtpar"))
    lock = Path(history.path).parent / "locks" / "history.json.lock"
    lock.parent.mkdir(parents=True)
    holding = tmp_path / "holding"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom filelock import FileLock\n"
            "with FileLock(sys.argv[1]):\n    open(sys.argv[2], 'w').close()\n"
            "    time.sleep(600)\n",  # wait-ok: a holder the test kills
            str(lock),
            str(holding),
        ]
    )
    err = tmp_path / "stderr"
    try:
        wait_for(holding.exists, 30, "the lock to be held")
        with open(err, "w") as err_file:
            run = subprocess.Popen(
                [sys.executable, "-m", "wtpar", "run", "-b", "a", "--", "true"],
                cwd=repo,
                stdout=subprocess.DEVNULL,
                stderr=err_file,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
        said = f"waiting for another wtpar process to finish writing {history.path}"
        wait_for(lambda: said in err.read_text(), 30, "the run to say it waits")
        assert run.poll() is None  # still waiting
    finally:
        holder.kill()
        holder.wait()
    assert run.wait(timeout=60) == 0
    assert [t.task for t in history.load()] == ["cmd"]


def test_a_lock_held_too_long_leaves_the_history_as_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder stopped with Ctrl-Z would keep every run waiting at its end: past a bound
    (15 s, shortened here), the run leaves its history unrecorded, with a warning."""
    import wtpar.run.history
    import wtpar.state

    monkeypatch.setattr(wtpar.state, "QUIET_WAIT", 0.1)
    monkeypatch.setattr(wtpar.run.history, "CACHE_PATIENCE", 0.2)
    history = History(str(tmp_path))
    _recorded(history, "t")
    before = Path(history.path).read_text()
    holding = tmp_path / "holding"
    lock = Path(history.path).parent / "locks" / "history.json.lock"
    code = (
        "import sys, time\nfrom filelock import FileLock\n"
        "with FileLock(sys.argv[1]):\n    open(sys.argv[2], 'w').close()\n"
        "    time.sleep(600)\n"  # wait-ok: a holder the test kills
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock), str(holding)])
    try:
        wait_for(holding.exists, 30, "the lock to be held")
        _recorded(history, "u")
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert "waiting for another wtpar process to finish writing" in err
    said = "cannot write it (another wtpar process held its lock; waited 0s in all)"
    assert f"{said}; not recording" in err
    assert Path(history.path).read_text() == before


def test_a_fifo_in_the_history_s_place_is_left_alone_without_waiting(
    repo: Path, wtpar: Invoke
) -> None:
    """Opening a FIFO to read it waits for a writer: the run would never end."""
    assert wtpar("spawn", "a").exit_code == 0
    history = repo / ".git" / "wtpar" / "cache" / "history.json"
    history.parent.mkdir(parents=True)
    os.mkfifo(history)
    done = run_wtpar_process("run", "-b", "a", "--", "true", cwd=repo)
    assert done.returncode == 0, done.stderr
    assert f"{history}: cannot read it (not a file)" in done.stderr
    assert history.is_fifo()
