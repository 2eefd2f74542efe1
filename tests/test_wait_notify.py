"""Knowing when work is done: `wtpar wait` across processes, and `--notify` with a
configured command or notify-send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.waiting import wait_for
from tests.conftest import Invoke
from tests.land_helpers import train_repo
from tests.run_helpers import wtpar_popen

BLOCKED = "touch {started}; while [ ! -e {go} ]; do sleep 0.05; done; exit 3"


def test_wait_blocks_until_a_run_in_another_process_ends(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    assert wtpar("spawn", "feat", "other").exit_code == 0
    started, go = tmp_path / "started", tmp_path / "go"
    runner = wtpar_popen(
        "run", "-b", "feat", "--", "sh", "-c", BLOCKED.format(started=started, go=go), cwd=repo
    )
    try:
        wait_for(started.exists, 30, "the task to start")
        early = wtpar("wait", "feat", "--timeout", "0.2", "--json")
        assert early.exit_code == 124
        assert json.loads(early.output)["busy"] == ["feat"]
        assert wtpar("wait", "other", "--timeout", "0.2").exit_code == 0  # nothing runs there
        waiter = wtpar_popen("wait", "feat", "--json", cwd=repo)
        assert waiter.poll() is None
        go.write_text("")
        out, err = waiter.communicate(timeout=60)
    finally:
        go.write_text("")
        runner.communicate(timeout=60)
    assert waiter.returncode == 1, err
    data = json.loads(out)
    assert data["outcome"] == "failed"
    (feat,) = data["worktrees"]
    assert feat["branch"] == "feat" and feat["outcome"] == "failed"
    assert feat["failed_tasks"] == ["cmd"]
    last = (repo / ".git" / "wtpar" / "runs" / "last").read_text().strip()
    assert feat["run_id"] == last
    again = wtpar("wait", "feat")
    assert again.exit_code == 1
    assert again.output.startswith("failed   feat  run ")


def test_wait_reports_success_and_no_run(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "a", "b").exit_code == 0
    assert wtpar("run", "-b", "a", "--", "true").exit_code == 0
    result = wtpar("wait", "a", "b", "--json")
    assert result.exit_code == 0, result.output
    outcomes = {w["branch"]: w["outcome"] for w in json.loads(result.output)["worktrees"]}
    assert outcomes == {"a": "ok", "b": "no-run"}


def test_a_killed_run_does_not_block_wait_and_counts_as_failed(
    repo: Path, wtpar: Invoke
) -> None:
    """It never wrote its report: it did not succeed, whatever an older run there did (an
    older `ok` let `wait && git push` push after a run that was killed)."""
    assert wtpar("spawn", "feat").exit_code == 0
    assert wtpar("run", "-b", "feat", "--", "true").exit_code == 0  # an older run: ok
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    marker = repo / ".git" / "wtpar" / "runs" / "29990101-000000-dead" / "active.json"
    marker.parent.mkdir(parents=True)
    path = str(repo.parent / f"{repo.name}.worktrees" / "feat")
    marker.write_text(json.dumps({"pid": gone.pid, "worktrees": [path]}))
    result = wtpar("wait", "feat", "--timeout", "5", "--json")
    assert result.exit_code == 1, result.output
    [feat] = json.loads(result.output)["worktrees"]
    assert (feat["outcome"], feat["run_id"]) == ("failed", "29990101-000000-dead")


def test_bad_timeout_is_a_usage_error(repo: Path, wtpar: Invoke) -> None:
    result = wtpar("wait", "--timeout", "soon")
    assert result.exit_code == 2
    assert "--timeout" in result.stderr


NOTIFIER = 'command = "echo $WTPAR_COMMAND:$WTPAR_OUTCOME:$WTPAR_SUMMARY >> {out}"'


def with_notifier(repo: Path, wtpar: Invoke, tmp_path: Path) -> Path:
    """Configure a notify command that appends to a file, spawn `feat`; the file."""
    out = tmp_path / "notified.txt"
    (repo / "wtpar.toml").write_text("[notify]\n" + NOTIFIER.format(out=out) + "\n")
    assert wtpar("spawn", "feat").exit_code == 0
    return out


def test_run_notify_runs_the_configured_command(repo: Path, wtpar: Invoke, tmp_path: Path) -> None:
    out = with_notifier(repo, wtpar, tmp_path)
    assert wtpar("run", "--", "true").exit_code == 0
    assert not out.exists()  # only with --notify
    failed = wtpar("run", "--notify", "--", "false")
    assert failed.exit_code == 1
    line = out.read_text().strip()
    assert line == "run:failure:1 task: 1 failed; failed: feat:cmd"


def test_check_notify_tells_how_many_branches_are_ready(
    repo: Path, wtpar: Invoke, tmp_path: Path
) -> None:
    out = with_notifier(repo, wtpar, tmp_path)
    (repo.parent / f"{repo.name}.worktrees" / "feat" / "wip.txt").write_text("wip\n")
    result = wtpar("check", "--notify")
    assert result.exit_code == 1
    assert out.read_text().strip() == "check:failure:0 of 1 branches ready to merge"


def test_a_failing_notify_command_warns_and_keeps_the_exit_code(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text('[notify]\ncommand = "echo nope; exit 4"\n')
    assert wtpar("spawn", "feat").exit_code == 0
    result = wtpar("run", "--notify", "--", "true")
    assert result.exit_code == 0
    assert "warning: notify command `echo nope; exit 4` exited 4: nope" in result.stderr


def test_notify_send_is_used_without_a_command(
    repo: Path, wtpar: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "notify-send.args"
    fake = bin_dir / "notify-send"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert wtpar("spawn", "feat").exit_code == 0
    assert wtpar("run", "--notify", "--", "true").exit_code == 0
    title, summary = record.read_text().splitlines()[:2]
    assert title == "wtpar run: success"
    assert summary == "1 task: 1 ok"


def test_unknown_notify_setting_is_a_config_error(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text('[notify]\ncomand = "x"\n')
    assert wtpar("spawn", "feat").exit_code == 0
    result = wtpar("run", "--notify", "--", "true")
    assert result.exit_code == 2
    assert "unknown setting notify.comand" in result.stderr


def test_land_notify_says_what_landed(repo: Path, wtpar: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "notified.txt"
    train_repo(repo)
    with (repo / "wtpar.toml").open("a") as toml:
        toml.write("[notify]\n" + NOTIFIER.format(out=out) + "\n")
    result = wtpar("land", "--notify")
    assert result.exit_code == 1
    assert out.read_text().strip() == "land:failure:landed 2 of 3: a, b"
