"""What one task costs `wtpar run` when there are thousands: counts stand for the time and
memory (system calls of the costly kinds per task, objects kept per finished task)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Invoke
from tests.run_helpers import configure, make_dispatcher, spawn
from wtpar import busy
from wtpar.model import RunEvent, RunReport, RunStatus, SkipKind, TaskSpec, TaskStarted
from wtpar.run import history as history_module
from wtpar.run.history import Attempted, History, TaskId
from wtpar.run.plan import RunRequest
from wtpar.run.runner import run_sync
from wtpar.run.taskconfig import find_cycle


def configure_tasks(repo: Path, count: int) -> tuple[str, ...]:
    """COUNT independent tasks running `true`; their names."""
    names = tuple(f"t{i:04d}" for i in range(count))
    configure(repo, "".join(f'[tasks.{n}]\ncmd = "true"\n' for n in names))
    return names


@pytest.fixture
def os_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """How often wtpar calls some `os` functions (by name) while the fixture is active."""
    seen: Counter[str] = Counter()

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            seen[name] += 1
            return real(*args, **kwargs)

        return call

    for name in ("ftruncate", "open", "mkdir", "close"):
        monkeypatch.setattr(os, name, counting(name, getattr(os, name)))
    yield seen


def test_a_busy_record_is_never_truncated(repo: Path, os_calls: Counter[str]) -> None:
    # On ext4, a file truncated and then deleted makes its last close wait for a flush:
    # a millisecond on every task, more than the rest of wtpar's work for `true`.
    names = configure_tasks(repo, 12)
    spawn(repo, "a")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=names, branches=("a",), jobs=2))
    os_calls.clear()
    report = run_sync(dispatcher)
    assert [t.status for t in report.tasks] == [RunStatus.OK] * 12
    assert os_calls["ftruncate"] == 0


def test_a_busy_record_rewritten_shorter_still_reads(tmp_path: Path) -> None:
    wtpar_dir, worktree = str(tmp_path / "wtpar"), str(tmp_path / "wt")
    with busy.running_in(wtpar_dir, worktree, "test") as record:
        record.started(123456789)
        record.started(7)  # shorter: the rest of the earlier record is padding
        [task] = busy.running_tasks(wtpar_dir, worktree)
        assert (task.task, task.pid) == ("test", 7)


def run_tasks(repo: Path, names: tuple[str, ...], jobs: int = 2, **seen: Any) -> RunReport:
    """Run the named tasks in worktree `a` (spawned before), in this process."""
    dispatcher = make_dispatcher(repo, RunRequest(task_names=names, branches=("a",), jobs=jobs))
    for callback in seen.values():
        dispatcher.subscribe(callback)
    return run_sync(dispatcher)


def test_waiting_instances_have_no_task_of_their_own(repo: Path) -> None:
    # A coroutine per waiting instance cost about 4 KB each: 20 MB for 5000 `true`s.
    names = configure_tasks(repo, 30)
    spawn(repo, "a")
    tasks_at_start: list[int] = []

    def count(event: RunEvent) -> None:
        if isinstance(event, TaskStarted):
            tasks_at_start.append(len(asyncio.all_tasks()))

    report = run_tasks(repo, names, jobs=2, count=count)
    assert [t.status for t in report.tasks] == [RunStatus.OK] * 30
    assert len(tasks_at_start) == 30
    assert max(tasks_at_start) <= 2 + 1  # the running ones and the run itself


def test_a_finished_run_keeps_no_task_object_per_instance(repo: Path) -> None:
    names = configure_tasks(repo, 20)
    spawn(repo, "a")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=names, branches=("a",), jobs=2))
    report = run_sync(dispatcher)
    assert report.ok
    gc.collect()
    kept = [o for o in gc.get_referents(*dispatcher._lives.values()) if isinstance(o, asyncio.Task)]
    assert kept == []


def test_a_long_chain_of_skipped_dependents_ends(repo: Path) -> None:
    # Each skipped instance makes the next ready at once: handled in a loop, not by recursion
    # (Python's limit is 1000 frames), in checking for cycles, planning and dispatching alike.
    count = 2500
    configure(
        repo,
        '[tasks.t0000]\ncmd = "exit 1"\n'
        + "".join(
            f'[tasks.t{i:04d}]\ncmd = "true"\ndepends_on = ["t{i - 1:04d}"]\n'
            for i in range(1, count)
        ),
    )
    spawn(repo, "a")
    report = run_tasks(repo, (f"t{count - 1:04d}",), jobs=2)
    statuses = Counter(t.status for t in report.tasks)
    assert statuses == {RunStatus.FAILED: 1, RunStatus.SKIPPED: count - 1}
    assert report.tasks[-1].skip is SkipKind.DEPENDENCY_FAILED


def test_the_files_a_run_writes_cost_no_python_encoding_per_task(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # json's pure-Python encoder (what indent= uses) took seconds for 5000 tasks' report,
    # history and results: count the pieces of text it makes.
    calls: list[int] = []
    real = json.encoder._make_iterencode  # type: ignore[attr-defined]

    def counting(*args: Any, **kwargs: Any) -> Any:
        encode = real(*args, **kwargs)

        def counted(*a: Any) -> Iterator[str]:
            for chunk in encode(*a):
                calls.append(1)
                yield chunk

        return counted

    monkeypatch.setattr(json.encoder, "_make_iterencode", counting)
    spawn(repo, "a")
    by_size = {}
    for size in (3, 30):
        names = configure_tasks(repo, size)
        calls.clear()
        assert run_tasks(repo, names).ok
        by_size[size] = len(calls)
    assert by_size[30] == by_size[3]


def test_history_holds_each_attempt_in_a_few_hundred_bytes(tmp_path: Path) -> None:
    # 5000 keys of up to 20 attempts each: at 2 KB an attempt, recording one run's history
    # took more memory than running its 5000 tasks.
    history = History(str(tmp_path))
    stored = 3000
    history.record(
        Attempted(f"t{i:04d}", "main", "true", 0.001, 0, 1.7e9 + i, 0.0005, 3_000_000)
        for i in range(stored // 3)
        for _ in range(3)
    )
    tracemalloc.start()
    try:
        history.record([Attempted("new", "main", "true", 0.001, 0, 1.8e9)])
        record_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        known = history.load()
        load_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sum(len(v) for v in known.values()) == stored + 1
    assert record_peak / stored < 1000  # bytes per remembered attempt
    assert load_peak / stored < 800


def test_a_history_of_the_first_format_is_read(tmp_path: Path) -> None:
    history = History(str(tmp_path))
    entry = {"task": "t", "branch": "a", "command": "c", "duration": 2.0, "exit_code": 0}
    entry |= {"finished": 5.0, "cpu_seconds": 1.0, "peak_rss": 4096}
    os.makedirs(os.path.dirname(history.path))
    Path(history.path).write_text(json.dumps({"schema": 1, "entries": {"t\x1fa\x1fc": [entry]}}))
    assert history.load() == {
        TaskId("t", "a", "c"): [Attempted("t", "a", "c", 2.0, 0, 5.0, 1.0, 4096)]
    }
    history.record([Attempted("t", "a", "c", 3.0, 1, 6.0)])
    assert [a.duration for a in history.load()[TaskId("t", "a", "c")]] == [2.0, 3.0]


def test_a_task_opens_one_file_and_makes_no_folder(repo: Path, os_calls: Counter[str]) -> None:
    # Per task: the gate beside its busy record and the record again (busy.py: each task
    # its own descriptor of the record that serves the run's next task once this one
    # ends); a slot's lock file and /dev/null (stdin) stay open for the run, the records'
    # folder is made once per worktree.
    worktree = spawn(repo, "a")["a"]
    per_size = {}
    for size in (4, 24):
        names = configure_tasks(repo, size)
        for _ in range(2):  # the first run makes the folders every run shares
            request = RunRequest(task_names=names, branches=("a",), jobs=2)
            dispatcher = make_dispatcher(repo, request)
            os_calls.clear()
            assert run_sync(dispatcher).ok
        per_size[size] = Counter(os_calls)
    per_task = {name: (per_size[24][name] - per_size[4][name]) / 20 for name in os_calls}
    assert per_task["open"] < 2.5  # was 5: slot lock file, /dev/null, folder, record, gate
    assert per_task["mkdir"] == 0
    folder = busy.busy_dir(str(repo / ".git" / "wtpar"), str(worktree))
    assert [n for n in os.listdir(folder) if n != "gate"] == []  # the run's records went with it


def test_a_cycle_at_the_end_of_a_long_chain_is_named() -> None:
    # t0 -> t1 -> ... -> t2999 -> t2998: found by a walk that needs no stack frame a link.
    count = 3000
    specs = {
        f"t{i}": TaskSpec(name=f"t{i}", cmd="true", depends_on=(f"t{i + 1}",))
        for i in range(count - 1)
    }
    specs[f"t{count - 1}"] = TaskSpec(name=f"t{count - 1}", cmd="true", after=f"t{count - 2}")
    assert find_cycle(specs) == [f"t{count - 2}", f"t{count - 1}", f"t{count - 2}"]
    specs[f"t{count - 1}"] = TaskSpec(name=f"t{count - 1}", cmd="true")
    assert find_cycle(specs) is None


def test_a_run_of_one_task_validates_its_own_history_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A history of thousands of keys cost every run of one task a quarter of a second,
    # parsing, validating (and building) rows it never used.
    history = History(str(tmp_path), keep=3)
    history.record(
        Attempted(f"t{k}", "a", "c", float(i), 0, float(i)) for k in range(200) for i in range(3)
    )
    checked = Counter[str]()
    real_parsed = history_module._parsed

    def counting(row: str) -> Any:
        checked["rows"] += 1
        return real_parsed(row)

    monkeypatch.setattr(history_module, "_parsed", counting)
    loaded = history.load(tasks={"t7"})
    assert [a.duration for a in loaded[TaskId("t7", "a", "c")]] == [0.0, 1.0, 2.0]
    assert list(loaded) == [TaskId("t7", "a", "c")] and checked["rows"] == 3
    checked.clear()
    History(str(tmp_path), keep=3).record([Attempted("t7", "a", "c", 9.0, 0, 8.0)])
    assert checked["rows"] == 3  # t7's rows; the 199 other keys are carried over as text
    history.load(tasks={"t7"})
    checked.clear()
    history.record([Attempted("t7", "a", "c", 9.0, 0, 9.0)])
    assert checked["rows"] == 0  # the file as loaded: read once, checked once, in a run
    everything = history.load()
    assert len(everything) == 200 and everything[TaskId("t3", "a", "c")][-1].duration == 2.0
    assert [a.finished for a in everything[TaskId("t7", "a", "c")]] == [2.0, 8.0, 9.0]


def test_a_history_written_by_another_run_meanwhile_is_read_again(tmp_path: Path) -> None:
    ours, theirs = History(str(tmp_path)), History(str(tmp_path))
    ours.record([Attempted("t", "a", "c", 1.0, 0, 1.0)])
    ours.load()  # this run starts...
    theirs.record([Attempted("u", "a", "c", 2.0, 0, 2.0)])  # ...another one ends meanwhile
    ours.record([Attempted("t", "a", "c", 3.0, 0, 3.0)])
    known = History(str(tmp_path)).load()
    assert [a.duration for a in known[TaskId("u", "a", "c")]] == [2.0]  # not lost
    assert [a.duration for a in known[TaskId("t", "a", "c")]] == [1.0, 3.0]


def test_a_run_builds_no_object_per_remembered_attempt(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Estimates need sums per key, not 100000 attempts as objects.
    names = configure_tasks(repo, 30)
    spawn(repo, "a")
    History(str(repo / ".git" / "wtpar")).record(
        Attempted(n, "a", "true", float(i + 1), 0, float(i)) for n in names for i in range(5)
    )
    built = Counter[str]()
    real = history_module.Attempted

    def counting(*args: Any) -> Any:
        built["attempts"] += 1
        return real(*args)

    monkeypatch.setattr(history_module, "Attempted", counting)
    dispatcher = make_dispatcher(repo, RunRequest(task_names=names, branches=("a",), jobs=2))
    assert built["attempts"] == 0
    assert {e.seconds for e in dispatcher.pacer.expected.values()} == {3.0}  # mean of 1..5


def test_a_full_history_is_read_and_written_as_text(tmp_path: Path) -> None:
    # 5000 keys of 20 attempts were parsed into lists of numbers at every start (380 bytes
    # an attempt at the peak) and again at every end, then written as one string held three
    # times over (460 bytes an attempt at the peak): a 5000-task run went from 57 to 92 MB.
    # Each key's attempts are now one string, as in the file, a key a line, read a line at
    # a time and rewritten a line at a time (history_file.py): parsed whole, the file still
    # added 9 MB to the peak of a 5000-task run at its end.
    keys, keep = 500, 20
    History(str(tmp_path)).record(
        Attempted(f"t{k}", "a", "true", 0.1 * i + k / 7, 0, 1.7e9 + i / 3, i / 9, 1 << 21)
        for k in range(keys)
        for i in range(keep)
    )
    rows = keys * keep
    history = History(str(tmp_path))
    tracemalloc.start()
    try:
        history.tallies(tasks={"t7"})
        kept, read_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        history.record([Attempted("t7", "a", "true", 1.0, 0, 1.8e9)])
        write_peak = tracemalloc.get_traced_memory()[1] - kept
    finally:
        tracemalloc.stop()
    assert kept / rows < 30  # bytes per attempt, from the start of the run to its end
    assert read_peak / rows < 25  # was 148 with the file parsed whole
    assert write_peak / rows < 25
    tracemalloc.start()
    try:
        history.record([Attempted(f"t{k}", "a", "true", 1.0, 0, 1.8e9) for k in range(keys)])
        every_key_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert every_key_peak / rows < 80  # a run of every task: its own new rows, not the file


def test_reading_the_history_keeps_no_row_in_memory(tmp_path: Path) -> None:
    # A full history of 5000 tasks parses to tens of megabytes: a run keeps its sums only.
    history = History(str(tmp_path))
    history.record(
        Attempted(f"t{k}", "a", "c", float(i), 0, float(i), 0.5, 4096)
        for k in range(300)
        for i in range(20)
    )
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tallies = history.tallies()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(tallies) == 300 and tallies[TaskId("t7", "a", "c")].count == 20
    assert kept < 300 * 600  # a tally per key; the 6000 rows took over 600 kB


@pytest.mark.parametrize("in_program", [True, False])
def test_the_program_freezes_a_runs_plan_for_the_collector(
    repo: Path, wtpar: Invoke, in_program: bool
) -> None:
    # The collections thousands of tasks' garbage sets off walked the whole plan each time
    # (5 full ones, 130 ms for 5000 tasks). A process running the CLI in-process (this
    # one) keeps its collector as it is; the program starts with it off (__main__.py).
    names = configure_tasks(repo, 40)
    spawn(repo, "a")
    before = gc.get_freeze_count()
    try:
        if in_program:
            gc.disable()
        result = wtpar("run", "-j", "2", "--output", "quiet", "-b", "a", *names)
        assert result.exit_code == 0, result.output
        frozen = gc.get_freeze_count() - before
        assert gc.isenabled()  # on again once the tasks start
    finally:
        gc.enable()
        gc.unfreeze()
    assert frozen > 40 * 20 if in_program else frozen == 0  # dozens of objects a task
