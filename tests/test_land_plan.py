"""The land plan's pure rules, exhaustively: for every small set of branches and every way
they can clash (pairs that break the checks together, branches that conflict textually
with one another), the train lands a passing prefix, blames the right branch, tests the
rest again, and ends with exactly one outcome per branch."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import pytest

from wtpar.land.plan import (
    LandPlan,
    Outcome,
    StepResult,
    StepState,
    Strategy,
    TrainState,
    advance,
    final_outcomes,
    first_round,
    needless,
    start,
)

Judge = Callable[[Sequence[str]], StepState]


def simulate(order: Sequence[str], judge: Judge) -> tuple[TrainState, int]:
    """Run the train with `judge` deciding each combination (landed prefix + new ones)."""
    state = start(order)
    rounds = 0
    while not state.done:
        rounds += 1
        steps = []
        combined = list(state.landed)
        for branch in state.pending:
            verdict = judge([*combined, branch])
            steps.append(
                StepResult(branch, verdict, None if verdict is StepState.CONFLICT else "c")
            )
            if verdict is not StepState.CONFLICT:
                combined.append(branch)
        state = advance(state, steps)
        assert rounds <= len(order) + 1, "the train must end"
    return state, rounds


def judge_with(bad_pairs: set[frozenset[str]], conflicts: set[frozenset[str]]) -> Judge:
    """A combination conflicts when its last branch conflicts with one before it; it fails
    when it holds a bad pair."""

    def judge(combo: Sequence[str]) -> StepState:
        last = combo[-1]
        if any(frozenset((x, last)) in conflicts for x in combo[:-1]):
            return StepState.CONFLICT
        if any(frozenset(p) in bad_pairs for p in itertools.combinations(combo, 2)):
            return StepState.FAILED
        return StepState.PASSED

    return judge


def all_pair_sets(names: Sequence[str]) -> list[set[frozenset[str]]]:
    pairs = [frozenset(p) for p in itertools.combinations(names, 2)]
    return [
        {p for p, keep in zip(pairs, mask, strict=True) if keep}
        for mask in itertools.product((False, True), repeat=len(pairs))
    ]


CASES = [
    (names, bad, conflicts)
    for n in range(1, 5)
    for names in [tuple("abcd"[:n])]
    for bad in all_pair_sets(names)
    for conflicts in (all_pair_sets(names) if n <= 3 else [set()])
]


@pytest.mark.parametrize("names,bad,conflicts", CASES)
def test_every_clash_pattern_ends_with_a_passing_prefix_and_the_right_culprits(
    names: tuple[str, ...], bad: set[frozenset[str]], conflicts: set[frozenset[str]]
) -> None:
    judge = judge_with(bad, conflicts)
    state, rounds = simulate(names, judge)
    landed = list(state.landed)
    outcome = final_outcomes(names, state, landed=True)
    # One outcome each; landed ones keep their order.
    assert set(outcome) == set(names)
    assert landed == [b for b in names if outcome[b] is Outcome.LANDED]
    # What lands passes together, and no pair in it breaks.
    assert not any(frozenset(p) in bad for p in itertools.combinations(landed, 2))
    # A culprit really breaks the prefix that had landed before it; a conflict really
    # conflicts with a branch landed before it.
    for branch, result in outcome.items():
        before = [b for b in landed if names.index(b) < names.index(branch)]
        if result is Outcome.CULPRIT:
            assert judge([*before, branch]) is StepState.FAILED
        elif result is Outcome.CONFLICT:
            assert judge([*before, branch]) is StepState.CONFLICT
        else:
            assert result is Outcome.LANDED
    culprits = [s.branch for s in state.culprits]
    assert culprits == [b for b in names if outcome[b] is Outcome.CULPRIT]
    # One round, plus one more after each culprit that had branches after it.
    ends_on_culprit = bool(culprits) and culprits[-1] == names[-1]
    assert rounds == len(culprits) + (0 if ends_on_culprit else 1)


def test_a_round_after_a_failure_tests_the_rest_on_the_new_prefix() -> None:
    state = start(["a", "b", "c", "d"])
    state = advance(
        state,
        [
            StepResult("a", StepState.PASSED, "1"),
            StepResult("b", StepState.FAILED, "2", "test", "/log"),
            StepResult("c", StepState.CANCELLED, "3"),
            StepResult("d", StepState.PASSED, "4"),
        ],
    )
    assert state.landed == ("a",) and state.pending == ("c", "d") and not state.done
    assert state.outcome("b") is Outcome.CULPRIT
    assert state.culprits[0].log_path == "/log"


def test_a_cancelled_step_before_any_failure_stops_the_train() -> None:
    state = advance(
        start(["a", "b", "c"]),
        [
            StepResult("a", StepState.PASSED, "1"),
            StepResult("b", StepState.CANCELLED, "2"),
            StepResult("c", StepState.FAILED, "3"),
        ],
    )
    assert state.stopped and state.done
    assert state.landed == ("a",) and state.pending == ("b", "c")
    outcome = final_outcomes(["a", "b", "c"], state, landed=False)
    assert outcome == {"a": Outcome.NOT_LANDED, "b": Outcome.UNTESTED, "c": Outcome.UNTESTED}


def test_a_round_must_test_exactly_the_pending_branches() -> None:
    with pytest.raises(ValueError):
        advance(start(["a", "b"]), [StepResult("b", StepState.PASSED, "1")])


@pytest.mark.parametrize(
    "states,expected",
    [
        ([], []),
        ([None, None], []),
        ([StepState.PASSED, StepState.FAILED, None, StepState.PASSED], [2, 3]),
        ([StepState.FAILED, StepState.FAILED], [1]),
        ([None, StepState.CONFLICT, StepState.FAILED], []),
    ],
)
def test_needless_steps_are_those_after_the_first_failure(
    states: list[StepState | None], expected: list[int]
) -> None:
    assert list(needless(states)) == expected


def test_blocked_and_integrated_branches_have_their_own_outcomes() -> None:
    state = advance(start(["a"]), [StepResult("a", StepState.PASSED, "1")])
    assert final_outcomes(["a", "x", "y"], state, landed=True, blocked=["x"], integrated=["y"]) == {
        "a": Outcome.LANDED,
        "x": Outcome.BLOCKED,
        "y": Outcome.ALREADY_IN,
    }


def test_the_plan_lists_the_first_rounds_combinations() -> None:
    plan = LandPlan("main", "0" * 40, Strategy.MERGE, ("a", "b", "c"))
    assert plan.combinations == (("a",), ("a", "b"), ("a", "b", "c"))
    assert first_round([]) == ()
