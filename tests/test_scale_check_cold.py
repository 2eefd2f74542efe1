"""Cold `wtpar check` (no cache): what it writes to disk and how many git processes it
starts (counts stand for the time)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from fixtures.recipes import commit_file, git, make_branch
from tests.check_helpers import trace_count
from wtpar.check.facts import CheckConfig, run_check
from wtpar.check.merging import ConflictMatrix, MergeSimulator, PairConflict, batch_sizes
from wtpar.check.order import speculation_window, suggested_order
from wtpar.git import Git, discover
from wtpar.git.merges import drop_stale_quarantines, memory_folder


def _files_under(folder: Path) -> int:
    return sum(len(files) for _, _, files in os.walk(folder))


@pytest.mark.skipif(memory_folder() is None, reason="no in-memory folder (/dev/shm) here")
def test_a_check_writes_its_merged_trees_to_memory_not_to_disk(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = tmp_path / "disk-tmp"
    disk.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    heads = {
        name: make_branch(repo, name, {"src/app.py": f"{name}\n", f"src/{name}.py": "x\n"})
        for name in ("a", "b", "c")
    }
    base = git(repo, "rev-parse", "main").strip()
    with MergeSimulator(Git(discover(repo))) as sim:
        matrix = sim.matrix(base, heads)
        sim.base_results(base, heads)
        quarantine = sim.env["GIT_OBJECT_DIRECTORY"]
        written = _files_under(Path(quarantine))
        on_disk = _files_under(disk)
    assert len(matrix.conflicts) == 3
    # Every merge wrote its trees (and conflicted files) as loose objects: before, each of
    # them was a file created in the disk's temporary folder.
    assert written > 0
    assert on_disk == 0
    assert quarantine.startswith(str(memory_folder()))
    assert not os.path.exists(quarantine)


def test_no_memory_folder_when_the_path_is_missing(tmp_path: Path) -> None:
    assert memory_folder(str(tmp_path / "missing")) is None


def test_quarantines_a_killed_check_left_in_memory_are_dropped_after_a_day(
    tmp_path: Path,
) -> None:
    now = time.time()
    left = tmp_path / "wtpar-objects-left"
    (left / "objects" / "ab").mkdir(parents=True)
    (left / "objects" / "ab" / "cdef").write_text("x")
    os.utime(left, (now - 2 * 86400, now - 2 * 86400))
    running = tmp_path / "wtpar-objects-running"
    (running / "objects").mkdir(parents=True)
    other = tmp_path / "someone-else"
    other.mkdir()
    os.utime(other, (now - 2 * 86400, now - 2 * 86400))
    drop_stale_quarantines(str(tmp_path), now)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["someone-else", "wtpar-objects-running"]
    drop_stale_quarantines(str(tmp_path / "missing"), now)  # no folder: nothing to do


def test_merges_are_split_evenly_over_the_workers() -> None:
    assert batch_sizes(0, 100, 2) == []
    assert batch_sizes(1, 100, 2) == [1]
    assert batch_sizes(26, 100, 2) == [13, 13]
    # Before: 100 + 100 + 35, the last 35 on one core while the other idled.
    assert batch_sizes(235, 100, 2) == [59, 59, 59, 58]
    assert batch_sizes(1000, 100, 8) == [63] * 8 + [62] * 8
    for count in range(1, 300, 7):
        sizes = batch_sizes(count, 100, 2)
        assert sum(sizes) == count and max(sizes) <= 100
        assert len(sizes) % 2 == 0 or len(sizes) == count
        assert max(sizes) - min(sizes) <= 1


def test_the_base_merges_of_a_few_branches_use_every_worker(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heads = {f"b{i}": make_branch(repo, f"b{i}", {f"src/b{i}.py": "x\n"}) for i in range(6)}
    base = git(repo, "rev-parse", "main").strip()
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    with MergeSimulator(Git(discover(repo)), workers=2) as sim:
        results = sim.base_results(base, heads)
    assert all(r.clean for r in results.values())
    # One `merge-tree --stdin` per worker (before: one process for all six, on one core).
    assert trace_count(trace, "merge-tree") == 2


def test_the_window_runs_to_the_first_step_predicted_to_land() -> None:
    # Steps 1-3 conflict with step 0, step 4 with nobody, step 5 with step 4.
    partners = [{1, 2, 3}, {0}, {0}, {0}, {5}, {4}]
    assert speculation_window(0, partners, set(), 100) == [0]
    assert speculation_window(1, partners, {0}, 100) == [1, 2, 3, 4]
    assert speculation_window(1, partners, {0}, 2) == [1, 2]
    assert speculation_window(5, partners, {0, 4}, 100) == [5]
    assert speculation_window(1, partners, set(), 100) == [1]


def _sequential(g: Git, base: str, shas: list[str]) -> list[tuple[bool, tuple[str, ...]]]:
    """The merge order as it was simulated before: one merge-tree per step, in turn."""
    outcome = []
    with g.quarantine() as env:
        running = base
        for sha in shas:
            result = g.merge_tree(running, sha, env)
            outcome.append((result.clean, result.files))
            if result.clean:
                running = g.commit_tree(result.tree, [running, sha], env)
    return outcome


def _groups(repo: Path, groups: int) -> dict[str, str]:
    """GROUPS groups of four branches rewriting one file each: in a group, every pair
    conflicts; across groups, none does."""
    return {
        f"g{g}{m}": make_branch(repo, f"g{g}{m}", {f"src/shared{g}.py": f"{m}\n", f"{g}{m}": ""})
        for g in range(groups)
        for m in "abcd"
    }


def test_the_steps_that_leave_the_result_unchanged_merge_in_one_batch(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    groups = 5
    heads = _groups(repo, groups)
    base = git(repo, "rev-parse", "main").strip()
    g = Git(discover(repo))
    with MergeSimulator(g, workers=1) as sim:
        matrix = sim.matrix(base, heads)
        order = suggested_order(list(heads), matrix)
        assert order == list(heads)  # three partners each: by name, a group after another
        trace = tmp_path / "trace"
        monkeypatch.setenv("GIT_TRACE", str(trace))
        steps = sim.merge_order(base, order, heads, matrix).steps
    merges, commits = trace_count(trace, "merge-tree"), trace_count(trace, "commit-tree")
    assert [s.clean for s in steps] == [m == "a" for _ in range(groups) for m in "abcd"]
    assert [(s.clean, s.files) for s in steps] == _sequential(g, base, list(heads.values()))
    # The first of a group lands; its three partners conflict with the result and merge in
    # one batch with the next group's first. Before: one merge-tree per step (20).
    assert merges == groups + 1
    assert commits == groups


def test_a_wrong_prediction_costs_merges_not_a_wrong_order(repo: Path) -> None:
    heads = _groups(repo, 3)
    base = git(repo, "rev-parse", "main").strip()
    names = list(heads)
    g = Git(discover(repo))
    # A matrix that claims every pair conflicts: each window runs to the end of the order.
    claims = ConflictMatrix(
        tuple(names), tuple(PairConflict(a, b, ("x",)) for a in names for b in names if a < b)
    )
    with MergeSimulator(g) as sim:
        steps = sim.merge_order(base, names, heads, claims).steps
    assert [(s.clean, s.files) for s in steps] == _sequential(g, base, list(heads.values()))


def test_branches_even_with_the_base_start_no_git_cherry(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f"e{i}" for i in range(4)]
    for name in names:
        make_branch(repo, name, {"src/app.py": f"{name}\n"})
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    report = run_check(Git(discover(repo)), "main", CheckConfig(), {}, names)
    # Not behind main: no patch of theirs can be there. Before, one `git cherry` each.
    assert trace_count(trace, "cherry") == 0
    assert not any(b.facts.integrated for b in report.branches)
    trace.unlink()
    commit_file(repo, "README.md", "main moved on\n")
    (repo / ".git" / "wtpar" / "cache" / "merge.json").unlink()
    report = run_check(Git(discover(repo)), "main", CheckConfig(), {}, names)
    assert trace_count(trace, "cherry") == len(names)  # behind: cherry tells
    assert not any(b.facts.integrated for b in report.branches)
