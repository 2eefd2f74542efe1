"""The readiness rules, pure: each rule alone, then every combination of facts and policy."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wtpar.check.model import (
    BaseMerge,
    BranchFacts,
    CheckFact,
    CheckState,
    Policy,
    UpstreamFacts,
    UpstreamState,
)
from wtpar.check.order import MergeStep
from wtpar.check.reasons import order_step_reason
from wtpar.check.report import checks_summary, dirty_summary, pushed_summary
from wtpar.check.rules import evaluate
from wtpar.model import Readiness, StatusCounts, Verdict

IN_SYNC = UpstreamFacts("origin/feature")
PASSED = (CheckFact("test", CheckState.PASSED),)


def ready_facts(**changes: object) -> BranchFacts:
    """A branch with one commit, clean, pushed, its check passed: ready."""
    base: dict[str, object] = {
        "branch": "feature",
        "base": "main",
        "ahead": 1,
        "dirty": StatusCounts(0, 0, 0),
        "upstream": IN_SYNC,
        "checks": PASSED,
    }
    base.update(changes)
    return BranchFacts(**base)  # type: ignore[arg-type]


def codes(r: Readiness) -> dict[str, bool]:
    return {reason.code: reason.blocking for reason in r.reasons}


def test_the_baseline_is_ready_with_no_reason() -> None:
    r = evaluate(ready_facts())
    assert r.verdict is Verdict.READY and r.ready
    assert r.reasons == ()


# -- each rule alone ------------------------------------------------------------------------


def test_behind_but_clean_is_a_warning_naming_the_count() -> None:
    r = evaluate(ready_facts(behind=3))
    assert r.ready
    assert codes(r) == {"behind": False}
    assert r.reasons[0].message == "3 commits behind main (merges cleanly)"


def test_behind_blocks_when_up_to_date_is_required() -> None:
    r = evaluate(ready_facts(behind=1), Policy(require_up_to_date=True))
    assert not r.ready
    assert r.blocking[0].message == "1 commit behind main (merges cleanly)"


def test_conflict_with_base_blocks_and_lists_files() -> None:
    r = evaluate(ready_facts(merge=BaseMerge(False, ("a.py", "b/c.txt"))))
    assert r.verdict is Verdict.BLOCKED
    assert r.blocking[0].code == "conflicts-with-base"
    assert r.blocking[0].message == "would conflict with main in 2 files: a.py, b/c.txt"


def test_conflict_without_files_still_blocks() -> None:
    r = evaluate(ready_facts(merge=BaseMerge(False, ())))
    assert codes(r) == {"conflicts-with-base": True}
    assert "without a file" in r.reasons[0].message


def test_a_merge_git_could_not_simulate_blocks_with_its_message() -> None:
    r = evaluate(ready_facts(merge=BaseMerge(False, error="no common history with main")))
    assert codes(r) == {"merge-unknown": True}
    assert r.reasons[0].message == "no common history with main"


@pytest.mark.parametrize(
    ("counts", "text"),
    [
        (StatusCounts(0, 2, 0), "2 modified"),
        (StatusCounts(1, 0, 3), "1 staged, 3 untracked"),
        (StatusCounts(0, 0, 0, 1), "1 conflicted"),
    ],
)
def test_uncommitted_or_untracked_changes_block(counts: StatusCounts, text: str) -> None:
    r = evaluate(ready_facts(dirty=counts))
    assert codes(r) == {"dirty": True}
    assert r.reasons[0].message == f"uncommitted changes: {text}"


def test_a_branch_without_worktree_cannot_be_dirty() -> None:
    assert evaluate(ready_facts(dirty=None)).ready


@pytest.mark.parametrize(
    ("upstream", "expected"),
    [
        (UpstreamFacts(None), {"no-upstream"}),
        (UpstreamFacts("origin/feature", gone=True), {"upstream-gone"}),
        (UpstreamFacts("origin/feature", ahead=2), {"unpushed"}),
        (UpstreamFacts("origin/feature", behind=1), {"upstream-ahead"}),
        (UpstreamFacts("origin/feature", ahead=1, behind=1), {"unpushed", "upstream-ahead"}),
    ],
)
@pytest.mark.parametrize("required", [False, True])
def test_upstream_problems_warn_unless_required(
    upstream: UpstreamFacts, expected: set[str], required: bool
) -> None:
    r = evaluate(ready_facts(upstream=upstream), Policy(require_upstream=required))
    assert codes(r) == dict.fromkeys(expected, required)
    assert r.ready is not required


def test_unpushed_message_names_the_upstream_and_count() -> None:
    r = evaluate(ready_facts(upstream=UpstreamFacts("origin/feature", ahead=2)))
    assert r.reasons[0].message == "2 commits not pushed to origin/feature"


@pytest.mark.parametrize(
    ("state", "code"),
    [
        (CheckState.FAILED, "check-failed"),
        (CheckState.MISSING, "check-missing"),
        (CheckState.DIRTY, "check-dirty"),
        (CheckState.UNKNOWN, "check-unknown"),
    ],
)
def test_a_check_not_passed_at_head_blocks(state: CheckState, code: str) -> None:
    checks = (CheckFact("test", CheckState.PASSED), CheckFact("lint", state, "exit 1"))
    r = evaluate(ready_facts(checks=checks))
    assert codes(r) == {code: True}
    assert "'lint'" in r.reasons[0].message


def test_every_failing_check_is_its_own_reason() -> None:
    checks = (CheckFact("test", CheckState.FAILED), CheckFact("lint", CheckState.MISSING))
    r = evaluate(ready_facts(checks=checks))
    assert [x.code for x in r.reasons] == ["check-failed", "check-missing"]


def test_operation_in_progress_blocks() -> None:
    r = evaluate(ready_facts(operation="rebase"))
    assert codes(r) == {"operation": True}
    assert "rebase is in progress" in r.reasons[0].message


@pytest.mark.parametrize(("integrated", "ahead"), [(True, 2), (False, 0), (True, 0)])
def test_integrated_is_reported_and_skips_merge_rules(integrated: bool, ahead: int) -> None:
    r = evaluate(
        ready_facts(
            integrated=integrated,
            ahead=ahead,
            behind=5,
            merge=BaseMerge(False, ("x",)),
            upstream=UpstreamFacts(None),
            checks=(CheckFact("test", CheckState.MISSING),),
        ),
        Policy(require_upstream=True, require_up_to_date=True),
    )
    assert r.verdict is Verdict.MERGED and not r.blocked and not r.ready
    assert codes(r) == {"integrated": False}
    assert "prune" in r.reasons[0].message


def test_integrated_but_dirty_is_blocked() -> None:
    r = evaluate(ready_facts(integrated=True, dirty=StatusCounts(0, 1, 0)))
    assert codes(r) == {"dirty": True, "integrated": False}
    assert not r.ready


# -- every combination ----------------------------------------------------------------------

OPERATIONS: list[tuple[str | None, dict[str, bool]]] = [(None, {}), ("merge", {"operation": True})]
DIRTY: list[tuple[StatusCounts | None, dict[str, bool]]] = [
    (None, {}),
    (StatusCounts(0, 0, 0), {}),
    (StatusCounts(0, 1, 0), {"dirty": True}),
    (StatusCounts(0, 0, 2), {"dirty": True}),
]
INTEGRATION: list[tuple[bool, int, bool]] = [(False, 2, False), (True, 2, True), (False, 0, True)]
MERGES: list[tuple[BaseMerge, dict[str, bool]]] = [
    (BaseMerge(True), {}),
    (BaseMerge(False, ("f",)), {"conflicts-with-base": True}),
    (BaseMerge(False), {"conflicts-with-base": True}),
    (BaseMerge(False, error="no common history"), {"merge-unknown": True}),
]
BEHIND = [0, 4]
UPSTREAMS: list[tuple[UpstreamFacts, set[str]]] = [
    (UpstreamFacts(None), {"no-upstream"}),
    (IN_SYNC, set()),
    (UpstreamFacts("o/f", ahead=1), {"unpushed"}),
    (UpstreamFacts("o/f", behind=2), {"upstream-ahead"}),
    (UpstreamFacts("o/f", ahead=1, behind=2), {"unpushed", "upstream-ahead"}),
    (UpstreamFacts("o/f", gone=True), {"upstream-gone"}),
]
CHECKS: list[tuple[tuple[CheckFact, ...], dict[str, bool]]] = [
    ((), {}),
    (PASSED, {}),
    ((CheckFact("t", CheckState.FAILED),), {"check-failed": True}),
    ((CheckFact("t", CheckState.MISSING),), {"check-missing": True}),
    ((CheckFact("t", CheckState.DIRTY),), {"check-dirty": True}),
    ((CheckFact("t", CheckState.UNKNOWN),), {"check-unknown": True}),
    (
        (CheckFact("t", CheckState.PASSED), CheckFact("l", CheckState.FAILED)),
        {"check-failed": True},
    ),
]
POLICIES = [Policy(u, d) for u in (False, True) for d in (False, True)]


def test_every_combination_of_facts_and_policy() -> None:
    """The reasons of any combination are the union of each fact's own reasons (integrated
    branches skip the merge, upstream and check rules); blocked iff one reason blocks."""
    seen = 0
    for (op, op_c), (dirty, dirty_c), (integ, ahead, is_int), (merge, merge_c), behind, (
        up,
        up_c,
    ), (checks, checks_c), policy in itertools.product(
        OPERATIONS, DIRTY, INTEGRATION, MERGES, BEHIND, UPSTREAMS, CHECKS, POLICIES
    ):
        facts = BranchFacts("b", "main", ahead, behind, merge, dirty, up, checks, integ, op)
        expected = {**op_c, **dirty_c}
        if is_int:
            expected["integrated"] = False
        else:
            expected.update(merge_c)
            if behind:
                expected["behind"] = policy.require_up_to_date
            expected.update(dict.fromkeys(up_c, policy.require_upstream))
            expected.update(checks_c)
        r = evaluate(facts, policy)
        assert codes(r) == expected, facts
        assert len(r.reasons) == len(expected), facts
        assert r.blocked is any(expected.values()), facts
        if not r.blocked:
            assert r.verdict is (Verdict.MERGED if is_int else Verdict.READY), facts
        assert r.branch == "b"
        seen += 1
    assert seen == 2 * 4 * 3 * 4 * 2 * 6 * 7 * 4


counts_st = st.builds(
    StatusCounts,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 1),
)
facts_st = st.builds(
    BranchFacts,
    branch=st.text("abc-/", min_size=1, max_size=8),
    base=st.sampled_from(["main", "origin/main"]),
    ahead=st.integers(0, 5),
    behind=st.integers(0, 5),
    merge=st.builds(
        BaseMerge,
        st.booleans(),
        st.lists(st.text("xyz./", min_size=1, max_size=5), max_size=3).map(tuple),
        st.none() | st.just("no common history"),
    ),
    dirty=st.none() | counts_st,
    upstream=st.builds(
        UpstreamFacts,
        st.none() | st.just("origin/b"),
        st.integers(0, 3),
        st.integers(0, 3),
        st.booleans(),
    ),
    checks=st.lists(
        st.builds(CheckFact, st.sampled_from(["test", "lint"]), st.sampled_from(CheckState)),
        max_size=3,
    ).map(tuple),
    integrated=st.booleans(),
    operation=st.none() | st.sampled_from(["merge", "rebase"]),
)


@given(facts_st, st.booleans(), st.booleans())
def test_verdict_properties(facts: BranchFacts, up: bool, to_date: bool) -> None:
    """Blocked iff a reason blocks; a stricter policy never turns blocked into ready; every
    reason has a message; dirty and operation always block."""
    lax = evaluate(facts, Policy())
    strict = evaluate(facts, Policy(up, to_date))
    for r in (lax, strict):
        assert r.blocked is any(x.blocking for x in r.reasons)
        assert all(x.message for x in r.reasons)
    assert not (lax.blocked and not strict.blocked)
    assert {x.code for x in strict.reasons} == {x.code for x in lax.reasons}
    if facts.operation or (facts.dirty is not None and facts.dirty.dirty):
        assert not lax.ready


# -- summaries ------------------------------------------------------------------------------


def test_table_summaries() -> None:
    assert dirty_summary(None) == "-"
    assert dirty_summary(StatusCounts(0, 0, 0)) == "clean"
    assert dirty_summary(StatusCounts(0, 2, 1)) == "2 modified, 1 untracked"
    assert pushed_summary(UpstreamFacts(None)) == "no upstream"
    assert pushed_summary(IN_SYNC) == "yes"
    assert pushed_summary(UpstreamFacts("o/x", ahead=2, behind=1)) == "2 unpushed, 1 to pull"
    assert pushed_summary(UpstreamFacts("o/x", gone=True)) == "upstream gone"
    assert checks_summary(()) == "-"
    assert checks_summary(PASSED * 2) == "2/2 passed"
    fail = (CheckFact("test", CheckState.FAILED), CheckFact("lint", CheckState.MISSING))
    assert checks_summary(fail) == "test failed, lint missing"


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        (UpstreamFacts(None, ahead=3), UpstreamState.NONE),
        (UpstreamFacts("o/x", ahead=1, gone=True), UpstreamState.GONE),
        (UpstreamFacts("o/x"), UpstreamState.IN_SYNC),
        (UpstreamFacts("o/x", ahead=1), UpstreamState.AHEAD),
        (UpstreamFacts("o/x", behind=1), UpstreamState.BEHIND),
        (UpstreamFacts("o/x", ahead=1, behind=1), UpstreamState.DIVERGED),
    ],
)
def test_upstream_state(facts: UpstreamFacts, state: UpstreamState) -> None:
    assert facts.state is state


def test_an_order_step_blamed_on_several_branches_says_land() -> None:
    one = order_step_reason(MergeStep("c", False, ("f",), ("a",)))
    two = order_step_reason(MergeStep("c", False, ("f",), ("a", "b")))
    assert one.message == "conflicts after a lands (f): rebase it then"
    assert two.message == "conflicts after a, b land (f): rebase it then"
