"""Merge simulation on real repositories: quarantine, batching, fallback, prefilter, cache."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from fixtures.recipes import git, make_branch
from tests.check_helpers import objects_snapshot, trace_count
from wtpar.check.merging import ChangedPaths, MergeSimulator, may_conflict
from wtpar.errors import CommandError
from wtpar.git import Git, discover

# Branches over the basic tree: overlapping, disjoint, a file/folder clash, a rename.
BRANCHES: dict[str, dict[str, str]] = {
    "app-1": {"src/app.py": "one\n"},
    "app-2": {"src/app.py": "two\n"},
    "app-3": {"src/app.py": "one\n"},  # the same change as app-1: no conflict
    "util": {"src/util.py": "util\n"},
    "docs": {"docs/guide.txt": "guide\n", "README.md": "readme\n"},
    "readme": {"README.md": "other readme\n"},
    "file": {"newthing": "a file\n"},
    "folder": {"newthing/inner.txt": "a folder\n"},
}


@pytest.fixture
def branched(repo: Path) -> dict[str, str]:
    """The repository with BRANCHES; their commit ids by name."""
    return {name: make_branch(repo, name, changes) for name, changes in BRANCHES.items()}


def _base(repo: Path) -> str:
    return git(repo, "rev-parse", "main").strip()


def _cache(repo: Path) -> Path:
    return repo / ".git" / "wtpar" / "cache" / "merge.json"


def test_stdin_batches_and_per_pair_fallback_find_the_same_conflicts(
    repo: Path, branched: dict[str, str]
) -> None:
    g = Git(discover(repo))
    matrices = []
    for use_stdin, chunk in ((True, 3), (False, 100)):
        _cache(repo).unlink(missing_ok=True)
        with MergeSimulator(g, use_stdin=use_stdin, chunk=chunk) as sim:
            matrices.append(sim.matrix(_base(repo), branched))
    stdin, per_pair = matrices
    assert stdin.method == "stdin" and per_pair.method == "per-pair"
    assert stdin.merged == per_pair.merged > 3  # more than one chunk
    assert set(stdin.conflicts) == set(per_pair.conflicts)
    pairs = {frozenset((c.a, c.b)): c.files for c in stdin.conflicts}
    assert pairs == {
        frozenset(("app-1", "app-2")): ("src/app.py",),
        frozenset(("app-2", "app-3")): ("src/app.py",),
        frozenset(("docs", "readme")): ("README.md",),
        frozenset(("file", "folder")): pairs[frozenset(("file", "folder"))],
    }


def test_the_prefilter_never_hides_a_real_conflict(repo: Path, branched: dict[str, str]) -> None:
    """Every pair merged directly with git: the matrix (prefiltered) finds the same pairs."""
    g = Git(discover(repo))
    with MergeSimulator(g) as sim:
        matrix = sim.matrix(_base(repo), branched)
        direct = {
            frozenset((a, b))
            for a, b in itertools.combinations(branched, 2)
            if not g.merge_tree(branched[a], branched[b], sim.env).clean
        }
    assert {frozenset((c.a, c.b)) for c in matrix.conflicts} == direct
    assert matrix.disjoint > 0
    assert matrix.disjoint + matrix.merged == matrix.pairs == 28


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((["src/a.py"], []), (["src/b.py"], []), False),
        ((["src/a.py"], []), (["src/a.py"], []), True),
        ((["x"], []), (["x/y/z"], []), True),  # a file where the other has a folder
        ((["d/x", "e/x"], ["d/x"]), (["d/new"], []), True),  # a folder emptied: a rename
        ((["top.txt"], ["top.txt"]), (["other.txt"], []), False),
    ],
)
def test_may_conflict(
    a: tuple[list[str], list[str]], b: tuple[list[str], list[str]], expected: bool
) -> None:
    assert may_conflict(ChangedPaths.of(*a), ChangedPaths.of(*b)) is expected
    assert may_conflict(ChangedPaths.of(*b), ChangedPaths.of(*a)) is expected


def test_simulation_adds_no_object_to_the_repository(repo: Path, branched: dict[str, str]) -> None:
    before = objects_snapshot(repo)
    g = Git(discover(repo))
    with MergeSimulator(g) as sim:
        base = _base(repo)
        matrix = sim.matrix(base, branched)
        sim.base_results(base, branched)
        order = sim.merge_order(base, ["util", "docs", "app-1", "app-2"], branched, matrix)
        quarantine = sim.env["GIT_OBJECT_DIRECTORY"]
        assert any(files for _, _, files in os.walk(quarantine))
    assert [s.clean for s in order.steps] == [True, True, True, False]
    assert order.steps[3].after == ("app-1",)
    assert objects_snapshot(repo) == before
    assert not os.path.exists(quarantine)


def test_a_bad_ref_is_an_error_not_a_conflict(repo: Path) -> None:
    g = Git(discover(repo))
    with g.quarantine() as env, pytest.raises(CommandError) as err:
        g.merge_tree("main", "no-such-branch", env)
    assert "merge-tree" in err.value.message
    assert g.resolve_commits(["main", "no-such-branch", "bad name"]) == {
        "main": _base(repo),
        "no-such-branch": None,
        "bad name": None,
    }


def test_simulated_merge_commits_are_reproducible(repo: Path, branched: dict[str, str]) -> None:
    g = Git(discover(repo))
    ids = []
    for _ in range(2):
        with g.quarantine() as env:
            result = g.merge_tree(_base(repo), branched["util"], env)
            ids.append(g.commit_tree(result.tree, [_base(repo), branched["util"]], env))
    assert ids[0] == ids[1]


def test_the_cache_answers_the_second_run_and_forgets_moved_branches(
    repo: Path, branched: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    g = Git(discover(repo))
    with MergeSimulator(g) as sim:
        first = sim.matrix(_base(repo), branched)
    merges_first = trace_count(trace, "merge-tree")
    assert first.merged > 0 and merges_first > 0 and _cache(repo).exists()
    with MergeSimulator(g) as sim:
        second = sim.matrix(_base(repo), branched)
    assert trace_count(trace, "merge-tree") == merges_first  # no merge-tree process at all
    assert trace_count(trace, "diff") == len(branched)  # paths were cached too
    assert (second.merged, second.cached) == (0, first.merged)
    assert second.conflicts == first.conflicts

    moved = dict(branched, readme=make_branch(repo, "readme", {"README.md": "x\n"}, "readme"))
    with MergeSimulator(g) as sim:
        third = sim.matrix(_base(repo), moved)
    partners_of_readme = sum("readme" in pair for pair in _prefiltered_pairs(branched))
    assert third.merged == partners_of_readme
    assert third.cached == first.merged - partners_of_readme


def _prefiltered_pairs(heads: dict[str, str]) -> list[tuple[str, str]]:
    # The pairs the prefilter keeps (no branch here deletes a file).
    g_paths = {
        n: ChangedPaths.of(
            git(".", "diff", "--name-only", "--no-renames", f"main...{h}").split(),
            [],
        )
        for n, h in heads.items()
    }
    return [
        (a, b)
        for a, b in itertools.combinations(heads, 2)
        if heads[a] != heads[b] and may_conflict(g_paths[a], g_paths[b])
    ]
