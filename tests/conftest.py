"""Shared test set-up: a hermetic seal against the machine, and real repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fixtures.recipes import make_repo  # noqa: E402
from wtpar.cli import cli  # noqa: E402

FIXED_DATE = "2026-01-01T12:00:00+00:00"


@pytest.fixture(autouse=True)
def hermetic_seal(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Tests never see the developer's HOME, git config or clock-dependent commit ids."""
    home = tmp_path_factory.mktemp("home")
    for key in list(os.environ):
        if key.startswith("GIT_") or key.startswith("WTPAR_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "author@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test Committer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "committer@example.com")
    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
    # `python -m wtpar` subprocesses import this checkout, whatever the venv points at.
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n'
        "[advice]\n\tdetachedHead = false\n"
    )
    yield


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh repository (fixtures/trees/basic, one commit on main); the cwd is its root."""
    path = make_repo(tmp_path / "proj")
    monkeypatch.chdir(path)
    return path


Invoke = Callable[..., Result]


@pytest.fixture
def wtpar(repo: Path) -> Invoke:
    """Run the wtpar CLI in-process (click's CliRunner) from the test repository."""

    def invoke(*args: str, cwd: Path | None = None, input: str | None = None) -> Result:
        runner = CliRunner()
        old = os.getcwd()
        os.chdir(cwd or repo)
        try:
            return runner.invoke(cli, list(args), input=input, catch_exceptions=False)
        finally:
            os.chdir(old)

    return invoke


def run_wtpar_process(
    *args: str, cwd: Path, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m wtpar ARGS` as a real process."""
    return subprocess.run(
        [sys.executable, "-m", "wtpar", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def python_output(code: str, argv: list[str], cwd: Path) -> str:
    """The stdout of `python -c CODE ARGV` in a fresh interpreter importing this checkout."""
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
        check=True,
    ).stdout


def modules_after_cli(argv: list[str], cwd: Path) -> tuple[int | str | None, str, set[str]]:
    """(exit code, stdout, every module loaded) of `wtpar ARGV` run in a fresh interpreter:
    what a command imports stands for its start-up time."""
    code = (
        "import json, sys\n"
        "from wtpar.cli import main\n"
        f"code = 0\ntry:\n    main({argv!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print('\\nMODULES', json.dumps([code, sorted(sys.modules)]))\n"
    )
    printed, _, tail = python_output(code, [], cwd).rpartition("\nMODULES ")
    exit_code, modules = json.loads(tail)
    return exit_code, printed, set(modules)


@pytest.fixture
def git_calls(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """The git subcommands wtpar starts in this process, counted in its one wrapper."""
    from wtpar import procs

    seen: Counter[str] = Counter()
    real = procs.run

    def counting(args: Any, **kwargs: Any) -> procs.Result:
        argv = [str(a) for a in args]
        if os.path.basename(argv[0]) == "git":
            sub = [a for a in argv[1:] if not a.startswith("-")]
            seen[sub[0] if sub else "?"] += 1
        return real(args, **kwargs)

    monkeypatch.setattr(procs, "run", counting)
    return seen


@pytest.fixture
def stop_services_after(repo: Path) -> Iterator[None]:
    """Whatever services a (failing) test left running are stopped, by recorded pid."""
    yield
    from wtpar.worktrees.devservices import ServiceStore

    store = ServiceStore(str(repo / ".git" / "wtpar"))
    for rec in store.records():
        store.stop(rec, grace=1.0)
