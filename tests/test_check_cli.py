"""`wtpar check` end to end on real repositories: verdicts, reasons, conflicts between
branches, merge order, check tasks through the dispatcher, output formats, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fixtures.recipes import commit_file, git, make_branch, make_clone, make_repo
from tests.check_helpers import (
    add_worktree,
    branch_of,
    codes,
    fake_git,
    objects_snapshot,
    path_with,
    report_of,
    trace_count,
    write_config,
)
from tests.conftest import Invoke, run_wtpar_process

TEST_TASK = '[tasks.test]\ncmd = "test -f src/app.py && ! grep -q broken src/app.py"\n'


def check_json(wtpar: Invoke, *args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    result = wtpar("check", "--json", *args, cwd=cwd)
    return result.exit_code, report_of(result)


# -- one branch at a time ---------------------------------------------------------------------


def test_a_clean_branch_with_a_passing_check_is_ready(repo: Path, wtpar: Invoke) -> None:
    write_config(repo, TEST_TASK + '[check]\ntasks = ["test"]\n')
    make_branch(repo, "feature", {"src/util.py": "better\n"})
    add_worktree(repo, "feature")
    code, report = check_json(wtpar)
    feature = branch_of(report, "feature")
    assert code == 0 and report["ready"] is True
    assert feature["verdict"] == "ready"
    assert feature["checks"] == [{"task": "test", "state": "passed", "detail": ""}]
    assert codes(feature) == {"no-upstream": False}
    assert report["ran"] == ["feature"]
    # The passing result is reused: the second check runs nothing.
    code, again = check_json(wtpar)
    assert code == 0 and again["ran"] == []


def test_behind_but_clean_is_ready_with_a_warning(repo: Path, wtpar: Invoke) -> None:
    make_branch(repo, "feature", {"src/util.py": "better\n"})
    add_worktree(repo, "feature")
    commit_file(repo, "docs/guide.txt", "moved on\n")
    commit_file(repo, "README.md", "moved on\n")
    code, report = check_json(wtpar)
    feature = branch_of(report, "feature")
    assert code == 0
    assert feature["behind"] == 2 and feature["merge"]["clean"] is True
    assert codes(feature) == {"behind": False, "no-upstream": False}


def test_a_branch_conflicting_with_the_base_is_blocked_with_its_files(
    repo: Path, wtpar: Invoke
) -> None:
    make_branch(repo, "feature", {"src/app.py": "theirs\n", "src/util.py": "also\n"})
    add_worktree(repo, "feature")
    commit_file(repo, "src/app.py", "ours\n")
    before = git(repo, "status", "--porcelain")
    code, report = check_json(wtpar)
    feature = branch_of(report, "feature")
    assert code == 1 and report["ready"] is False
    assert feature["merge"] == {"clean": False, "files": ["src/app.py"], "error": None}
    assert codes(feature)["conflicts-with-base"] is True
    assert git(repo, "status", "--porcelain") == before  # no worktree was touched
    text = wtpar("check")
    assert text.exit_code == 1
    assert "would conflict with main in 1 file: src/app.py" in text.stdout


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("modify", {"staged": 0, "modified": 1, "untracked": 0, "conflicted": 0}),
        ("untracked", {"staged": 0, "modified": 0, "untracked": 1, "conflicted": 0}),
    ],
)
def test_uncommitted_or_untracked_changes_block(
    repo: Path, wtpar: Invoke, change: str, expected: dict[str, int]
) -> None:
    make_branch(repo, "feature", {"src/util.py": "better\n"})
    wt = add_worktree(repo, "feature")
    if change == "modify":
        (wt / "src" / "app.py").write_text("edited\n")
    else:
        (wt / "notes.txt").write_text("scratch\n")
    code, report = check_json(wtpar)
    feature = branch_of(report, "feature")
    assert code == 1
    assert feature["dirty"] == expected
    assert codes(feature)["dirty"] is True


def test_a_merge_in_progress_blocks(repo: Path, wtpar: Invoke) -> None:
    make_branch(repo, "feature", {"src/app.py": "theirs\n"})
    wt = add_worktree(repo, "feature")
    commit_file(repo, "src/app.py", "ours\n")
    git(wt, "merge", "main", check=False)
    code, report = check_json(wtpar)
    feature = branch_of(report, "feature")
    assert code == 1 and feature["operation"] == "merge"
    assert {"operation", "dirty"} <= set(codes(feature))


# -- upstreams ---------------------------------------------------------------------------------


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clone whose `feature` branch was pushed to its origin, then got one more commit."""
    origin = make_repo(tmp_path / "origin")
    work = make_clone(origin, tmp_path / "work")
    git(work, "switch", "-q", "-c", "feature")
    commit_file(work, "src/util.py", "pushed\n")
    git(work, "push", "-q", "-u", "origin", "feature")
    commit_file(work, "src/util.py", "not pushed yet\n")
    git(work, "switch", "-q", "main")
    add_worktree(work, "feature")
    monkeypatch.chdir(work)
    return work


def test_unpushed_commits_warn_and_block_when_required(clone: Path, wtpar: Invoke) -> None:
    code, report = check_json(wtpar, cwd=clone)
    feature = branch_of(report, "feature")
    assert report["base"] == "origin/main"
    assert code == 0
    assert feature["upstream"] == {
        "name": "origin/feature",
        "state": "ahead",
        "ahead": 1,
        "behind": 0,
    }
    assert codes(feature) == {"unpushed": False}
    write_config(clone, "[check]\nrequire_upstream = true\n")
    code, report = check_json(wtpar, cwd=clone)
    assert code == 1
    assert codes(branch_of(report, "feature")) == {"unpushed": True}


def test_no_upstream_is_a_warning(clone: Path, wtpar: Invoke) -> None:
    make_branch(clone, "local-only", {"docs/guide.txt": "mine\n"})
    code, report = check_json(wtpar, "local-only", cwd=clone)
    assert code == 0
    assert codes(branch_of(report, "local-only")) == {"no-upstream": False}
    assert branch_of(report, "local-only")["worktree"] is None


def test_fetch_updates_the_base_first(clone: Path, wtpar: Invoke, tmp_path: Path) -> None:
    commit_file(tmp_path / "origin", "docs/guide.txt", "upstream moved\n")
    _, report = check_json(wtpar, cwd=clone)
    assert branch_of(report, "feature")["behind"] == 0
    _, report = check_json(wtpar, "--fetch", cwd=clone)
    assert branch_of(report, "feature")["behind"] == 1


def test_fetch_without_a_remote_says_so(repo: Path, wtpar: Invoke) -> None:
    make_branch(repo, "feature", {"src/util.py": "x\n"})
    result = wtpar("check", "--fetch", "feature")
    assert result.exit_code == 0
    assert "main comes from no remote; nothing fetched" in result.stderr


# -- check tasks -------------------------------------------------------------------------------


def test_a_failing_check_blocks_and_its_result_is_reused(repo: Path, wtpar: Invoke) -> None:
    write_config(repo, TEST_TASK + '[check]\ntasks = ["test"]\n')
    make_branch(repo, "good", {"src/util.py": "fine\n"})
    make_branch(repo, "bad", {"src/app.py": "broken\n"})
    add_worktree(repo, "good")
    add_worktree(repo, "bad")
    result = wtpar("check", "--json")
    report = report_of(result)
    assert result.exit_code == 1
    assert sorted(report["ran"]) == ["bad", "good"]
    assert "bad:test failed (exit 1)" in result.stderr
    bad = branch_of(report, "bad")
    assert bad["checks"][0]["state"] == "failed" and codes(bad) == {
        "check-failed": True,
        "no-upstream": False,
    }
    assert branch_of(report, "good")["verdict"] == "ready"
    # --no-run judges on the recorded results: the failure is remembered, not missing.
    code, again = check_json(wtpar, "--no-run")
    assert code == 1 and again["ran"] == []
    assert branch_of(again, "bad")["checks"][0]["state"] == "failed"


def test_no_run_blocks_on_missing_results_and_dirty_trees_do_not_count(
    repo: Path, wtpar: Invoke
) -> None:
    write_config(repo, TEST_TASK + '[check]\ntasks = ["test"]\n')
    make_branch(repo, "fresh", {"src/util.py": "fine\n"})
    make_branch(repo, "dirty", {"docs/guide.txt": "fine\n"})
    add_worktree(repo, "fresh")
    (add_worktree(repo, "dirty") / "scratch.txt").write_text("wip\n")
    code, report = check_json(wtpar, "--no-run")
    assert code == 1
    assert codes(branch_of(report, "fresh")) == {"check-missing": True, "no-upstream": False}
    code, report = check_json(wtpar)  # runs where a result can be recorded: a clean tree
    assert report["ran"] == ["fresh"]
    assert branch_of(report, "fresh")["verdict"] == "ready"
    assert codes(branch_of(report, "dirty"))["check-dirty"] is True


# -- integrated --------------------------------------------------------------------------------


def test_integrated_and_squash_merged_branches_are_reported(repo: Path, wtpar: Invoke) -> None:
    make_branch(repo, "merged", {"src/util.py": "merged\n"})
    git(repo, "merge", "-q", "--ff-only", "merged")
    make_branch(repo, "squashed", {"docs/guide.txt": "a\n", "README.md": "b\n"})
    git(repo, "merge", "-q", "--squash", "squashed")
    git(repo, "commit", "-q", "-m", "squash")
    make_branch(repo, "live", {"src/app.py": "live\n"})
    code, report = check_json(wtpar, "merged", "squashed", "live")
    assert code == 0
    for name in ("merged", "squashed"):
        b = branch_of(report, name)
        assert b["integrated"] is True and codes(b) == {"integrated": False}
        assert b["verdict"] == "merged"
    assert branch_of(report, "live")["integrated"] is False
    assert branch_of(report, "live")["verdict"] == "ready"
    table = wtpar("check", "merged", "live").output
    assert [line.split()[:2] for line in table.splitlines()[2:4]] == [
        ["merged", "merged"],
        ["live", "ready"],
    ]
    assert report["matrix"]["branches"] == ["live"]
    assert [s["branch"] for s in report["merge_order"]] == ["live"]


# -- between branches --------------------------------------------------------------------------


def test_pairs_that_conflict_only_with_each_other(repo: Path, wtpar: Invoke) -> None:
    make_branch(repo, "a", {"src/app.py": "from a\n"})
    make_branch(repo, "b", {"src/app.py": "from b\n"})
    make_branch(repo, "c", {"docs/guide.txt": "from c\n"})
    before = objects_snapshot(repo)
    code, report = check_json(wtpar, "a", "b", "c")
    assert code == 0  # each merges cleanly into main on its own
    assert report["matrix"]["conflicts"] == [{"a": "a", "b": "b", "files": ["src/app.py"]}]
    assert report["matrix"]["disjoint"] == 2
    assert report["merge_order"] == [
        {"branch": "c", "clean": True, "files": [], "after": [], "combined": False},
        {"branch": "a", "clean": True, "files": [], "after": [], "combined": False},
        {"branch": "b", "clean": False, "files": ["src/app.py"], "after": ["a"], "combined": False},
    ]
    assert objects_snapshot(repo) == before
    text = wtpar("check", "a", "b", "c", "--matrix").stdout
    assert "a x b: src/app.py" in text
    assert "3. b  conflicts after a lands (src/app.py)" in text


def test_a_conflict_that_appears_only_after_other_branches_land(repo: Path, wtpar: Invoke) -> None:
    """`mover` renames docs/ to manual/, `adder` adds docs/extra.txt (moved with the folder),
    `clasher` adds manual/extra.txt: every pair merges, all three do not."""
    git(repo, "config", "merge.directoryRenames", "true")
    make_branch(repo, "adder", {"docs/extra.txt": "from adder\n"})
    make_branch(repo, "clasher", {"manual/extra.txt": "from clasher\n"})
    git(repo, "switch", "-q", "-c", "mover")
    git(repo, "mv", "docs", "manual")
    git(repo, "commit", "-q", "-m", "rename docs")
    git(repo, "switch", "-q", "main")
    before = objects_snapshot(repo)
    code, report = check_json(wtpar, "mover", "adder", "clasher")
    assert code == 0
    assert report["matrix"]["conflicts"] == []
    steps = {s["branch"]: s for s in report["merge_order"]}
    assert [s["branch"] for s in report["merge_order"]] == ["adder", "clasher", "mover"]
    # git may name no file for a conflict caused by a directory rename: the exit code tells.
    mover = {k: v for k, v in steps["mover"].items() if k != "files"}
    assert mover == {
        "branch": "mover",
        "clean": False,
        "after": ["adder", "clasher"],
        "combined": True,
    }
    assert objects_snapshot(repo) == before
    text = wtpar("check", "mover", "adder", "clasher").stdout
    assert "3. mover  conflicts once adder, clasher have landed" in text


def test_a_check_leaves_the_object_store_as_it_was(repo: Path, wtpar: Invoke) -> None:
    for i in range(6):
        make_branch(repo, f"f{i}", {"src/app.py": f"v{i % 3}\n", f"new{i}.txt": "x\n"})
    commit_file(repo, "src/util.py", "moved\n")
    before = objects_snapshot(repo)
    assert wtpar("check", *(f"f{i}" for i in range(6))).exit_code == 0
    assert objects_snapshot(repo) == before


def test_the_cache_serves_the_second_check_and_drops_a_moved_branch(
    repo: Path, wtpar: Invoke, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    names = ["a", "b", "c"]
    for n in names:
        make_branch(repo, n, {"src/app.py": f"from {n}\n"})
    cache = repo / ".git" / "wtpar" / "cache" / "merge.json"
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    _, first = check_json(wtpar, *names)
    merges = trace_count(trace, "merge-tree")
    assert first["matrix"]["merged"] == 3 and merges > 0
    saved = json.loads(cache.read_text())
    assert len(saved["pairs"]) == 3 and len(saved["base"]) == 3
    _, second = check_json(wtpar, *names)
    assert trace_count(trace, "merge-tree") == merges
    assert (second["matrix"]["merged"], second["matrix"]["cached"]) == (0, 3)
    assert second["matrix"]["conflicts"] == first["matrix"]["conflicts"]
    make_branch(repo, "c", {"src/app.py": "c again\n"}, start="c")
    _, third = check_json(wtpar, *names)
    assert (third["matrix"]["merged"], third["matrix"]["cached"]) == (2, 1)


# -- input, output, versions -------------------------------------------------------------------


def test_bad_input_exits_2(repo: Path, wtpar: Invoke) -> None:
    make_branch(repo, "feature", {"src/util.py": "x\n"})
    result = wtpar("check", "nope")
    assert result.exit_code == 2 and "no local branch named 'nope'" in result.stderr
    result = wtpar("check", "--base", "no-such-ref", "feature")
    assert result.exit_code == 2 and "base 'no-such-ref' is not a commit" in result.stderr
    result = wtpar("check", "main")
    assert result.exit_code == 2 and "is the base" in result.stderr


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ('[check]\ntasks = ["nope"]\n', "check.tasks: unknown task 'nope'"),
        ('[check]\nrequire_upstream = "yes"\n', "check.require_upstream must be true or false"),
        ("[check]\nstrict = true\n", "unknown setting check.strict"),
    ],
)
def test_config_errors_name_the_file_and_line(
    repo: Path, wtpar: Invoke, config: str, message: str
) -> None:
    write_config(repo, config)
    result = wtpar("check")
    assert result.exit_code == 2
    assert f"wtpar.toml:2: {message}" in result.stderr


def test_an_unrelated_branch_cannot_merge(repo: Path, wtpar: Invoke) -> None:
    tree = git(repo, "rev-parse", "main^{tree}").strip()
    orphan = git(repo, "commit-tree", tree, "-m", "orphan").strip()
    git(repo, "update-ref", "refs/heads/orphan", orphan)
    make_branch(repo, "feature", {"src/app.py": "x\n"})
    code, report = check_json(wtpar, "orphan", "feature")
    assert code == 1
    assert codes(branch_of(report, "orphan"))["merge-unknown"] is True
    assert report["matrix"]["branches"] == ["feature"]


def test_markdown_and_matrix_formats(repo: Path, wtpar: Invoke) -> None:
    make_branch(repo, "a", {"src/app.py": "a|pipe\n"})
    make_branch(repo, "b", {"src/app.py": "b\n"})
    commit_file(repo, "README.md", "moved\n")
    md = wtpar("check", "a", "b", "--format", "markdown").stdout
    assert "| Branch | Verdict | Behind | Conflicts | Dirty | Pushed | Checks |" in md
    assert "| `a` | ✅ ready | 1 | b | - | no upstream | - |" in md
    assert "- `a` × `b`: `src/app.py`" in md
    grid = wtpar("check", "a", "b", "--format", "matrix").stdout
    assert grid.splitlines()[:3] == ["#  branch  1  2", "1  a       -  X", "2  b       X  -"]


def test_nothing_to_check_without_worktrees(repo: Path, wtpar: Invoke) -> None:
    result = wtpar("check")
    assert result.exit_code == 0 and "nothing to check" in result.stdout


def test_help_shows_examples(repo: Path, wtpar: Invoke) -> None:
    out = wtpar("check", "--help").stdout
    assert "wtpar check --format markdown" in out and "--no-run" in out


def test_old_git_gets_a_clear_message(repo: Path, tmp_path: Path) -> None:
    make_branch(repo, "feature", {"src/app.py": "x\n"})
    env = {"PATH": path_with(fake_git(tmp_path / "old", "2.37.4"))}
    proc = run_wtpar_process("check", "feature", cwd=repo, env=env)
    assert proc.returncode == 2
    assert "needs git 2.38 or newer; this is git 2.37.4" in proc.stderr


def test_git_238_falls_back_to_one_merge_per_pair(repo: Path, tmp_path: Path) -> None:
    make_branch(repo, "a", {"src/app.py": "a\n"})
    make_branch(repo, "b", {"src/app.py": "b\n"})
    env = {"PATH": path_with(fake_git(tmp_path / "238", "2.38.1"))}
    proc = run_wtpar_process("check", "--json", "a", "b", cwd=repo, env=env)
    report = json.loads(proc.stdout)
    assert report["git_version"] == "2.38.1"
    assert report["matrix"]["method"] == "per-pair"
    assert report["matrix"]["conflicts"] == [{"a": "a", "b": "b", "files": ["src/app.py"]}]


def test_conflicts_column_names_three_partners_then_a_count(repo: Path, wtpar: Invoke) -> None:
    for i in range(5):
        make_branch(repo, f"edit-{i}", {"src/app.py": f"edit {i}\n"})
    result = wtpar("check", *(f"edit-{i}" for i in range(5)), "--no-run")
    rows = {line.split()[0]: line for line in result.output.splitlines()[2:7]}
    assert "edit-1, edit-2, edit-3, +1" in rows["edit-0"]
    report = report_of(wtpar("check", "--json", *(f"edit-{i}" for i in range(5))))
    assert len(report["matrix"]["conflicts"]) == 10  # JSON keeps every pair


def test_file_names_in_conflicts_cannot_steer_the_terminal(repo: Path, wtpar: Invoke) -> None:
    """A branch's file may be named with an escape sequence: the conflicts (with the base,
    between branches, in the merge order) show it as text, in every format."""
    evil = "\x1b]2;PWNED\x07\x1b[2Jevil.txt"
    make_branch(repo, "e1", {evil: "one\n"})
    make_branch(repo, "e2", {evil: "two\n"})
    add_worktree(repo, "e1")
    add_worktree(repo, "e2")
    for fmt in ("table", "markdown", "matrix"):
        result = wtpar("check", "--format", fmt, "e1", "e2")
        assert "\x1b" not in result.output and "\x07" not in result.output, fmt
        assert "\\x1b]2;PWNED\\x07\\x1b[2Jevil.txt" in result.output, fmt
