"""The start order and the time-left estimate (schedule.py), and the history estimates."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from wtpar.run.history import Attempted, Estimate, Tally, TaskId, estimate
from wtpar.run.schedule import Node, critical_paths, ranks, remaining_time


def order(nodes: list[Node[str]]) -> list[str]:
    found = ranks(nodes)
    return sorted(found, key=lambda k: found[k])


def test_longest_task_first_when_nothing_depends() -> None:
    nodes = [Node(f"short{i}", 0.4) for i in range(10)] + [Node("long", 3.0)]
    assert order(nodes)[0] == "long"
    assert order(nodes)[1:] == [f"short{i}" for i in range(10)]  # ties keep the listed order


def test_a_short_task_with_a_long_chain_behind_it_goes_first() -> None:
    nodes = [Node("big", 5.0), Node("build", 1.0), Node("test", 6.0, ("build",))]
    assert critical_paths(nodes) == {"big": 5.0, "build": 7.0, "test": 6.0}
    assert order(nodes) == ["build", "test", "big"]


def test_the_longest_of_several_chains_counts() -> None:
    nodes = [
        Node("a", 1.0),
        Node("b", 2.0, ("a",)),
        Node("c", 10.0, ("a",)),
        Node("d", 1.0, ("b", "c")),
    ]
    assert critical_paths(nodes) == {"a": 12.0, "b": 3.0, "c": 11.0, "d": 1.0}


def test_priority_overrides_the_critical_path() -> None:
    nodes = [Node("long", 30.0), Node("urgent", 0.1, priority=5), Node("late", 50.0, priority=-1)]
    assert order(nodes) == ["urgent", "long", "late"]


def test_no_history_keeps_the_listed_order() -> None:
    nodes = [Node(name, 1.0) for name in "dcba"]
    assert order(nodes) == list("dcba")


def test_edges_to_nodes_outside_the_plan_are_ignored() -> None:
    assert critical_paths([Node("x", 2.0, ("gone",))]) == {"x": 2.0}


def test_a_long_chain_needs_no_recursion() -> None:
    nodes = [Node(0, 1.0)] + [Node(i, 1.0, (i - 1,)) for i in range(1, 5000)]
    assert critical_paths(nodes)[0] == 5000.0


@st.composite
def dags(draw: st.DrawFn) -> list[Node[int]]:
    size = draw(st.integers(1, 12))
    nodes = []
    for i in range(size):
        before = draw(st.lists(st.integers(0, i - 1), unique=True, max_size=3)) if i else []
        seconds = draw(st.floats(0, 100, allow_nan=False))
        nodes.append(Node(i, seconds, tuple(before), draw(st.integers(-2, 2))))
    return nodes


def brute_force_paths(nodes: list[Node[int]]) -> dict[int, float]:
    """The heaviest path from each node through the nodes that wait for it, by enumeration."""
    waiting = {n.key: [m.key for m in nodes if n.key in m.after] for n in nodes}
    seconds = {n.key: n.seconds for n in nodes}

    def paths(key: int) -> list[list[int]]:
        tails = [p for w in waiting[key] for p in paths(w)] or [[]]
        return [[key, *tail] for tail in tails]

    return {k: max(sum(seconds[x] for x in p) for p in paths(k)) for k in seconds}


@given(dags())
def test_critical_paths_match_brute_force(nodes: list[Node[int]]) -> None:
    found = critical_paths(nodes)
    expected = brute_force_paths(nodes)
    assert found.keys() == expected.keys()
    for key in found:
        assert abs(found[key] - expected[key]) < 1e-6


@given(dags())
def test_ranks_sort_by_priority_then_path_then_listing(nodes: list[Node[int]]) -> None:
    found = ranks(nodes)
    paths = critical_paths(nodes)
    for a, b in itertools.combinations(nodes, 2):  # a is listed before b
        if a.priority != b.priority:
            assert (found[a.key] < found[b.key]) == (a.priority > b.priority)
        elif round(paths[a.key], 6) != round(paths[b.key], 6):  # ranks round to a microsecond
            assert (found[a.key] < found[b.key]) == (paths[a.key] > paths[b.key])
        else:
            assert found[a.key] < found[b.key]


def test_time_left_is_the_chain_or_the_work_over_the_slots() -> None:
    nodes = [Node("a", 4.0), Node("b", 4.0), Node("c", 4.0), Node("d", 4.0)]
    assert remaining_time(nodes, {}, 2) == 8.0
    assert remaining_time(nodes, {}, 8) == 4.0
    assert remaining_time(nodes, {"a": 1.0, "b": 1.0, "c": 0.5}, 2) == 4.0  # c 2s + d 4s
    assert remaining_time(nodes, dict.fromkeys("abcd", 1.0), 2) == 0.0
    chain = [Node("x", 1.0), Node("y", 5.0, ("x",))]
    assert remaining_time(chain, {}, 4) == 6.0
    assert remaining_time(chain, {"x": 3.0}, 4) == 5.0  # overran: counts as done


def attempt(task: str, branch: str, seconds: float, cmd: str = "c") -> Attempted:
    return Attempted(task, branch, cmd, seconds, 0, 0.0, seconds / 2, 1000)


def tally(attempts: list[Attempted]) -> Tally:
    found = Tally()
    for a in attempts:
        found.add(a.duration, a.cpu_seconds, a.peak_rss)
    return found


def test_estimates_fall_back_from_the_branch_to_other_branches_to_all() -> None:
    known = {
        TaskId("test", "a", "c"): [attempt("test", "a", 2.0), attempt("test", "a", 4.0)],
        TaskId("test", "b", "c"): [attempt("test", "b", 10.0)],
        TaskId("lint", "a", "old"): [attempt("lint", "a", 1.0, "old")],
    }
    wanted = [
        TaskId("test", "a", "c"),
        TaskId("test", "new", "c"),
        TaskId("lint", "new", "changed"),
        TaskId("docs", "a", "c"),
    ]
    found = estimate(wanted, {tid: tally(attempts) for tid, attempts in known.items()})
    assert found[wanted[0]] == Estimate(3.0, "this branch", 0.5, 1000)
    assert found[wanted[1]].seconds == (2.0 + 4.0 + 10.0) / 3
    assert found[wanted[1]].source == "other branches"
    assert found[wanted[2]].seconds == 1.0  # the task under another command
    assert found[wanted[3]].source == "all tasks"
    assert found[wanted[3]].seconds == (3.0 + 16.0 / 3 + 1.0) / 3


def test_no_history_at_all_makes_every_task_equal() -> None:
    found = estimate([TaskId("t", "a", "c"), TaskId("u", "a", "c")], {})
    assert {e.seconds for e in found.values()} == {1.0}
    assert {e.source for e in found.values()} == {"no history"}
