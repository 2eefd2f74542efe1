"""`wtpar list` starts fast: it loads only what listing needs (the modules a real `python -m
wtpar list` imported stand for its start-up time) and a configuration file is parsed once,
not by every command (a count of parses stands for the time)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import modules_after_cli, python_output
from wtpar import parsed_toml
from wtpar.config import load_config
from wtpar.services import Services

# What `list` never needs: the dashboard, the runner and its event loop, the task-config
# parser, the run model, hashing, the wide-character tables, environments' services.
NOT_FOR_LIST = (
    "textual",
    "rich",
    "distributed",
    "asyncio",
    "concurrent",
    "logging",
    "filelock",
    "psutil",
    "wcwidth",
    "tomllib",
    "string",  # checks configured templates only
    "hashlib",
    "secrets",
    "tempfile",
    "click.testing",
    "click.shell_completion",
    "wtpar.model.runs",
    "wtpar.model.readiness",
    "wtpar.model.changes",
    "wtpar.worktrees.spares",
    "wtpar.run",
    "wtpar.check",
    "wtpar.land",
    "wtpar.worktrees.devservices",
    "wtpar.worktrees.spawn",
    "wtpar.git.merge_output",
    "wtpar.worktrees.leases",  # until someone claims a worktree
    "wtpar.worktrees.environment",  # until [env] is configured or a port held
    "shlex",
)


def _modules_of_list(repo: Path) -> tuple[str, set[str]]:
    """(stdout, the modules loaded) of `wtpar list` run in a fresh interpreter in REPO."""
    code, listing, loaded = modules_after_cli(["list"], repo)
    assert code == 0, listing
    return listing, loaded


_DATACLASSES = (
    "import dataclasses, sys\n"
    "from wtpar.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "made = sorted(name for m, module in list(sys.modules.items()) if m.startswith('wtpar')\n"
    "    for name, value in vars(module).items()\n"
    "    if dataclasses.is_dataclass(value) and value.__module__ == m)\n"
    "print('DATACLASSES', ' '.join(made))\n"
)
"""Python that runs `wtpar ARGV` and prints the names of the dataclasses wtpar created."""


def test_list_creates_no_dataclass_it_does_not_use(repo: Path) -> None:
    # About 0.5 ms of CPU each (the generated methods are compiled at import).
    out = python_output(_DATACLASSES, ["list"], repo)
    made = out.strip().splitlines()[-1].split()[1:]
    assert {"Worktree", "BranchStatus", "Config"} <= set(made)
    assert {"MergeTreeResult", "ReplayCommit", "Lease", "EnvView"} & set(made) == set()


_COLLECTIONS = (
    "import gc, runpy, sys\n"
    "seen = []\n"
    "def noting(phase, info):\n"
    "    if phase == 'start':\n"
    "        if 'wtpar.cli' in sys.modules:  # wtpar's start-up has begun\n"
    "            seen.append('wtpar.cli.worktree_cmds' in sys.modules)\n"
    "gc.callbacks.append(noting)\n"
    "sys.argv = ['wtpar', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('wtpar', run_name='__main__')\nexcept SystemExit:\n    pass\n"
    "print('COLLECTIONS', seen.count(False), gc.isenabled(), gc.get_freeze_count() > 0)\n"
)
"""Python that runs `python -m wtpar ARGV` and prints how many collections ran from the
start of wtpar's imports until the command's module was loaded, whether the collector is on
at the end, and whether objects were frozen."""


@pytest.mark.parametrize("argv", [["list"], ["--help"]])
def test_no_collection_runs_while_wtpar_starts(repo: Path, argv: list[str]) -> None:
    out = python_output(_COLLECTIONS, argv, repo)
    assert "main" in out or "Usage" in out
    # The objects start-up allocates live as long as the process: collecting them would
    # free nothing (about 30 collections, 4 ms, before). Then collections run again, with
    # those objects frozen (also when no command was loaded: turned on over all of them,
    # the collector would walk them at once).
    assert out.strip().splitlines()[-1] == "COLLECTIONS 0 True True"


def _big_config(tasks: int = 800) -> str:
    return "".join(f'[tasks.t{i:04d}]\ncmd = "true"\n' for i in range(tasks))


def test_list_loads_nothing_it_does_not_need(repo: Path) -> None:
    listing, loaded = _modules_of_list(repo)
    assert "main" in listing and "↑0 ↓0" in listing  # the arrows need no width tables
    unwanted = sorted(m for m in loaded for n in NOT_FOR_LIST if m == n or m.startswith(n + "."))
    assert unwanted == []


def test_list_with_a_large_configuration_parses_it_once(repo: Path) -> None:
    (repo / "wtpar.toml").write_text(_big_config())
    _, first = _modules_of_list(repo)
    assert "tomllib" in first  # parsed, and kept
    listing, second = _modules_of_list(repo)
    assert "main" in listing
    assert "tomllib" not in second  # the parsed tables came from the cache


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The texts wtpar hands to the TOML parser."""
    seen: list[str] = []
    real = parsed_toml._parse

    def counting(text: str) -> object:
        seen.append(text)
        return real(text)

    monkeypatch.setattr(parsed_toml, "_parse", counting)
    return seen


def test_an_edit_is_seen_even_at_the_same_size_and_time(repo: Path, parses: list[str]) -> None:
    config = repo / "wtpar.toml"
    config.write_text(_big_config())
    assert set(Services.from_cwd(repo).load_tasks()) >= {"t0000", "t0799"}
    assert set(Services.from_cwd(repo).load_tasks()) >= {"t0000", "t0799"}
    assert len(parses) == 1
    stat = config.stat()
    config.write_text(config.read_text().replace("t0799", "x0799"))  # same size
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # and the same time
    tasks = Services.from_cwd(repo).load_tasks()
    assert "x0799" in tasks and "t0799" not in tasks
    assert len(parses) == 2


def test_a_small_configuration_is_kept_parsed_too(repo: Path) -> None:
    # Importing the parser costs more than reading a small file's cached tables.
    (repo / "wtpar.toml").write_text('[run]\njobs = 3\n[tasks.a]\ncmd = "true"\n')
    _, first = _modules_of_list(repo)
    assert "tomllib" in first
    _, second = _modules_of_list(repo)
    assert "tomllib" not in second
    assert load_config(str(repo), str(repo / ".git" / "wtpar" / "cache")).run == {"jobs": 3}


def test_dates_are_parsed_every_time(repo: Path, parses: list[str]) -> None:
    cache = str(repo / ".git" / "wtpar" / "cache")
    # JSON would give a date back as a string: such tables are never cached.
    (repo / "wtpar.toml").write_text("[notify]\nsince = 2026-01-01\n")
    load_config(str(repo), cache)
    load_config(str(repo), cache)
    assert len(parses) == 2
    assert not os.path.exists(os.path.join(cache, "config-wtpar.toml.json"))


def test_a_damaged_cache_is_parsed_again_with_a_warning(
    repo: Path, parses: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "wtpar.toml").write_text(_big_config())
    Services.from_cwd(repo).load_tasks()
    cached = repo / ".git" / "wtpar" / "cache" / "config-wtpar.toml.json"
    cached.write_bytes(b"\x00garbage")
    assert "t0001" in Services.from_cwd(repo).load_tasks()
    assert len(parses) == 2
    assert "damaged" in capsys.readouterr().err
    assert "t0001" in Services.from_cwd(repo).load_tasks()  # rewritten: served again
    assert len(parses) == 2


_COUNT_GIT = (
    "import sys\n"
    "from wtpar import procs\n"
    "real_started, real_run, seen = procs.Started, procs.run, []\n"
    "def sub(args):\n"
    "    return [a for a in map(str, args[1:]) if not a.startswith('-')][0]\n"
    "class Started(real_started):\n"
    "    def __init__(self, args, **kw):\n"
    "        seen.append(('early', sub(args), 'wtpar.services' in sys.modules))\n"
    "        super().__init__(args, **kw)\n"
    "def run(args, **kw):\n"
    "    if str(args[0]).endswith('git'):\n"
    "        seen.append(('late', sub(args), True))\n"
    "    return real_run(args, **kw)\n"
    "procs.Started, procs.run = Started, run\n"
    "from wtpar.cli import main\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
    "print('SEEN', sorted(seen))\n"
)
"""Python that runs `wtpar ARGV` and prints the git processes it started: (early or late,
subcommand, whether the services facade, which every command's module imports, was
imported when it started)."""


def test_the_repository_is_found_while_the_command_is_imported(repo: Path, tmp_path: Path) -> None:
    """`git worktree list` starts before the services facade and the command's modules are
    imported (about 20 ms of them run beside it), and it is the only discovery: its answer
    is the one used (also with -C), and `list` lists from it. Three git processes in all:
    the list, then the status and the branches beside each other (a count of processes
    stands for the time)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for argv, cwd in ((["list"], repo), (["-C", str(repo), "list"], elsewhere)):
        out = python_output(_COUNT_GIT, argv, cwd)
        assert "main" in out
        seen = out.strip().splitlines()[-1]
        assert seen == (
            "SEEN [('early', 'worktree', False), ('late', 'for-each-ref', True),"
            " ('late', 'status', True)]"
        )


def test_run_finds_the_repository_and_its_worktrees_with_one_git_process(repo: Path) -> None:
    from tests.run_helpers import spawn

    spawn(repo, "a")
    out = python_output(_COUNT_GIT, ["run", "--output", "quiet", "--", "true"], repo)
    seen = out.strip().splitlines()[-1]
    # Before its tasks, `run` needs the repository and its worktrees: one early list. The
    # rest records results during the run (status, hidden changes, the trees of HEADs).
    assert seen.startswith("SEEN [('early', 'worktree', False), ('late', 'cat-file', True)")
    assert seen.count("'worktree'") == 1 and "rev-parse" not in seen


@pytest.mark.parametrize("layout", ["separate-git-dir", "bare-with-worktree"])
def test_other_layouts_are_found_as_before(tmp_path: Path, layout: str) -> None:
    """Where the main worktree keeps no `.git` folder, or there is none, `git rev-parse`
    finds the repository, as it did before `git worktree list` did."""
    from fixtures.recipes import git
    from wtpar.errors import NotARepositoryError
    from wtpar.git import discover, discover_listed
    from wtpar.git.repo import start_discovery

    if layout == "separate-git-dir":
        where = tmp_path / "work"
        git(tmp_path, "init", "-q", "-b", "main", "--separate-git-dir", "meta.git", "work")
        git(where, "commit", "-q", "--allow-empty", "-m", "one")
    else:
        git(tmp_path, "init", "-q", "--bare", "-b", "main", "bare.git")
        seed = tmp_path / "seed"
        git(tmp_path, "clone", "-q", str(tmp_path / "bare.git"), "seed")
        git(seed, "commit", "-q", "--allow-empty", "-m", "one")
        git(seed, "push", "-q", "origin", "main")
        where = tmp_path / "linked"
        git(tmp_path / "bare.git", "worktree", "add", "-q", str(where), "main")
    if layout == "bare-with-worktree":  # as from the bare repository itself
        with pytest.raises(NotARepositoryError, match="bare.git is a bare repository"):
            discover_listed(where, start_discovery(where))
        return
    paths, listed = discover_listed(where, start_discovery(where))
    assert listed is None  # found by rev-parse, not from the list
    assert paths == discover(where)
    assert (paths.root, paths.common_dir) == (str(where), str(tmp_path / "meta.git"))
