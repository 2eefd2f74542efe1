"""`wtpar run` and `wtpar exec` from the command line, in-process and as real processes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.conftest import ROOT, Invoke, run_wtpar_process
from tests.run_helpers import (
    alive,
    configure,
    kill_quietly,
    last_report,
    read_pids,
    signal_once_started,
    spawn,
    wtpar_popen,
)
from wtpar.cli.run_output import LiveOutput
from wtpar.model import RunStatus, TaskFinished, TaskKey, TaskQueued, TaskRun, TaskStarted


def test_a_command_in_every_worktree(wtpar: Invoke, repo: Path) -> None:
    paths = spawn(repo, "a", "b")
    result = wtpar("run", "--", "pwd")
    assert result.exit_code == 0, result.output
    assert "== a:cmd ok" in result.output and str(paths["a"]) in result.output
    assert "== b:cmd ok" in result.output and str(paths["b"]) in result.output
    assert str(repo) + "\n" not in result.output  # not in the main worktree
    assert re.search(r"^a\s+cmd\s+ok\s+0\s", result.output, re.M)
    assert "speedup" in result.output and "p95" in result.output and "n=2" in result.output


def test_words_after_dashes_are_quoted(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a")
    result = wtpar("run", "--output", "stream", "--", "printf", "%s|", "one two", "$HOME")
    assert "[a:cmd] one two|$HOME|" in result.output
    one = wtpar("run", "--output", "stream", "--", "echo one && echo two")
    assert "[a:cmd] one" in one.output and "[a:cmd] two" in one.output


def test_exit_1_when_a_task_fails(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a", "b")
    result = wtpar("run", "-c", "a=true", "-c", "b=echo broken; exit 7")
    assert result.exit_code == 1
    assert re.search(r"^b\s+cmd\s+failed\s+7\s", result.output, re.M)
    assert "== b:cmd failed (exit 7" in result.output and "broken" in result.output


def test_usage_and_config_errors_exit_2(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a")
    configure(
        repo,
        '[tasks.x]\ncmd = "true"\ndepends_on = ["y"]\n[tasks.y]\ncmd = "true"\n'
        'depends_on = ["x"]\n',
        commit=False,
    )
    cycle = wtpar("run", "x")
    assert cycle.exit_code == 2
    assert "wtpar.toml:" in cycle.output and "cycle: x -> y -> x" in cycle.output
    configure(repo, '[tasks.x]\ncmd = "true"\n', commit=False)
    unknown = wtpar("run", "x", "z")
    assert unknown.exit_code == 2 and "unknown task 'z' (tasks: x)" in unknown.output
    branch = wtpar("run", "-b", "nope", "--", "true")
    assert branch.exit_code == 2 and "no worktree for branch 'nope'" in branch.output
    bad_c = wtpar("run", "-c", "a")
    assert bad_c.exit_code == 2 and "BRANCH=COMMAND" in bad_c.output
    nothing = wtpar("run")
    assert nothing.exit_code == 2 and "nothing to run" in nothing.output
    assert not (repo / ".git" / "wtpar" / "runs").exists()  # refused before anything ran


def test_stream_lines_are_prefixed_and_never_mixed(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a", "b")
    result = wtpar("run", "-j", "2", "--output", "stream", "--", "seq 1 3000")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if line.startswith("[")]
    body = [line for line in lines if "==" not in line]
    assert len(body) == 6000
    assert all(re.fullmatch(r"\[(a|b):cmd\] \d+", line) for line in body)


def test_failures_and_quiet_modes(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a", "b")
    failures = wtpar("run", "--output", "failures", "-c", "a=echo fine", "-c", "b=echo bad; false")
    assert "bad" in failures.output and "fine" not in failures.output
    quiet = wtpar("run", "--output", "quiet", "-c", "a=echo fine", "-c", "b=echo bad")
    assert "fine" not in quiet.output and "bad" not in quiet.output
    assert "2 tasks: 2 ok" in quiet.output


def test_report_files_for_ci(wtpar: Invoke, repo: Path, tmp_path: Path) -> None:
    spawn(repo, "a", "b")
    out = tmp_path / "out"
    out.mkdir()
    result = wtpar(
        "run",
        "--json",
        "--report",
        str(out / "r.json"),
        "--csv",
        str(out / "r.csv"),
        "--junit",
        str(out / "r.xml"),
        "-c",
        "a=echo ok-a",
        "-c",
        "b=echo 'bad <b>'; exit 2",
    )
    assert result.exit_code == 1
    printed = json.loads(result.stdout)
    saved = json.loads((out / "r.json").read_text())
    assert printed == saved and saved["schema"] == 1
    tasks = {t["branch"]: t for t in saved["tasks"]}
    assert tasks["b"]["status"] == "failed" and tasks["b"]["exit_code"] == 2
    for field in ("command", "worktree", "started", "ended", "attempts", "log"):
        assert tasks["a"][field] is not None
    rows = list(csv.DictReader(io.StringIO((out / "r.csv").read_text())))
    assert [(r["branch"], r["status"]) for r in rows] == [("a", "ok"), ("b", "failed")]
    suites = ET.parse(out / "r.xml").getroot()
    failures = suites.findall(".//failure")
    assert len(failures) == 1
    case_out = suites.find(".//testsuite[@name='b']/testcase/system-out")
    assert case_out is not None and "bad <b>" in (case_out.text or "")


def test_default_jobs_is_the_usable_cpus(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a")
    result = wtpar("run", "--json", "--", "true")
    assert json.loads(result.stdout)["jobs"] == len(os.sched_getaffinity(0))


def test_failed_runs_again_only_what_failed(wtpar: Invoke, repo: Path, tmp_path: Path) -> None:
    flag = tmp_path / "fixed"
    configure(repo, f"[tasks.test]\ncmd = 'test \"$WTPAR_BRANCH\" = a || test -e {flag}'\n")
    spawn(repo, "a", "b")
    first = wtpar("run", "test", "--output", "quiet")
    assert first.exit_code == 1
    flag.write_text("")
    again = wtpar("run", "--failed", "--output", "quiet")
    assert again.exit_code == 0, again.output
    report = last_report(repo)
    assert [(t["branch"], t["task"], t["status"]) for t in report["tasks"]] == [("b", "test", "ok")]
    nothing = wtpar("run", "--failed")
    assert nothing.exit_code == 0 and "nothing failed in the last run" in nothing.output
    both = wtpar("run", "--failed", "test")
    assert both.exit_code == 2


def test_failed_after_a_killed_run_says_which_run_it_takes(repo: Path, tmp_path: Path) -> None:
    """A run killed before its report left `runs/last` naming the run before it: `--failed`
    ran that one's failures again, and said nothing."""
    flag, started = tmp_path / "fixed", tmp_path / "started"
    configure(repo, f"[tasks.test]\ncmd = 'test \"$WTPAR_BRANCH\" = a || test -e {flag}'\n")
    spawn(repo, "a", "b")
    assert run_wtpar_process("run", "test", "--output", "quiet", cwd=repo).returncode == 1
    first = (repo / ".git" / "wtpar" / "runs" / "last").read_text().strip()
    killed = wtpar_popen("run", "-b", "a", "--", f"touch {started}; exec sleep 30", cwd=repo)
    try:
        wait_for(started.exists, timeout=60, what="the task of the run to kill")
        killed.kill()  # SIGKILL: no report; its watchdog ends the task
        killed.wait(timeout=60)
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait(timeout=60)
    flag.write_text("")
    again = run_wtpar_process("run", "--failed", "--output", "quiet", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert "was killed before it wrote its report" in again.stderr
    assert f"what did not succeed in run {first}" in again.stderr
    report = last_report(repo)
    assert [(t["branch"], t["status"]) for t in report["tasks"]] == [("b", "ok")]


def test_failed_without_a_previous_run(wtpar: Invoke, repo: Path) -> None:
    spawn(repo, "a")
    result = wtpar("run", "--failed")
    assert result.exit_code == 2 and "no previous run" in result.output


@pytest.mark.parametrize("damage", ["garbage\n", "20990101-000000-dead\n", "\x00\xff"])
def test_failed_with_a_damaged_last_file_uses_the_newest_run(
    repo: Path, tmp_path: Path, damage: str
) -> None:
    flag = tmp_path / "fixed"
    configure(repo, f"[tasks.test]\ncmd = 'test \"$WTPAR_BRANCH\" = a || test -e {flag}'\n")
    spawn(repo, "a", "b")
    assert run_wtpar_process("run", "test", "--output", "quiet", cwd=repo).returncode == 1
    last = repo / ".git" / "wtpar" / "runs" / "last"
    last.write_text(damage)
    flag.write_text("")
    again = run_wtpar_process("run", "--failed", "--output", "quiet", cwd=repo)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("warning") == 1 and "using the newest run" in again.stderr
    report = last_report(repo)
    assert [(t["branch"], t["status"]) for t in report["tasks"]] == [("b", "ok")]


@pytest.mark.parametrize("option", ["--report", "--csv", "--junit"])
def test_an_unwritable_report_path_is_refused_before_anything_runs(
    repo: Path, tmp_path: Path, option: str
) -> None:
    paths = spawn(repo, "a")
    for where, problem in ((tmp_path / "nope" / "r.out", "does not exist"), (tmp_path, "folder")):
        ran = run_wtpar_process("run", "-b", "a", option, str(where), "--", "touch ran", cwd=repo)
        assert ran.returncode == 2, ran.stderr
        assert f"{option} {where}: " in ran.stderr and problem in ran.stderr
        assert not (paths["a"] / "ran").exists()
    assert not (tmp_path / "nope").exists()


def test_a_report_file_that_cannot_be_written_after_the_run_is_named(
    repo: Path, tmp_path: Path
) -> None:
    """Its folder went away during the run: wtpar said "No such file or directory" without
    naming the option, and the files after it were not written."""
    spawn(repo, "a")
    gone, kept = tmp_path / "gone", tmp_path / "kept.csv"
    gone.mkdir()
    report = gone / "r.json"
    args = ("run", "-b", "a", "--report", str(report), "--csv", str(kept))
    ran = run_wtpar_process(*args, "--", f"rmdir {gone}", cwd=repo)
    assert ran.returncode == 1, ran.stderr
    assert f"wtpar: error: --report {report}: cannot write it" in ran.stderr
    assert "Traceback" not in ran.stderr
    assert [row["status"] for row in csv.DictReader(kept.open())] == ["ok"]


def test_changed_says_what_it_skipped(wtpar: Invoke, repo: Path) -> None:
    configure(repo, '[tasks.test]\ncmd = "echo ran"\n')
    spawn(repo, "a")
    assert wtpar("run", "test", "--changed").exit_code == 0
    second = wtpar("run", "test", "--changed")
    assert second.exit_code == 0
    assert "== a:test skipped (unchanged: succeeded on the same clean tree" in second.output
    assert "ran" not in second.output.split("BRANCH")[0]


def test_exec_runs_one_command_and_passes_its_exit_code(wtpar: Invoke, repo: Path) -> None:
    paths = spawn(repo, "a")
    ok = wtpar("exec", "a", "--", "pwd")
    assert ok.exit_code == 0 and ok.output.strip() == str(paths["a"])
    main = wtpar("exec", "main", "--", "pwd")
    assert main.output.strip() == str(repo)
    bad = wtpar("exec", "a", "--lock", "db", "--", "echo out; exit 4")
    assert bad.exit_code == 4 and "out" in bad.output
    assert wtpar("exec", "a").exit_code == 2


def test_exec_passes_the_output_through_byte_for_byte(repo: Path) -> None:
    spawn(repo, "a")
    blob = bytes(range(256)) * 20 + b"a\r\nb\r\n\xff\xfe no newline at the end"
    (repo / "blob.bin").write_bytes(blob)
    ran = subprocess.run(
        [sys.executable, "-m", "wtpar", "exec", "a", "--", "cat", str(repo / "blob.bin")],
        cwd=repo,
        capture_output=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == blob


def test_help_explains_with_examples(wtpar: Invoke) -> None:
    text = " ".join(wtpar("run", "--help").output.split())
    for needle in (
        "wtpar run -- pytest -q",
        "-c feature-a='make test'",
        "--fail-fast",
        "--changed",
        "--failed",
        "never run more than 4",
        "stream | grouped | failures | quiet",
        "130 after Ctrl-C",
    ):
        assert needle in text, needle
    assert "wtpar exec feature-a -- make test" in wtpar("exec", "--help").output
    listing = wtpar("--help").output
    assert "run" in listing and "exec" in listing


def test_progress_line_counts_and_eta() -> None:
    out = io.StringIO()
    live = LiveOutput("progress", out)
    keys = [TaskKey("a", f"t{i}") for i in range(4)]
    for key in keys:
        live(TaskQueued(key, "true", "/w"))
    live(TaskStarted(keys[0], 1, 1, 0.0))
    live(TaskStarted(keys[1], 1, 2, 0.0))
    live(TaskFinished(TaskRun(keys[0], "true", "/w", RunStatus.OK, 0, 0.0, 1.0, 1)))
    line = out.getvalue().rsplit("\r", 1)[-1]
    assert "1/4 done, 1 running, 2 queued, 0 failed" in line and "ETA" in line
    live(TaskFinished(TaskRun(keys[1], "false", "/w", RunStatus.FAILED, 1, 0.0, 1.0, 1, "/l")))
    text = out.getvalue()
    assert "a:t1: failed (exit 1" in text and "log: /l" in text
    assert "2/4 done, 0 running, 2 queued, 1 failed" in text.rsplit("\r", 1)[-1]


def test_ctrl_c_stops_everything_writes_the_report_and_exits_130(
    repo: Path, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    spawn(repo, "a", "b", "c")
    command = (
        f"sh -c 'echo $$ > {pids}/$WTPAR_BRANCH-grandchild.pid; exec sleep 60' & "
        f"echo $$ > {pids}/$WTPAR_BRANCH.pid; wait"
    )
    proc = wtpar_popen("run", "-j", "2", "--output", "stream", "--", command, cwd=repo)
    four = "two tasks and their grandchildren"
    _, err = signal_once_started(proc, pids, lambda p: len(p) == 4, four, signal.SIGINT, 130)
    assert "Ctrl-C again" in err
    report = last_report(repo)
    assert report["interrupted"] is True
    statuses = sorted(t["status"] for t in report["tasks"])
    assert statuses == ["cancelled", "cancelled", "cancelled"]


def test_second_ctrl_c_kills_at_once(repo: Path, tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    spawn(repo, "a")
    stderr = tmp_path / "stderr"
    command = f"trap '' TERM; echo $$ > {pids}/sh.pid; while :; do sleep 0.05; done"
    with open(stderr, "w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "wtpar", "run", "--", command],
            cwd=repo,
            stdout=subprocess.DEVNULL,
            stderr=err_file,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    try:
        wait_for(lambda: read_pids(pids), 30, "the task to start")
        proc.send_signal(signal.SIGINT)
        wait_for(lambda: "Ctrl-C again" in stderr.read_text(), 10, "the first Ctrl-C")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
        assert time.monotonic() - t0 < 4  # the grace period is 5 s: it did not wait for it
        shell = read_pids(pids)
        wait_for(lambda: not any(alive(p) for p in shell), 10, "the task to be killed")
    finally:
        proc.kill()
        kill_quietly(read_pids(pids))


def test_real_process_exit_codes(repo: Path) -> None:
    spawn(repo, "a")
    assert run_wtpar_process("run", "--", "true", cwd=repo).returncode == 0
    assert run_wtpar_process("run", "--", "false", cwd=repo).returncode == 1
    assert run_wtpar_process("run", "nope", cwd=repo).returncode == 2


def test_percentiles_are_nearest_rank() -> None:
    from wtpar.run.report import percentile

    ten = [float(v) for v in range(10, 0, -1)]
    assert (percentile(ten, 50), percentile(ten, 95), percentile(ten, 99)) == (5.0, 10.0, 10.0)
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0 and percentile([], 50) is None
