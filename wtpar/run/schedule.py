"""Which ready task starts first when slots are few: the one whose remaining critical path
is longest, so a run ends as close as it can to max(longest chain, total work / slots).

Pure: the graph and the expected durations come in, ranks and estimates come out.
A task's own `priority` comes before everything (higher first); then the critical path
(its expected duration plus the longest chain of its dependents); then the listed order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NamedTuple, TypeVar

K = TypeVar("K")
H = TypeVar("H", bound=Hashable)


def post_order(roots: Iterable[H], edges: Callable[[H], Iterable[H]]) -> list[H]:
    """Every node reached from ROOTS, each after the nodes its EDGES lead to, in the order
    given (depth first). Iterative, so a chain of thousands cannot exhaust Python's
    recursion limit; an edge back to a node on the current path is not followed again."""
    seen: set[H] = set()
    ordered: list[H] = []
    for root in roots:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(edges(root)))]
        while stack:
            node, pending = stack[-1]
            nxt = next((n for n in pending if n not in seen), None)
            if nxt is None:
                stack.pop()
                ordered.append(node)
                continue
            seen.add(nxt)
            stack.append((nxt, iter(edges(nxt))))
    return ordered


@dataclass(frozen=True)
class Node(Generic[K]):
    """One task instance as the scheduler sees it."""

    key: K
    seconds: float  # expected duration
    after: tuple[K, ...] = ()  # what must finish before it starts (dependencies, trigger)
    priority: int = 0


class Rank(NamedTuple):
    """Smaller starts first (a tuple: the start gate's heap compares thousands of them in C)."""

    priority: int  # the negated `priority`
    path: float  # the negated critical path
    listed: int


def critical_paths(nodes: Sequence[Node[K]]) -> dict[K, float]:
    """Each node's expected duration plus the longest chain of nodes that wait for it."""
    index = {n.key: n for n in nodes}
    waiting: dict[K, list[K]] = {n.key: [] for n in nodes}
    for n in nodes:
        for before in n.after:
            if before in waiting:
                waiting[before].append(n.key)
    paths: dict[K, float] = {}
    for key in post_order(index, lambda k: waiting[k]):
        tail = max((paths[w] for w in waiting[key]), default=0.0)
        paths[key] = max(index[key].seconds, 0.0) + tail
    return paths


def ranks(nodes: Sequence[Node[K]]) -> dict[K, Rank]:
    """The start order of each node among those ready at the same time."""
    paths = critical_paths(nodes)
    return {
        n.key: Rank(-n.priority, -round(paths[n.key], 6), listed) for listed, n in enumerate(nodes)
    }


def remaining_time(nodes: Sequence[Node[K]], done: Mapping[K, float], slots: int) -> float:
    """An estimate of the time left: the larger of the longest remaining chain and the
    remaining work spread over the slots. `done` maps a node to the fraction of it done
    (1.0 when finished; a running node counts by its elapsed share)."""
    left = [
        Node(n.key, n.seconds * (1.0 - min(done.get(n.key, 0.0), 1.0)), n.after, n.priority)
        for n in nodes
    ]
    if not left:
        return 0.0
    chain = max(critical_paths(left).values(), default=0.0)
    work = sum(n.seconds for n in left)
    return max(chain, work / max(slots, 1))
