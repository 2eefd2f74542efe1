"""Warm `wtpar check` with many branches: the merge order's blame and the conflict look-ups
cost what the conflicts cost, not steps x landed branches (a count stands for the time)."""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from wtpar.check.merging import (
    ChangedPaths,
    ConflictMatrix,
    PairConflict,
    may_conflict,
    overlapping_pairs,
)
from wtpar.check.order import blame_steps, suggested_order


@dataclass(frozen=True)
class CountingMatrix(ConflictMatrix):
    """A conflict matrix that counts every look-up and every partner it hands out."""

    looked_at: list[int] = field(default_factory=lambda: [0], compare=False)

    def conflict(self, a: str, b: str) -> PairConflict | None:
        self.looked_at[0] += 1
        return super().conflict(a, b)

    def partners(self, branch: str) -> list[str]:
        found = super().partners(branch)
        self.looked_at[0] += 1 + len(found)
        return found


def _half_lands(n: int) -> tuple[list[str], list[tuple[bool, list[str]]], CountingMatrix]:
    """N branches: the first half land, each of the second half conflicts with one of them."""
    names = [f"b{i:04d}" for i in range(n)]
    half = n // 2
    conflicts = tuple(
        PairConflict(names[i - half], names[i], ("shared.py",)) for i in range(half, n)
    )
    outcomes = [(i < half, [] if i < half else ["shared.py"]) for i in range(n)]
    return names, outcomes, CountingMatrix(tuple(names), conflicts)


def test_merge_order_blames_with_look_ups_linear_in_branches() -> None:
    counts = {}
    for n in (200, 400):
        names, outcomes, matrix = _half_lands(n)
        order = blame_steps(names, outcomes, matrix)
        half = n // 2
        assert [s.after for s in order.conflicting] == [(names[i - half],) for i in range(half, n)]
        assert not any(s.combined for s in order.steps)
        counts[n] = matrix.looked_at[0]
    # Before the index, each conflicting step asked about every landed branch: n*n/4 look-ups.
    assert counts[400] <= 2 * 400
    assert counts[400] <= 2.1 * counts[200]


def test_a_conflict_no_single_landed_branch_causes_blames_them_all() -> None:
    matrix = ConflictMatrix(("a", "b", "c"), ())
    order = blame_steps(["a", "b", "c"], [(True, []), (True, []), (False, ["x"])], matrix)
    assert order.steps[2].after == ("a", "b")
    assert order.steps[2].combined


def test_blame_names_landed_partners_in_landing_order() -> None:
    conflicts = (PairConflict("d", "c", ("f",)), PairConflict("a", "d", ("g",)))
    matrix = ConflictMatrix(("a", "b", "c", "d"), conflicts)
    outcomes = [(True, []), (True, []), (True, []), (False, ["f", "g"])]
    assert blame_steps(["a", "b", "c", "d"], outcomes, matrix).steps[3].after == ("a", "c")


def test_indexed_look_ups_agree_with_the_pairs() -> None:
    names = [f"b{i}" for i in range(12)]
    pairs = [
        (a, b)
        for a, b in itertools.combinations(names, 2)
        if (int(a[1:]) * 7 + int(b[1:])) % 3 == 0
    ]
    matrix = ConflictMatrix(tuple(names), tuple(PairConflict(a, b, (a,)) for a, b in pairs))
    for a, b in itertools.permutations(names, 2):
        found = matrix.conflict(a, b)
        expected = next((c for c in matrix.conflicts if {c.a, c.b} == {a, b}), None)
        assert found == expected
    for name in names:
        assert sorted(matrix.partners(name)) == sorted(
            c.b if c.a == name else c.a for c in matrix.conflicts if name in (c.a, c.b)
        )
    fewest_first = suggested_order(names, matrix)
    degree = [len(matrix.partners(n)) for n in fewest_first]
    assert degree == sorted(degree)


def test_the_path_index_finds_exactly_the_pairs_that_may_conflict() -> None:
    rng = random.Random(7)
    folders = ["a", "a/b", "a/b/c", "d", "d/e"]
    changed: list[ChangedPaths | None] = []
    for _ in range(60):
        paths = {f"{rng.choice(folders)}/f{rng.randrange(6)}" for _ in range(rng.randrange(1, 4))}
        if rng.random() < 0.2:
            paths.add(rng.choice(folders))  # a file where others have a folder
        deleted = {p for p in paths if rng.random() < 0.2}
        changed.append(ChangedPaths.of(paths, deleted))
    changed[5] = None
    brute = [
        (i, j)
        for i, j in itertools.combinations(range(len(changed)), 2)
        if (a := changed[i]) is None or (b := changed[j]) is None or may_conflict(a, b)
    ]
    assert overlapping_pairs(changed) == brute
    assert 0 < len(brute) < len(changed) * (len(changed) - 1) // 2
