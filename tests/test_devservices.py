"""Services tied to a worktree: `wtpar up`, `ps`, `down`, and `remove` stopping them; real
processes, real ports on 127.0.0.1, pids checked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, replace
from pathlib import Path

import psutil
import pytest

from fixtures.waiting import wait_for
from tests.conftest import Invoke, run_wtpar_process
from tests.run_helpers import wtpar_popen
from tests.test_spawn import worktree_dir
from wtpar.worktrees.devservices import ServiceRecord, ServiceStore, StopOutcome, service_key

HTTP = f"{sys.executable} -m http.server $WTPAR_PORT_WEB --bind 127.0.0.1"


def config(repo: Path, services: str) -> None:
    (repo / "wtpar.toml").write_text(f'[env]\nports = ["web"]\n{services}')


def alive(pid: int) -> bool:
    """True while `pid` is a running (not zombie) process."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def group_pids(pgid: int) -> list[int]:
    found = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) == pgid and alive(pid):
                found.append(pid)
        except OSError:
            continue
    return found


def ps_json(repo: Path) -> list[dict[str, object]]:
    proc = run_wtpar_process("ps", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    services: list[dict[str, object]] = json.loads(proc.stdout)["services"]
    return services


def test_services_start_ready_survive_listed_and_stop(
    repo: Path, stop_services_after: None
) -> None:
    config(repo, f'[services.web]\ncmd = "{HTTP}"\nready = "web"\n')
    assert run_wtpar_process("spawn", "s1", "s2", cwd=repo).returncode == 0
    up = run_wtpar_process("up", cwd=repo)
    assert up.returncode == 0, up.stderr
    assert "ready    s1  web" in up.stdout and "ready    s2  web" in up.stdout
    # The `wtpar up` process has exited; the servers it started still answer.
    services = {s["branch"]: s for s in ps_json(repo)}
    assert set(services) == {"s1", "s2"}
    for s in services.values():
        assert s["state"] == "running"
        with urllib.request.urlopen(f"http://127.0.0.1:{s['port']}/", timeout=5) as r:
            assert r.status == 200
    pids = [int(str(s["pid"])) for s in services.values()]
    assert all(alive(p) for p in pids)
    listed = json.loads(run_wtpar_process("list", "--json", cwd=repo).stdout)["worktrees"]
    by_branch = {w["branch"]: w for w in listed}
    assert by_branch["s1"]["services"][0]["state"] == "running"
    assert by_branch["s1"]["ports"]["web"] == services["s1"]["port"]
    table = run_wtpar_process("list", cwd=repo).stdout
    assert "SERVICES" in table and "web:running" in table
    again = run_wtpar_process("up", "s1", cwd=repo)
    assert "running  s1  web" in again.stdout and "(already)" in again.stdout
    down = run_wtpar_process("down", "s1", cwd=repo)
    assert down.returncode == 0 and "stopped  s1  web" in down.stdout
    assert not alive(int(str(services["s1"]["pid"])))
    assert group_pids(int(str(services["s1"]["pid"]))) == []
    assert alive(int(str(services["s2"]["pid"])))
    assert [s["branch"] for s in ps_json(repo)] == ["s2"]


def test_remove_stops_the_worktrees_services_first(repo: Path, stop_services_after: None) -> None:
    # A shell with two children: every process of the group must go.
    config(repo, '[services.pair]\ncmd = "sleep 300 & sleep 300 & wait"\n')
    assert run_wtpar_process("spawn", "r1", cwd=repo).returncode == 0
    up = run_wtpar_process("up", "r1", cwd=repo)
    assert "started  r1  pair" in up.stdout, up.stderr
    pid = int(str(ps_json(repo)[0]["pid"]))
    wait_for(lambda: len(group_pids(pid)) == 3, 10, "the shell and its two sleeps")
    members = group_pids(pid)
    removed = run_wtpar_process("remove", "r1", cwd=repo)
    assert removed.returncode == 0, removed.stderr
    assert [p for p in members if alive(p)] == []
    assert ps_json(repo) == []


def test_a_service_that_exits_before_ready_is_reported_with_its_log(
    repo: Path, wtpar: Invoke, stop_services_after: None
) -> None:
    config(
        repo, '[services.web]\ncmd = "echo starting; echo no database >&2; exit 3"\nready = "web"\n'
    )
    assert wtpar("spawn", "bad").exit_code == 0
    result = wtpar("up", "bad")
    assert result.exit_code == 1
    assert "failed   bad  web: exited with code 3 before it was ready" in result.stderr
    assert "    starting" in result.stderr and "    no database" in result.stderr
    assert ps_json(repo) == []


def test_a_service_that_never_answers_is_stopped_and_reported(
    repo: Path, wtpar: Invoke, stop_services_after: None
) -> None:
    config(
        repo,
        '[services.web]\ncmd = "echo waiting for nothing; exec sleep 300"\n'
        'ready = "web"\nready_timeout = 0.5\n',
    )
    assert wtpar("spawn", "slow").exit_code == 0
    result = wtpar("up", "slow", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)["services"][0]
    assert data["outcome"] == "not ready"
    assert "waiting for nothing" in data["log_tail"]
    assert not alive(data["pid"])


def test_a_reused_pid_is_never_taken_for_a_service(repo: Path, wtpar: Invoke) -> None:
    # A live process that is not the service: same pid, another start time.
    other = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        store = ServiceStore(str(repo / ".git" / "wtpar"))
        rec = ServiceRecord("x", "web", str(repo), "sleep", other.pid, 1.0, time.time(), "log")
        os.makedirs(store.dir, exist_ok=True)
        Path(store.dir, service_key("x", "web") + ".json").write_text(json.dumps(asdict(rec)))
        assert [s["state"] for s in ps_json(repo)] == ["exited"]
        down = wtpar("down")
        assert "gone     x  web" in down.output
        assert alive(other.pid)
    finally:
        other.kill()
        other.wait()


def test_a_service_ignoring_sigterm_is_killed(
    repo: Path, wtpar: Invoke, stop_services_after: None
) -> None:
    config(repo, "[services.stubborn]\ncmd = \"trap '' TERM; echo up; sleep 300 & wait\"\n")
    assert wtpar("spawn", "k").exit_code == 0
    assert wtpar("up", "k").exit_code == 0
    store = ServiceStore(str(repo / ".git" / "wtpar"))
    (rec,) = store.records()
    wait_for(lambda: "up" in Path(rec.log).read_text(), 10, "the trap to be set")
    result = store.stop(replace(rec), grace=0.2)
    assert result.outcome is StopOutcome.KILLED
    assert group_pids(rec.pid) == []


def test_up_names_unknown_services(repo: Path, wtpar: Invoke) -> None:
    config(repo, '[services.web]\ncmd = "true"\n')
    assert wtpar("spawn", "u").exit_code == 0
    result = wtpar("up", "u", "-s", "db")
    assert result.exit_code == 2
    assert "unknown service 'db' (services: web)" in result.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_waiting_stops_the_service_not_yet_ready(
    repo: Path, stop_services_after: None, sig: int
) -> None:
    config(repo, '[services.web]\ncmd = "exec sleep 300"\nready = "web"\nready_timeout = 120\n')
    assert run_wtpar_process("spawn", "i", cwd=repo).returncode == 0
    up = wtpar_popen("up", "i", cwd=repo)
    records = repo / ".git" / "wtpar" / "services"
    wait_for(lambda: records.is_dir() and any(records.glob("*.json")), 20, "the record")
    (service,) = ps_json(repo)
    up.send_signal(sig)
    _, err = up.communicate(timeout=20)
    assert up.returncode == 128 + sig, err
    assert "Traceback" not in err
    wait_for(lambda: not alive(int(str(service["pid"]))), 10, "the service to be stopped")
    assert ps_json(repo) == []


def test_prune_stops_the_services_of_a_worktree_deleted_by_hand(
    repo: Path, wtpar: Invoke, stop_services_after: None
) -> None:
    config(repo, '[services.idle]\ncmd = "exec sleep 300"\n')
    assert wtpar("spawn", "gone").exit_code == 0
    assert wtpar("up", "gone").exit_code == 0
    (service,) = ps_json(repo)
    shutil.rmtree(worktree_dir(repo, "gone"))
    assert wtpar("prune").exit_code == 0
    assert not alive(int(str(service["pid"])))
    assert ps_json(repo) == []


def test_a_port_another_program_took_is_not_taken_for_the_service_s_readiness(
    repo: Path, stop_services_after: None
) -> None:
    """Another program listening on the worktree's port answered the readiness check:
    `up` said "ready" while the service itself died on "Address already in use"."""
    import socket

    config(repo, f'[services.web]\ncmd = "{HTTP}"\nready = "web"\n')
    assert run_wtpar_process("spawn", "s1", cwd=repo).returncode == 0
    env = json.loads(run_wtpar_process("env", "s1", "--json", cwd=repo).stdout)
    port = int(env["WTPAR_PORT_WEB"])
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past a TIME_WAIT
        other.bind(("127.0.0.1", port))
        other.listen()
        up = run_wtpar_process("up", "s1", "--json", cwd=repo)
    assert up.returncode == 1, up.stdout + up.stderr
    (service,) = json.loads(up.stdout)["services"]
    assert service["outcome"] == "port taken" and service["pid"] is None
    assert ps_json(repo) == []  # nothing was started
    text = run_wtpar_process("up", "s1", cwd=repo)  # the port is free again
    assert text.returncode == 0 and "ready    s1  web" in text.stdout
