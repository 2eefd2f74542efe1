"""Where the main worktree keeps no `.git` folder, wtpar still finds it (git itself names
the git dir as the main worktree there), and where it cannot, or git refuses the
repository, the one-line error says why and what to do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.recipes import git
from tests.conftest import ROOT, python_output, run_wtpar_process
from wtpar.errors import NotARepositoryError
from wtpar.git import discover

# `wtpar ARGV` in a fresh interpreter: its exit code and what it printed, in one line each.
_WTPAR = (
    "import sys\nfrom wtpar.cli import main\ncode = 0\n"
    "try:\n    main(sys.argv[1:])\nexcept SystemExit as exc:\n    code = exc.code\n"
    "print('EXIT', code)\n"
)


def _separate(tmp_path: Path, name: str = "work") -> Path:
    """A repository made with `git init --separate-git-dir`: its `.git` is a file."""
    git(tmp_path, "init", "-q", "-b", "main", "--separate-git-dir", "meta.git", name)
    work = tmp_path / name
    (work / "wtpar.toml").write_text('[tasks.hello]\ncmd = "echo hello from $WTPAR_BRANCH"\n')
    git(work, "add", "wtpar.toml")
    git(work, "commit", "-q", "-m", "one")
    return work


def test_a_separate_git_dir_s_main_worktree_is_the_folder_of_its_git_file(
    tmp_path: Path,
) -> None:
    work = _separate(tmp_path)
    paths = discover(work / ".")
    assert (paths.root, paths.common_dir) == (str(work), str(tmp_path / "meta.git"))
    out = python_output(_WTPAR, ["spawn", "feature"], work)
    assert out.strip().endswith("EXIT 0"), out  # beside the main worktree, not its git dir
    assert (tmp_path / "work.worktrees" / "feature" / "wtpar.toml").is_file()
    out = python_output(_WTPAR, ["run", "--output", "stream", "hello"], work)
    assert "hello from feature" in out and out.strip().endswith("EXIT 0"), out


def test_from_a_linked_worktree_of_a_separate_git_dir_the_error_says_where_to_run(
    tmp_path: Path,
) -> None:
    work = _separate(tmp_path)
    git(work, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    with pytest.raises(NotARepositoryError, match="run wtpar in the main worktree"):
        discover(tmp_path / "side")


def test_a_submodule_s_main_worktree_is_its_folder(tmp_path: Path) -> None:
    inner = _separate(tmp_path, "inner")
    outer = tmp_path / "outer"
    git(tmp_path, "init", "-q", "-b", "main", "outer")
    git(outer, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(inner), "sub")
    sub = outer / "sub"
    paths = discover(sub)
    assert paths.root == str(sub)
    assert paths.common_dir == str(outer / ".git" / "modules" / "sub")
    git(sub, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    assert discover(tmp_path / "side").root == str(sub)  # from core.worktree


def test_a_path_with_a_newline_is_found(tmp_path: Path) -> None:
    work = _separate(tmp_path, "new\nline")
    out = python_output(_WTPAR, ["list", "--json"], work)
    printed, _, code = out.strip().rpartition("\nEXIT ")
    assert code == "0", out
    assert [w["path"] for w in json.loads(printed)["worktrees"]] == [str(work)]


def give_away(*tops: Path) -> None:
    """Make these folders, and everything in them, another user's (as a shared folder's)."""
    for top in tops:
        for folder, _, files in os.walk(top):
            for name in [folder, *(os.path.join(folder, f) for f in files)]:
                os.chown(name, 65534, 65534)


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's repository needs root")
def test_a_repository_git_does_not_trust_says_so_and_how_to_trust_it(tmp_path: Path) -> None:
    repo = tmp_path / "theirs"
    git(tmp_path, "init", "-q", "-b", "main", "theirs")
    give_away(repo)
    (repo / "sub").mkdir()
    for where in (repo, repo / "sub"):  # the advice names the repository, not the folder
        with pytest.raises(NotARepositoryError) as raised:
            discover(where)
        assert str(raised.value) == (
            f"git does not trust the repository at {repo} (another user owns it); to trust"
            f" it: git config --global --add safe.directory {repo}"
        )


def test_a_deleted_current_folder_is_named_and_minus_c_still_works(
    repo: Path, tmp_path: Path
) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    results = []
    relative = os.path.relpath(repo, gone)
    for argv in (["list"], ["-C", str(repo), "list"], ["-C", relative, "list"]):
        script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
        command = [sys.executable, "-c", _WTPAR, *argv]
        gone.mkdir(exist_ok=True)
        results.append(
            subprocess.run(
                ["sh", "-c", script, "sh", str(gone), *command],
                capture_output=True,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                timeout=60,
            )
        )
    lost, named, relative_lost = results
    assert lost.stdout.strip() == "EXIT 2"
    assert lost.stderr.strip() == (
        "wtpar: error: the current folder no longer exists: cd to a worktree, or name one"
        " with -C DIR"
    )
    assert named.stdout.strip().endswith("EXIT 0") and str(repo) in named.stdout
    assert relative_lost.stderr.strip().endswith("or give -C an absolute path")


def test_a_separate_git_dir_named_dot_git_is_not_taken_for_the_main_worktree(
    tmp_path: Path,
) -> None:
    (tmp_path / "store").mkdir()
    git(tmp_path, "init", "-q", "-b", "main", "--separate-git-dir", "store/.git", "work")
    work = tmp_path / "work"
    git(work, "commit", "-q", "--allow-empty", "-m", "one")
    (work / "untracked.txt").write_text("seen\n")
    assert discover(work).root == str(work)
    out = python_output(_WTPAR, ["list", "--json"], work)  # through the early listing
    printed, _, code = out.strip().rpartition("\nEXIT ")
    assert code == "0", out
    [main] = json.loads(printed)["worktrees"]
    assert (main["path"], main["untracked"]) == (str(work), 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's repository needs root")
def test_from_another_user_s_linked_worktree_the_advice_trusts_the_main_one_too(
    tmp_path: Path,
) -> None:
    """wtpar runs git in the main worktree as well: trusting the linked one alone, as git
    advises, leaves the next git call refused. Following wtpar's advice, `list` works."""
    repo = tmp_path / "their repo"  # pasted unquoted, the advice would not work
    git(tmp_path, "init", "-q", "-b", "main", "their repo")
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    linked = tmp_path / "their $(side)"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    give_away(repo, linked)
    with pytest.raises(NotARepositoryError) as raised:
        discover(linked)
    add = "git config --global --add safe.directory"
    assert str(raised.value) == (
        f"git does not trust the repository at {repo} nor its worktree {linked} (another"
        f" user owns them); to trust them: {add} '{repo}' && {add} '{linked}'"
    )
    # Git's own advice trusts the linked worktree only: wtpar's next git call, in the main
    # one, is refused, and wtpar says what to do (it printed git's raw error).
    git(tmp_path, "config", "--global", "--add", "safe.directory", str(linked))
    half = subprocess.run(
        [sys.executable, "-c", _WTPAR, "list"],
        cwd=linked,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert half.stdout.strip() == "EXIT 2"
    assert half.stderr == (
        f"wtpar: error: git does not trust the repository at {repo} (another user owns it);"
        f" to trust it: git config --global --add safe.directory '{repo}'\n"
    )
    advice = str(raised.value).rpartition("to trust them: ")[2]
    subprocess.run(["sh", "-c", advice], check=True)
    out = python_output(_WTPAR, ["list", "--json"], linked)
    printed, _, code = out.strip().rpartition("\nEXIT ")
    assert code == "0", out
    assert [w["path"] for w in json.loads(printed)["worktrees"]] == [str(repo), str(linked)]


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's repository needs root")
def test_the_advice_for_an_odd_folder_name_pastes_into_bash(tmp_path: Path) -> None:
    """A folder named with a byte that is not UTF-8 and an escape sequence: the advice
    quoted the name as text (pasted, it trusted `...\\xff...`), and named the folder as
    git's message prints it, the escape turned into `?`: another path."""
    name = os.fsdecode(b"own\xffer\x1b[31mred")
    repo = tmp_path / name
    git(tmp_path, "init", "-q", "-b", "main", name)
    give_away(repo)
    with pytest.raises(NotARepositoryError) as raised:
        discover(repo)
    advice = str(raised.value).rpartition("to trust it: ")[2]
    assert advice.startswith("git config --global --add safe.directory $'"), advice
    subprocess.run(["bash", "-c", advice], check=True)
    assert discover(repo).root == str(repo)


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's repository needs root")
def test_our_linked_worktree_of_another_user_s_repository_with_an_odd_name(
    tmp_path: Path,
) -> None:
    """Git names our linked worktree (its git dir is theirs) as its message prints it, an
    escape as `?`: the advice named that path, which is not there, and left out the main
    worktree; pasted, it changed nothing."""
    repo = tmp_path / "ma\x1bin"
    git(tmp_path, "init", "-q", "-b", "main", repo.name)
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    linked = tmp_path / "li\x1bnk"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    give_away(repo)
    with pytest.raises(NotARepositoryError) as raised:
        discover(linked)
    advice = str(raised.value).rpartition("to trust them: ")[2]
    assert "\\x1b" in advice and "?" not in advice, advice
    subprocess.run(["bash", "-c", advice], check=True)
    assert discover(linked).root == str(repo)


def test_a_carriage_return_in_the_repository_s_folder_name(tmp_path: Path) -> None:
    work = tmp_path / "odd\rname"
    git(tmp_path, "init", "-q", "-b", "main", work.name)
    out = python_output(_WTPAR, ["list", "--json"], work)
    printed, _, code = out.strip().rpartition("\nEXIT ")
    assert code == "0", out
    assert [w["path"] for w in json.loads(printed)["worktrees"]] == [str(work)]


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's repository needs root")
def test_check_blocks_a_worktree_whose_status_git_will_not_give(tmp_path: Path) -> None:
    """Another user's worktree, its repository trusted but not it: git will not tell its
    status. check said "ready" (its changes unseen); now it blocks, and says why."""
    repo = tmp_path / "theirs"
    git(tmp_path, "init", "-q", "-b", "main", "theirs")
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    linked = tmp_path / "feat"
    git(repo, "worktree", "add", "-q", "-b", "feat", str(linked))
    (linked / "work.txt").write_text("work\n")
    git(linked, "add", "work.txt")
    git(linked, "commit", "-q", "-m", "work")
    (linked / "unsaved.txt").write_text("not committed\n")
    (repo / "wtpar.toml").write_text('[tasks.test]\ncmd = "true"\n[check]\ntasks = ["test"]\n')
    give_away(repo, linked)
    git(tmp_path, "config", "--global", "--add", "safe.directory", str(repo))
    out = python_output(_WTPAR, ["check", "--json", "feat"], repo)
    printed, _, code = out.strip().rpartition("\nEXIT ")
    assert code == "1", out
    (feat,) = json.loads(printed)["branches"]
    assert feat["verdict"] == "blocked"
    assert "status-unknown" in [r["code"] for r in feat["reasons"]]
    # Its check cannot count, and says why: not "dirty", which nothing showed.
    assert feat["checks"] == [{"task": "test", "state": "unknown", "detail": ""}]
    assert "check-unknown" in [r["code"] for r in feat["reasons"]]
    table = python_output(_WTPAR, ["check", "feat"], repo)
    (row,) = [line.split() for line in table.splitlines() if line.startswith("feat ")]
    assert row[-5:] == ["?", "no", "upstream", "test", "unknown"], table


def test_the_folder_git_refuses_is_read_whole_even_with_a_line_break() -> None:
    from wtpar.git.repo import refused_as_untrusted

    said = (
        "fatal: detected dubious ownership in repository at '/tmp/x/it's a\nrepo'\n"
        "To add an exception for this directory, call:\n"
    )
    assert refused_as_untrusted(said) == "/tmp/x/it's a\nrepo"


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's repository needs root")
def test_with_the_repository_trusted_already_the_advice_names_the_worktree_alone(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "theirs"
    git(tmp_path, "init", "-q", "-b", "main", "theirs")
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    linked = tmp_path / "side"
    git(repo, "worktree", "add", "-q", "-b", "side", str(linked))
    give_away(repo, linked)
    git(tmp_path, "config", "--global", "--add", "safe.directory", str(repo))
    with pytest.raises(NotARepositoryError) as raised:
        discover(linked)
    assert str(raised.value) == (
        f"git does not trust the repository at {linked} (another user owns it); to trust"
        f" it: git config --global --add safe.directory {linked}"
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="making another user's repository needs root")
def test_land_into_a_base_whose_worktree_git_will_not_read_says_so(tmp_path: Path) -> None:
    """It said the base had uncommitted changes to commit or stash: there were none, and
    none could be seen."""
    repo = tmp_path / "ours"
    git(tmp_path, "init", "-q", "-b", "main", "ours")
    git(repo, "commit", "-q", "--allow-empty", "-m", "first")
    git(repo, "checkout", "-q", "-b", "elsewhere")
    base_wt = tmp_path / "base"
    git(repo, "worktree", "add", "-q", str(base_wt), "main")
    git(repo, "branch", "feat", "main")
    git(repo, "worktree", "add", "-q", str(tmp_path / "feat"), "feat")
    (tmp_path / "feat" / "f.txt").write_text("f\n")
    git(tmp_path / "feat", "add", "f.txt")
    git(tmp_path / "feat", "commit", "-q", "-m", "f")
    give_away(base_wt)
    before = git(repo, "rev-parse", "main")
    landed = run_wtpar_process("land", "--no-run", "--into", "main", "feat", cwd=repo)
    assert landed.returncode == 1, landed.stderr
    assert "uncommitted changes" not in landed.stderr
    assert f"main is checked out in {base_wt}, whose status git will not give" in landed.stderr
    assert git(repo, "rev-parse", "main") == before
