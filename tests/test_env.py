"""Per-worktree environments: ports that never collide, templated variables, `wtpar env`,
and the environment reaching every command wtpar starts in a worktree."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.recipes import git
from tests.conftest import ROOT, Invoke, run_wtpar_process
from tests.test_spawn import worktree_dir

ENV_TOML = """\
[env]
ports = ["web", "db"]
port_range = "{range}"
vars = {{ APP_DB = "app_{{branch_slug}}", PROJECT = "{{repo}}-{{branch_slug}}", \
URL = "http://127.0.0.1:{{port_web}}/" }}
"""


def write_env_config(repo: Path, port_range: str = "20000-29999", extra: str = "") -> None:
    (repo / "wtpar.toml").write_text(ENV_TOML.format(range=port_range) + extra)


def listed_env(repo: Path) -> dict[str, dict[str, str]]:
    """Each worktree's variables as `wtpar list --json` shows them (no allocation there)."""
    proc = run_wtpar_process("list", "--json", cwd=repo)
    assert proc.returncode == 0, proc.stderr
    return {w["branch"]: w["env"] for w in json.loads(proc.stdout)["worktrees"]}


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A real socket another program holds: bound on 127.0.0.1 and listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def test_concurrent_spawns_give_every_worktree_its_own_ports(repo: Path) -> None:
    write_env_config(repo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "wtpar", "spawn", *(f"p{i}-{j}" for j in range(5))],
            cwd=repo,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    envs = {b: e for b, e in listed_env(repo).items() if b.startswith("p")}
    assert len(envs) == 20
    ports = [int(e[f"WTPAR_PORT_{n}"]) for e in envs.values() for n in ("WEB", "DB")]
    assert len(ports) == 40
    assert len(set(ports)) == 40
    assert all(20000 <= p <= 29999 for p in ports)
    for branch, e in envs.items():
        assert e["WTPAR_PORT"] == e["WTPAR_PORT_WEB"]
        assert e["APP_DB"] == f"app_{branch}"
        assert e["URL"] == f"http://127.0.0.1:{e['WTPAR_PORT_WEB']}/"


def test_a_port_another_program_holds_is_skipped(
    repo: Path, wtpar: Invoke, listening: socket.socket
) -> None:
    taken = listening.getsockname()[1]
    (repo / "wtpar.toml").write_text(
        f'[env]\nports = ["web"]\nport_range = "{taken}-{taken + 8}"\n'
    )
    assert wtpar("spawn", "a").exit_code == 0
    port = int(listed_env(repo)["a"]["WTPAR_PORT_WEB"])
    assert port != taken
    assert taken < port <= taken + 8


def test_ports_stay_stable_are_never_shared_and_are_freed_by_remove(
    repo: Path, wtpar: Invoke, listening: socket.socket
) -> None:
    # Find two free ports in a row: the range holds exactly two worktrees' ports.
    low = listening.getsockname()[1] + 1
    (repo / "wtpar.toml").write_text(f'[env]\nports = ["web"]\nport_range = "{low}-{low + 1}"\n')
    assert wtpar("spawn", "a", "b").exit_code == 0
    before = listed_env(repo)
    assert {before["a"]["WTPAR_PORT"], before["b"]["WTPAR_PORT"]} == {str(low), str(low + 1)}
    full = wtpar("spawn", "c")
    assert full.exit_code == 1
    assert f"no free port left in env.port_range {low}-{low + 1}" in full.stderr
    assert wtpar("remove", "c").exit_code == 0
    assert wtpar("env", "a", "--json").output == wtpar("env", "a", "--json").output
    assert json.loads(wtpar("env", "a", "--json").output)["WTPAR_PORT"] == before["a"]["WTPAR_PORT"]
    assert wtpar("remove", "a").exit_code == 0
    assert wtpar("spawn", "d").exit_code == 0
    after = listed_env(repo)
    assert after["d"]["WTPAR_PORT"] == before["a"]["WTPAR_PORT"]
    assert after["b"]["WTPAR_PORT"] == before["b"]["WTPAR_PORT"]


def test_prune_frees_the_ports_of_worktrees_deleted_by_hand(repo: Path, wtpar: Invoke) -> None:
    write_env_config(repo)
    assert wtpar("spawn", "gone", "kept").exit_code == 0
    port = listed_env(repo)["gone"]["WTPAR_PORT_WEB"]
    shutil.rmtree(worktree_dir(repo, "gone"))
    assert wtpar("prune").exit_code == 0
    registry = json.loads((repo / ".git" / "wtpar" / "ports.json").read_text())
    assert set(registry["worktrees"]) == {"kept"}
    assert wtpar("spawn", "new").exit_code == 0
    assert port in listed_env(repo)["new"].values()


def test_env_output_round_trips_through_a_shell(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text(
        '[env]\nports = ["web"]\n'
        'vars = { TRICKY = "it\'s $HOME `x` \\"q\\" {branch}", APP_DB = "app_{branch_slug}" }\n'
    )
    assert wtpar("spawn", "Feature/A").exit_code == 0
    as_json = json.loads(wtpar("env", "Feature/A", "--json").output)
    assert as_json["TRICKY"] == 'it\'s $HOME `x` "q" Feature/A'
    assert as_json["APP_DB"] == "app_feature-a"
    names = " ".join(f'"${k}"' for k in as_json)
    script = f'eval "$({sys.executable} -m wtpar env Feature/A)" && printf "%s\\n" {names}'
    shell = subprocess.run(
        ["sh", "-c", script],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    assert shell.stdout.splitlines() == list(as_json.values())


def test_env_without_branch_is_the_current_worktree(repo: Path, wtpar: Invoke) -> None:
    write_env_config(repo)
    assert wtpar("spawn", "here").exit_code == 0
    inside = worktree_dir(repo, "here") / "src"
    result = wtpar("env", cwd=inside)
    assert result.exit_code == 0, result.output
    assert "export APP_DB=app_here\n" in result.output


def test_every_command_wtpar_starts_gets_the_environment(repo: Path, wtpar: Invoke) -> None:
    write_env_config(repo)
    with (repo / "wtpar.toml").open("a") as fh:
        fh.write(
            '[worktrees]\npost_create = ["echo $WTPAR_PORT_WEB $APP_DB > created.txt"]\n'
            '[tasks.show]\ncmd = "echo task $WTPAR_PORT_DB $PROJECT"\n'
        )
    assert wtpar("spawn", "e1").exit_code == 0
    e = json.loads(wtpar("env", "e1", "--json").output)
    made = (worktree_dir(repo, "e1") / "created.txt").read_text()
    assert made == f"{e['WTPAR_PORT_WEB']} app_e1\n"
    run = wtpar("run", "show", "-b", "e1")
    assert run.exit_code == 0, run.output
    assert f"task {e['WTPAR_PORT_DB']} proj-e1" in run.output
    adhoc = wtpar("exec", "e1", "--", "echo exec $WTPAR_PORT")
    assert f"exec {e['WTPAR_PORT']}" in adhoc.output


def test_env_file_is_written_only_when_ignored(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_text('[env]\nports = ["web"]\nfile = ".env"\n')
    assert wtpar("spawn", "ok").exit_code == 0
    text = (worktree_dir(repo, "ok") / ".env").read_text()
    port = json.loads(wtpar("env", "ok", "--json").output)["WTPAR_PORT_WEB"]
    assert f"WTPAR_PORT_WEB={port}\n" in text
    (repo / "wtpar.toml").write_text('[env]\nports = ["web"]\nfile = "tracked.env"\n')
    refused = wtpar("spawn", "nope")
    assert refused.exit_code == 1
    assert "env.file tracked.env is not ignored by git" in refused.stderr
    assert not (worktree_dir(repo, "nope") / "tracked.env").exists()
    assert git(worktree_dir(repo, "nope"), "status", "--porcelain") == ""
