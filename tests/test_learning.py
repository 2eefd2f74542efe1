"""History, critical-path ordering, priority, the memory hold-back and `-j auto`, with real
runs (the order of starts is read from the tasks' own stamps)."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

from tests.conftest import Invoke
from tests.run_helpers import configure, intervals, make_dispatcher, run_request, spawn, stamped
from wtpar.cli.run_output import LiveOutput
from wtpar.run.autojobs import choose_jobs
from wtpar.run.history import Attempted, History, TaskId
from wtpar.run.history import Estimate as E
from wtpar.run.plan import RunRequest
from wtpar.run.resources import Resources
from wtpar.run.runner import run_sync

GB = 1 << 30


def start_order(stamps: Path) -> list[str]:
    spans = intervals(stamps)
    return sorted(spans, key=lambda tag: spans[tag][0])


def workload(repo: Path, stamps: Path, extra: str = "") -> tuple[str, ...]:
    """Six short tasks listed before one long one."""
    tasks = "".join(
        f'[tasks.s{i}]\ncmd = """{stamped("sleep 0.05", f"s{i}", stamps)}"""\n' for i in range(6)
    )
    tasks += f'[tasks.long]\ncmd = """{stamped("sleep 0.6", "long", stamps)}"""\n{extra}'
    configure(repo, tasks)
    spawn(repo, "a")
    return (*(f"s{i}" for i in range(6)), "long")


def test_the_second_run_starts_the_longest_task_first(repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    names = workload(repo, stamps)
    # One slot: each start follows the last end, so the tasks' own stamps keep the order
    # even on a machine so loaded that two shells started together stamp out of order.
    run_request(repo, RunRequest(task_names=names, jobs=1))
    assert start_order(stamps)[-1] == "long"  # no history yet: the listed order
    stamps.unlink()
    report = run_request(repo, RunRequest(task_names=names, jobs=1))
    assert report.ok
    assert start_order(stamps)[0] == "long"


def test_priority_overrides_history_and_listing(repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    names = workload(repo, stamps, extra="")
    configure(
        repo,
        (repo / "wtpar.toml").read_text().replace("[tasks.s5]\n", "[tasks.s5]\npriority = 3\n"),
    )
    run_request(repo, RunRequest(task_names=names, jobs=1))
    assert start_order(stamps)[0] == "s5"
    stamps.unlink()
    run_request(repo, RunRequest(task_names=names, jobs=1))
    assert start_order(stamps)[:2] == ["s5", "long"]


def test_dependencies_still_hold_under_the_ordering(repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    configure(
        repo,
        f'[tasks.build]\ncmd = """{stamped("sleep 0.05", "build", stamps)}"""\n'
        f'[tasks.test]\ncmd = """{stamped("sleep 0.3", "test", stamps)}"""\n'
        'depends_on = ["build"]\npriority = 9\n'
        f'[tasks.other]\ncmd = """{stamped("sleep 0.1", "other", stamps)}"""\n',
    )
    spawn(repo, "a")
    for _ in range(2):
        run_request(repo, RunRequest(task_names=("other", "test"), jobs=1))
        spans = intervals(stamps)
        assert spans["test"][0] >= spans["build"][1]
        stamps.unlink()


def test_every_attempt_is_in_the_history_with_cpu_and_memory(repo: Path) -> None:
    busy = "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done"
    configure(repo, f'[tasks.busy]\ncmd = "{busy}"\n[tasks.bad]\ncmd = "exit 3"\nretries = 1\n')
    spawn(repo, "a", "b")
    run_request(repo, RunRequest(task_names=("busy", "bad"), jobs=2))
    known = History(str(repo / ".git" / "wtpar")).load()
    busy_a = known[TaskId("busy", "a", busy)]
    assert len(busy_a) == 1 and busy_a[0].exit_code == 0
    assert (busy_a[0].cpu_seconds or 0) > 0 and (busy_a[0].peak_rss or 0) > 100_000
    bad_b = known[TaskId("bad", "b", "exit 3")]
    assert [a.exit_code for a in bad_b] == [3, 3]  # both attempts


def test_history_keeps_the_last_n_and_drops_damaged_entries(tmp_path: Path) -> None:
    history = History(str(tmp_path), keep=3)
    history.record(Attempted("t", "a", "c", float(i), 0, float(i)) for i in range(5))
    assert [a.duration for a in history.load()[TaskId("t", "a", "c")]] == [2.0, 3.0, 4.0]
    data = json.loads(Path(history.path).read_text())
    key = next(iter(data["entries"]))
    rows = data["entries"][key].split(";")  # duration, exit code, finished, CPU s, peak memory
    rows[0] = "soon" + rows[0][rows[0].index(",") :]
    data["entries"][key] = ";".join([*rows, "t"])
    Path(history.path).write_text(json.dumps(data))
    assert [a.duration for a in history.load()[TaskId("t", "a", "c")]] == [3.0, 4.0]
    Path(history.path).write_text("{not json")
    assert history.load() == {}
    history.record([Attempted("t", "a", "c", 9.0, 0, 9.0)])  # a damaged file is replaced
    assert [a.duration for a in history.load()[TaskId("t", "a", "c")]] == [9.0]


def test_no_new_start_while_memory_is_above_the_limit(repo: Path, tmp_path: Path) -> None:
    stamps = tmp_path / "stamps"
    flag = tmp_path / "first-done"
    configure(
        repo,
        f'[tasks.first]\ncmd = """{stamped(f"sleep 0.3; touch {flag}", "first", stamps)}"""\n'
        f'[tasks.second]\ncmd = """{stamped("true", "second", stamps)}"""\n'
        f'[tasks.third]\ncmd = """{stamped("true", "third", stamps)}"""\n',
    )
    spawn(repo, "a")
    dispatcher = make_dispatcher(repo, RunRequest(task_names=("first", "second", "third"), jobs=3))
    dispatcher.options = replace(dispatcher.options, max_memory_percent=80)
    dispatcher.pacer.memory_percent = lambda: 10.0 if flag.exists() else 95.0
    out = io.StringIO()
    live = LiveOutput("progress", out, holding=lambda: dispatcher.holding_back)
    dispatcher.subscribe(live)
    report = run_sync(dispatcher, on_tick=live.draw, tick_interval=0.02)
    assert report.ok
    spans = intervals(stamps)
    assert spans["second"][0] >= spans["first"][1] and spans["third"][0] >= spans["first"][1]
    assert "holding back: memory 95.0% > 80%" in out.getvalue()
    assert dispatcher.holding_back is None


def test_the_progress_eta_comes_from_history() -> None:
    out = io.StringIO()
    live = LiveOutput("progress", out, eta=lambda: 75.0)
    live.total = 4
    live.draw()
    assert "ETA 1m15s" in out.getvalue() or "ETA 75" in out.getvalue()


def machine(cpus: int = 8, load: float = 0.0, available: int = 16 * GB) -> Resources:
    return Resources(cpus, load, 32 * GB, available, 50.0)


def test_auto_jobs_from_cpus_load_memory_and_history() -> None:
    unknown = [E(1.0, "no history")] * 20
    assert choose_jobs(machine(), unknown, 20).jobs == 8
    assert choose_jobs(machine(load=6.0), unknown, 20).jobs == 2
    assert choose_jobs(machine(load=30.0), unknown, 20).jobs == 1
    assert choose_jobs(machine(cpus=2, load=0.1), unknown, 20).jobs == 2  # 1.9 CPUs free
    waiting = [E(5.0, "this branch", cpu_share=0.1, peak_rss=100 << 20)] * 50
    choice = choose_jobs(machine(), waiting, 50)
    assert choice.jobs == 32 and "0.10 CPU each" in choice.why  # 4 per CPU at most
    assert choose_jobs(machine(), waiting, 5).jobs == 5
    hungry = [E(5.0, "this branch", cpu_share=1.0, peak_rss=3 * GB)] * 20
    choice = choose_jobs(machine(cpus=16), hungry, 20)
    assert choice.jobs == 4 and "bound by memory" in choice.why and "3.0 GB" in choice.why
    tuned = choose_jobs(machine(), unknown, 20, tuned=6)
    assert tuned.jobs == 6 and "wtpar tune" in tuned.why
    assert choose_jobs(machine(), unknown, 3, tuned=6).jobs == 3


def test_run_j_auto_says_what_it_chose(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a", "b")
    result = wtpar("run", "-j", "auto", "--", "true")
    assert result.exit_code == 0, result.output
    assert "-j auto chose" in result.output and "usable CPU" in result.output
    configure(repo, '[run]\njobs = "auto"\n')
    assert "-j auto chose" in wtpar("run", "--", "true").output
    assert "-j auto chose" not in wtpar("run", "-j", "2", "--", "true").output


def test_bad_run_settings_are_config_errors(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a")
    configure(repo, "[run]\njobs = 0\n")
    result = wtpar("run", "--", "true")
    assert result.exit_code == 2 and "run.jobs" in result.output
    configure(repo, "[run]\nmax_memory_percent = 120\n")
    result = wtpar("run", "--", "true")
    assert result.exit_code == 2 and "max_memory_percent" in result.output
    assert wtpar("run", "-j", "lots", "--", "true").exit_code == 2


def test_a_task_never_seen_is_expected_to_take_the_mean_of_the_others(repo: Path) -> None:
    # A run reads its own tasks' history only, and everyone's when none of them was seen.
    configure(repo, '[tasks.lint]\ncmd = "true"\n[tasks.docs]\ncmd = "true"\n')
    spawn(repo, "a")
    History(str(repo / ".git" / "wtpar")).record(
        [Attempted("lint", "a", "true", 4.0, 0, 1.0), Attempted("lint", "a", "true", 6.0, 0, 2.0)]
    )
    [(_, docs)] = make_dispatcher(repo, RunRequest(task_names=("docs",))).pacer.expected.items()
    assert docs == E(5.0, "all tasks")
    both = make_dispatcher(repo, RunRequest(task_names=("docs", "lint"))).pacer.expected
    assert sorted((e.source, e.seconds) for e in both.values()) == [
        ("all tasks", 5.0),
        ("this branch", 5.0),
    ]


def test_millisecond_tasks_and_absurd_rows_do_not_skew_the_estimates(tmp_path: Path) -> None:
    """A `true` "uses" more than a CPU (its process's start, over a millisecond): no CPU
    share is learned from attempts that short, so -j auto is one task per free CPU. A row
    of 1e300 seconds (hand-made or damaged) is dropped, not turned into a 300-digit ETA."""
    history = History(str(tmp_path))
    quick = [Attempted("t", "a", "c", 0.001, 0, 1.0, cpu_seconds=0.0014) for _ in range(5)]
    history.record([*quick, Attempted("u", "a", "c", 1e300, 0, 1.0)])
    known = history.tallies()
    assert TaskId("u", "a", "c") not in known
    [found] = known.values()
    assert found.estimate("this branch").cpu_share is None
    choice = choose_jobs(machine(cpus=2), [found.estimate("this branch")] * 10, 10)
    assert choice.jobs == 2 and "no CPU history" in choice.why


def test_a_task_running_past_its_estimate_still_has_time_left(repo: Path) -> None:
    """With no history for it, a task's estimate is the other tasks' (here: none, so a
    guess); once it ran past that, the ETA said ~0 for the rest of a long run."""
    spawn(repo, "a")
    dispatcher = make_dispatcher(repo, RunRequest(command="sleep 60", jobs=2))
    pacer = dispatcher.pacer
    (key,) = pacer.expected
    guess = pacer.expected[key].seconds
    assert pacer.eta([], {key: guess / 2}, 2) == guess / 2  # within the estimate: as before
    late, later = (pacer.eta([], {key: guess + s}, 2) for s in (5.0, 50.0))
    assert 0 < late < later  # past it: more time left the longer it runs, never nothing
