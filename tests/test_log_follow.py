"""The log pane's rule (which task's output it shows), exhaustively on small cases."""

from __future__ import annotations

import itertools

from wtpar.model import TaskKey
from wtpar.tui.log_follow import LogChoice, choose_log_task

A, B, C = (TaskKey("feature", t) for t in ("build", "test", "lint"))
KEYS = [A, B, C]


def test_no_task_yet_shows_nothing() -> None:
    assert choose_log_task([], [], None, False) == LogChoice(None, False)


def test_follows_the_running_task_else_the_last_one() -> None:
    assert choose_log_task(KEYS, [B], None, False).key == B
    assert choose_log_task(KEYS, [], None, False).key == C


def test_keeps_a_running_task_while_another_starts() -> None:
    assert choose_log_task(KEYS, [A, B], B, False).key == B


def test_leaves_a_finished_task_for_a_running_one_unless_pinned() -> None:
    assert choose_log_task(KEYS, [C], A, False).key == C
    assert choose_log_task(KEYS, [C], A, True) == LogChoice(A, True)


def test_brackets_step_through_tasks_and_pin() -> None:
    assert choose_log_task(KEYS, [], A, False, step=1) == LogChoice(B, True)
    assert choose_log_task(KEYS, [], C, False, step=1) == LogChoice(A, True)
    assert choose_log_task(KEYS, [], A, False, step=-1) == LogChoice(C, True)
    assert choose_log_task(KEYS, [], None, False, step=1) == LogChoice(A, True)


def test_a_task_of_another_branch_is_never_kept() -> None:
    other = TaskKey("other", "build")
    assert choose_log_task(KEYS, [], other, True).key == C


def test_a_task_that_began_and_ended_between_two_looks_is_followed() -> None:
    # B was queued, ran and ended since the last look: nothing of the branch runs now.
    assert choose_log_task(KEYS, [], A, False, began=[B]).key == B
    assert choose_log_task(KEYS, [], A, False, began=[C, B]).key == B  # the latest
    assert choose_log_task(KEYS, [C], A, False, began=[B]).key == C  # one still running first
    assert choose_log_task(KEYS, [A], A, False, began=[B]).key == A  # the running one stays
    assert choose_log_task(KEYS, [], A, True, began=[B]) == LogChoice(A, True)  # pinned
    assert choose_log_task(KEYS, [], A, False, began=[A]).key == A  # a re-run of the one shown
    other = TaskKey("other", "build")
    assert choose_log_task(KEYS, [], A, False, began=[other]).key == A


def test_every_case_picks_one_of_the_branch_tasks() -> None:
    subsets = [list(s) for r in range(4) for s in itertools.combinations(KEYS, r)]
    orders = [list(s) for r in range(3) for s in itertools.permutations(KEYS, r)]
    for running, began, current, pinned, step in itertools.product(
        subsets, orders, [None, A, B, C], [False, True], [-1, 0, 1]
    ):
        choice = choose_log_task(KEYS, running, current, pinned, step, began)
        assert choice.key in KEYS
        if step:
            assert choice.pinned
        elif running and not pinned:
            assert choice.key in running
        elif began and not pinned:
            assert choice.key in began
