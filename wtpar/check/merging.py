"""Merge simulation for `wtpar check`: each branch into the base, every pair of branches,
and the ready branches one after another, all through `git merge-tree` on commit ids.

Every merge runs in a quarantine (a temporary object directory with the repository's
objects as an alternate), so a check leaves the repository exactly as it was. Results are
cached by commit ids in `wtpar/cache/merge.json`: a branch that did not move costs nothing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from wtpar import git as gitmod
from wtpar.check.merge_cache import MergeCache, pair_key
from wtpar.check.order import MergeOrder, blame_steps, speculation_window
from wtpar.git import Git, MergeTreeResult

_T = TypeVar("_T")
_R = TypeVar("_R")


# -- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseResult:
    """A branch against the base: would it merge, and is its work already there?"""

    related: bool
    clean: bool
    files: tuple[str, ...]
    integrated: bool


@dataclass(frozen=True)
class PairConflict:
    """Two branches that would conflict with each other, and where."""

    a: str
    b: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class ConflictMatrix:
    """Which pairs of branches conflict; how many pairs were skipped, cached or merged."""

    branches: tuple[str, ...]
    conflicts: tuple[PairConflict, ...]
    pairs: int = 0
    disjoint: int = 0
    cached: int = 0
    merged: int = 0
    method: str = "stdin"
    # Indexes of `conflicts`, so a look-up costs the same with 400 branches as with 4.
    _by_pair: dict[frozenset[str], PairConflict] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _partners: dict[str, list[str]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for c in self.conflicts:
            self._by_pair.setdefault(frozenset((c.a, c.b)), c)
            self._partners.setdefault(c.a, []).append(c.b)
            self._partners.setdefault(c.b, []).append(c.a)

    def conflict(self, a: str, b: str) -> PairConflict | None:
        """The conflict between two branches, if any (in either order)."""
        return self._by_pair.get(frozenset((a, b)))

    def partners(self, branch: str) -> list[str]:
        """The branches BRANCH conflicts with."""
        return list(self._partners.get(branch, ()))


# -- the changed-path prefilter --------------------------------------------------------------


@dataclass(frozen=True)
class ChangedPaths:
    """The paths a branch changed since its merge base with the base, for the prefilter."""

    paths: frozenset[str]
    ancestors: frozenset[str]
    parents: frozenset[str]
    emptied: frozenset[str]

    @classmethod
    def of(cls, paths: Iterable[str], deleted: Iterable[str]) -> ChangedPaths:
        """Index changed and deleted paths."""
        changed = frozenset(paths)
        ancestors = {p.rsplit("/", n)[0] for p in changed for n in range(1, p.count("/") + 1)}
        return cls(
            changed,
            frozenset(ancestors),
            frozenset(os.path.dirname(p) for p in changed) - {""},
            frozenset(os.path.dirname(p) for p in deleted) - {""},
        )


def may_conflict(a: ChangedPaths, b: ChangedPaths) -> bool:
    """False only when two branches cannot conflict: no common path, no file where the other
    has a folder, and no new file in a folder the other emptied (a directory rename)."""
    return bool(
        a.paths & b.paths
        or a.paths & b.ancestors
        or b.paths & a.ancestors
        or a.emptied & b.parents
        or b.emptied & a.parents
    )


def overlapping_pairs(changed: Sequence[ChangedPaths | None]) -> list[tuple[int, int]]:
    """The pairs (i < j) of `changed` that `may_conflict`, in order, found through an index of
    paths and folders, so the cost follows the paths and the overlaps, not every pair.
    None (no common history) overlaps everything."""
    by_path: dict[str, list[int]] = {}
    by_ancestor: dict[str, list[int]] = {}
    by_parent: dict[str, list[int]] = {}
    unknown: list[int] = []
    for i, c in enumerate(changed):
        if c is None:
            unknown.append(i)
            continue
        for p in c.paths:
            by_path.setdefault(p, []).append(i)
        for p in c.ancestors:
            by_ancestor.setdefault(p, []).append(i)
        for p in c.parents:
            by_parent.setdefault(p, []).append(i)
    found: set[tuple[int, int]] = set()
    for i, c in enumerate(changed):
        near: set[int] = set(unknown)
        if c is None:
            near.update(range(len(changed)))
        else:
            for p in c.paths:
                near.update(by_path.get(p, ()))
                near.update(by_ancestor.get(p, ()))
            for p in c.emptied:
                near.update(by_parent.get(p, ()))
        found.update((min(i, j), max(i, j)) for j in near if j != i)
    return sorted(found)


# -- the simulator ---------------------------------------------------------------------------


def batch_sizes(count: int, most: int, workers: int) -> list[int]:
    """How many merges each `merge-tree --stdin` process gets: at most MOST, in a multiple of
    WORKERS batches of nearly equal size, so every core stays busy until the last one ends
    (100 + 100 + 35 on two cores left one idle for the last 35)."""
    if count == 0:
        return []
    rounds = -(-count // (most * workers))
    batches = min(count, rounds * workers)
    return [count // batches + (i < count % batches) for i in range(batches)]



class MergeSimulator:
    """Merges in a quarantine, with a cache; use as a context manager (saves the cache)."""

    def __init__(
        self,
        git: Git,
        use_stdin: bool | None = None,
        chunk: int = 100,
        workers: int | None = None,
    ) -> None:
        self.git = git
        self.use_stdin = gitmod.version() >= (2, 39, 0) if use_stdin is None else use_stdin
        self.chunk = chunk
        self.workers = workers or max(1, min(8, os.cpu_count() or 2))
        self.cache = MergeCache(os.path.join(git.paths.wtpar_dir, "cache", "merge.json"))
        self._quarantine = git.quarantine(in_memory=True)
        self.env: dict[str, str] = {}

    def __enter__(self) -> MergeSimulator:
        self.env = self._quarantine.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._quarantine.__exit__(kind, exc, tb)
        if kind is None:
            self.cache.save()

    def _map(self, fn: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
        if len(items) <= 1:
            return [fn(i) for i in items]
        with ThreadPoolExecutor(min(self.workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def merge_many(self, pairs: Sequence[tuple[str, str]]) -> list[MergeTreeResult]:
        """Merge each pair of commit ids: batched through `--stdin`, or one call per pair."""
        if not self.use_stdin:
            return self._map(lambda p: self.git.merge_tree(p[0], p[1], self.env), pairs)
        sizes = batch_sizes(len(pairs), self.chunk, self.workers)
        starts = list(itertools.accumulate(sizes, initial=0))
        chunks = [pairs[a:b] for a, b in itertools.pairwise(starts)]
        done = self._map(lambda c: self.git.merge_tree_batch(c, self.env), chunks)
        return [r for chunk in done for r in chunk]

    def changed_paths(self, base: str, heads: Mapping[str, str]) -> dict[str, ChangedPaths | None]:
        """Per branch, its changed paths since the merge base (None: no common history)."""

        def one(head: str) -> Any:
            found = self.git.changed_paths(base, head)
            return {"related": False} if found is None else {"paths": found[0], "del": found[1]}

        entries = self.cache.get_or_compute("paths", base, list(heads.values()), one)
        return {
            branch: ChangedPaths.of(e["paths"], e["del"]) if "paths" in e else None
            for branch, e in zip(heads, entries, strict=True)
        }

    def ahead_behind(self, base: str, heads: Mapping[str, str]) -> dict[str, tuple[int, int]]:
        """Per branch, (ahead, behind) of its head against the base; cached by commit ids, so
        a warm check starts no git process for a branch that did not move."""

        def one(head: str) -> list[int]:
            return list(self.git.ahead_behind(base, head) or (0, 0))

        entries = self.cache.get_or_compute("counts", base, list(heads.values()), one)
        return {branch: (e[0], e[1]) for branch, e in zip(heads, entries, strict=True)}

    def base_results(self, base: str, heads: Mapping[str, str]) -> dict[str, BaseResult]:
        """Per branch: would it merge into the base, and is it already integrated (its merge
        gives the base's tree, or every patch is in the base: squash-merged, cherry-picked)?"""
        related = self.changed_paths(base, heads)
        todo = [h for b, h in heads.items() if related[b] is not None]

        def compute(missing: Sequence[str]) -> list[Any]:
            merged = self.merge_many([(base, h) for h in missing])
            base_tree = self.git.tree_of(base) if missing else ""
            # A branch not behind the base has no patch there to match: no `git cherry` for it
            # (counts already known from `ahead_behind`; none are computed for this).
            counts = self.cache.lookup("counts", (f"{base}:{h}" for h in missing))

            def integrated(item: tuple[str, MergeTreeResult]) -> bool:
                head, r = item
                if r.clean and r.tree == base_tree:
                    return True
                if counts.get(f"{base}:{head}", [0, 1])[1] == 0:
                    return False
                return self.git.all_patches_in(base, head)

            flags = self._map(integrated, list(zip(missing, merged, strict=True)))
            return [
                {"clean": r.clean, "files": list(r.files), "integrated": flag}
                for r, flag in zip(merged, flags, strict=True)
            ]

        entries = self.cache.get_or_compute_many("base", base, todo, compute)
        merges = dict(zip(todo, entries, strict=True))
        results: dict[str, BaseResult] = {}
        for branch, head in heads.items():
            m = merges.get(head)
            if m is None:
                results[branch] = BaseResult(False, False, (), False)
            else:
                results[branch] = BaseResult(True, m["clean"], tuple(m["files"]), m["integrated"])
        return results

    def matrix(self, base: str, heads: Mapping[str, str]) -> ConflictMatrix:
        """Which pairs of these branches (all related to the base) conflict with each other."""
        changed = self.changed_paths(base, heads)
        names = list(heads)
        todo = [
            (names[i], names[j])
            for i, j in overlapping_pairs([changed[n] for n in names])
            if heads[names[i]] != heads[names[j]]
        ]
        disjoint = len(names) * (len(names) - 1) // 2 - len(todo)
        keys = [pair_key(heads[a], heads[b]) for a, b in todo]
        hits = self.cache.lookup("pairs", keys)
        missing = [
            (heads[a], heads[b]) for (a, b), k in zip(todo, keys, strict=True) if k not in hits
        ]
        missing = list(dict.fromkeys(missing))
        for (x, y), r in zip(missing, self.merge_many(missing), strict=True):
            hits[pair_key(x, y)] = {"clean": r.clean, "files": list(r.files)}
        self.cache.store("pairs", {k: hits[k] for k in (pair_key(x, y) for x, y in missing)})
        conflicts = tuple(
            PairConflict(a, b, tuple(hits[k]["files"]))
            for (a, b), k in zip(todo, keys, strict=True)
            if not hits[k]["clean"]
        )
        return ConflictMatrix(
            tuple(names),
            conflicts,
            pairs=len(names) * (len(names) - 1) // 2,
            disjoint=disjoint,
            cached=len(todo) - len(missing),
            merged=len(missing),
            method="stdin" if self.use_stdin else "per-pair",
        )

    def merge_order(
        self, base: str, order: Sequence[str], heads: Mapping[str, str], matrix: ConflictMatrix
    ) -> MergeOrder:
        """Merge `order` one after another into the base; a branch that conflicts with the
        running result is left out, and the branches that landed before it are named."""
        key = ",".join([base, *(heads[b] for b in order)])
        cached = self.cache.lookup("orders", [key]).get(key)
        if cached is None:
            at = {b: i for i, b in enumerate(order)}
            partners = [{at[p] for p in matrix.partners(b) if p in at} for b in order]
            cached = self._simulate(base, [heads[b] for b in order], partners)
            self.cache.store("orders", {key: cached})
        return blame_steps(order, cached, matrix)

    def _simulate(self, base: str, shas: Sequence[str], partners: Sequence[set[int]]) -> list[Any]:
        """Each step's [clean, files]. A conflicting step leaves the running result as it was,
        so the steps up to the next clean one all merge into the same commit: they go
        together through `merge_many`, as far as the matrix predicts conflicts."""
        running = base
        outcome: list[Any] = []
        landed: set[int] = set()
        while len(outcome) < len(shas):
            todo = speculation_window(len(outcome), partners, landed, self.chunk)
            results = self.merge_many([(running, shas[i]) for i in todo])
            for i, result in zip(todo, results, strict=True):
                outcome.append([result.clean, list(result.files)])
                if result.clean:
                    # merge-tree needs commits: the running result gets a (quarantined) commit.
                    running = self.git.commit_tree(result.tree, [running, shas[i]], self.env)
                    landed.add(i)
                    break  # the rest of the window merged into the old result: done again
        return outcome
