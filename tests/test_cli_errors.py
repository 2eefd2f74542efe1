"""Bad input gets one clear line and exit 2; `--help` explains; the real entry point works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.recipes import git, make_repo
from tests.conftest import ROOT, Invoke, run_wtpar_process


def test_not_a_repository(tmp_path: Path) -> None:
    result = run_wtpar_process("list", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("wtpar: error: not a git repository")
    assert "Traceback" not in result.stderr


def test_bare_repository(tmp_path: Path) -> None:
    origin = make_repo(tmp_path / "origin")
    git(tmp_path, "clone", "-q", "--bare", str(origin), str(tmp_path / "bare.git"))
    result = run_wtpar_process("list", cwd=tmp_path / "bare.git")
    assert result.returncode == 2
    assert "is a bare repository" in result.stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('base = "main"\n[worktrees]\ncopy = [".env" oops]\nsubmodules = true\n', 3),
        ('base = "main"\n[worktrees]\ncopy = [".env"\n', 3),
    ],
)
def test_invalid_toml_names_file_and_line(repo: Path, text: str, line: int) -> None:
    (repo / "wtpar.toml").write_text(text)
    result = run_wtpar_process("spawn", "x", cwd=repo)
    assert result.returncode == 2
    assert f"{repo / 'wtpar.toml'}:{line}: invalid TOML" in result.stderr
    assert not (repo.parent / "proj.worktrees").exists()


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ('base = "main"\nfrobnicate = 1\n', "unknown setting 'frobnicate'", 2),
        ('[worktrees]\npath = "/tmp/fixed"\n', "must be a string containing {branch}", 2),
        ("[worktrees]\ncopy = [1, 2]\n", "worktrees.copy must be a list of strings", 2),
        ('[env]\nports = ["web"]\ncolour = 1\n', "unknown setting env.colour", 3),
        (
            '[env]\nports = ["web"]\nvars = { A = "{port_db}" }\n',
            "unknown placeholder {port_db}",
            3,
        ),
        ('[env]\nport_range = "80-90"\n', "env.port_range must look like", 2),
        ('[services.web]\ncmd = "x"\nready = "web"\n', "'web' is not a port", 3),
        ('[services.web]\ncmd = "x"\nrestart = 1\n', "unknown setting services.web.restart", 3),
        ("[worktrees]\npre_remove = 3\n", "worktrees.pre_remove must be a list", 2),
    ],
)
def test_invalid_settings_name_file_and_line(
    repo: Path, wtpar: Invoke, text: str, message: str, line: int
) -> None:
    (repo / "wtpar.toml").write_text(text)
    result = wtpar("spawn", "x")
    assert result.exit_code == 2
    assert f"wtpar.toml:{line}: " in result.stderr
    assert message in result.stderr


def test_unreadable_config(repo: Path, wtpar: Invoke) -> None:
    (repo / "wtpar.toml").write_bytes(b"base = '\xff\xfe'\n")
    result = wtpar("list")
    assert result.exit_code == 2
    assert "wtpar.toml: cannot read" in result.stderr


def test_help_explains_every_command(wtpar: Invoke) -> None:
    top = wtpar("--help")
    assert top.exit_code == 0
    for name in ("spawn", "list", "path", "remove", "prune"):
        assert name in top.output
        sub = wtpar(name, "--help")
        assert sub.exit_code == 0, name
        assert "Usage: wtpar" in sub.output


def test_python_dash_m_and_version(repo: Path) -> None:
    result = run_wtpar_process("--version", cwd=repo)
    assert result.returncode == 0
    assert result.stdout.startswith("wtpar, version ")


def test_shell_completion_offers_worktree_branches(repo: Path, wtpar: Invoke) -> None:
    assert wtpar("spawn", "feature-one", "feature-two", "other").exit_code == 0
    result = run_wtpar_process(
        cwd=repo,
        env={
            "_WTPAR_COMPLETE": "bash_complete",
            "COMP_WORDS": "wtpar remove feat",
            "COMP_CWORD": "2",
        },
    )
    assert result.returncode == 0
    offered = {line.split(",", 1)[1] for line in result.stdout.splitlines()}
    assert offered == {"feature-one", "feature-two"}


def test_ctrl_c_while_wtpar_starts_is_quiet_and_exits_130(repo: Path) -> None:
    """Before a command sets up its own handling of Ctrl-C (while modules load), the
    interruption ends wtpar with 130 and one line, not a traceback."""
    import os
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = (
        "import wtpar.cli\n"
        "def interrupted(*args, **kwargs):\n    raise KeyboardInterrupt\n"
        "wtpar.cli.main = interrupted\n"
        "from wtpar.__main__ import main\nmain()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (130, "\nwtpar: interrupted\n")


def test_an_error_or_warning_naming_a_path_cannot_steer_the_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder's name may hold an escape sequence (or a carriage return that hides what
    came before it): errors and warnings show it as an escape, as the tables do."""
    from wtpar.notices import warn

    odd = tmp_path / "x\x1b]0;owned\x07\rfine"
    result = run_wtpar_process("-C", str(odd), "list", cwd=tmp_path)
    assert result.returncode == 2
    shown = str(tmp_path / "x\\x1b]0;owned\\x07\\rfine")
    assert result.stderr == f"wtpar: error: not a git repository (no such folder): {shown}\n"
    warn(f"{odd}: cannot write it")
    assert capsys.readouterr().err == f"wtpar: warning: {shown}: cannot write it\n"


def test_what_spawn_and_remove_say_of_a_path_cannot_steer_the_terminal(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "x\x1b[8mhidden\x1b[0m")
    shown = str(tmp_path / "x\\x1b[8mhidden\\x1b[0m.worktrees" / "a")
    spawned = run_wtpar_process("spawn", "a", cwd=repo)
    assert spawned.returncode == 0, spawned.stderr
    assert spawned.stdout.startswith(f"created  a  {shown}  (")
    # `cd "$(wtpar path a)"` needs the path as it is, escape sequence and all.
    raw = subprocess.run(
        [sys.executable, "-m", "wtpar", "path", "a"],
        cwd=repo,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert raw.stdout == os.fsencode(tmp_path / "x\x1b[8mhidden\x1b[0m.worktrees" / "a") + b"\n"
    ran = run_wtpar_process("run", "-b", "a", "--output", "stream", "--", "echo hi", cwd=repo)
    assert ran.returncode == 0, ran.stderr
    assert "\x1b" not in ran.stdout and "logs and report.json: " in ran.stdout
    removed = run_wtpar_process("remove", "a", cwd=repo)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout.startswith(f"removed  a  {shown}")


def test_a_bidi_override_in_a_branch_s_name_is_shown_as_an_escape(repo: Path) -> None:
    name = "fix\u202eexe.txt"  # git takes it; on screen it would read backwards
    assert run_wtpar_process("spawn", name, cwd=repo).returncode == 0
    ran = run_wtpar_process("run", "-b", name, "--output", "stream", "--", "echo hi", cwd=repo)
    assert ran.returncode == 0, ran.stderr
    assert "[fix\\u202eexe.txt:cmd] hi" in ran.stdout.splitlines()
    assert "\u202e" not in ran.stdout
