"""Planning many named tasks grows linearly: the planner reads each task's spec a bounded
number of times, however many tasks there are (a count stands for the time)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from wtpar.model import TaskSpec
from wtpar.run.plan import RunRequest, WorktreeInfo, build_plan, select_worktrees


class CountingSpecs(Mapping[str, TaskSpec]):
    """Task specs that count every spec the planner reads (by name or by iterating)."""

    def __init__(self, specs: dict[str, TaskSpec]) -> None:
        self.specs = specs
        self.reads = 0

    def __getitem__(self, name: str) -> TaskSpec:
        self.reads += 1
        return self.specs[name]

    def __iter__(self) -> Iterator[str]:
        for name in self.specs:
            self.reads += 1
            yield name

    def __len__(self) -> int:
        return len(self.specs)


def _specs(n: int) -> CountingSpecs:
    specs = {}
    for i in range(n):
        name = f"t{i:05d}"
        # A chain of dependencies and a cascade every tenth task, so every edge kind is used.
        depends = (f"t{i - 1:05d}",) if i % 5 else ()
        after = f"t{i - 1:05d}" if i % 10 == 9 else None
        specs[name] = TaskSpec(name=name, cmd="true", depends_on=depends, after=after)
    return CountingSpecs(specs)


def test_planning_reads_each_spec_a_bounded_number_of_times() -> None:
    worktrees = [WorktreeInfo("main", "/r", is_main=True), WorktreeInfo("a", "/r.a")]
    reads = {}
    for n in (1000, 2000):
        specs = _specs(n)
        plan = build_plan(specs, RunRequest(task_names=tuple(specs.specs)), worktrees)
        assert len(plan) == n
        positions = {i.key.task: k for k, i in enumerate(plan.instances)}
        assert all(
            positions[d.task] < positions[i.key.task] for i in plan.instances for d in i.deps
        )
        reads[n] = specs.reads
    # Scanning every spec for each name (the cascade look-up) read n*n specs.
    assert reads[2000] <= 30 * 2000
    assert reads[2000] <= 2.2 * reads[1000]


def test_naming_one_task_pulls_in_its_dependencies_and_cascades_only() -> None:
    specs = _specs(30)
    plan = build_plan(specs, RunRequest(task_names=("t00018",)), [WorktreeInfo("a", "/a")])
    assert sorted(i.key.task for i in plan.instances) == [
        "t00015", "t00016", "t00017", "t00018", "t00019",
    ]  # fmt: skip


def test_selecting_named_worktrees_looks_them_up_and_globs_still_match() -> None:
    worktrees = [WorktreeInfo(f"w{i:04d}", f"/w{i}") for i in range(3000)]
    chosen = select_worktrees(worktrees, ["w0002", "w29*", "w0001"])
    assert [wt.branch for wt in chosen][:2] == ["w0001", "w0002"]
    assert len(chosen) == 2 + 100
