"""The merge order of `wtpar check`: which ready branches go first, how far one batch of the
sequential simulation may look ahead, and whom a conflicting step blames. Pure: the merges
themselves are `merging.MergeSimulator`'s."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wtpar.check.merging import ConflictMatrix


@dataclass(frozen=True)
class MergeStep:
    """One branch of the suggested order: lands cleanly, or conflicts once `after` landed.

    `combined` marks a conflict that no single earlier branch causes on its own.
    """

    branch: str
    clean: bool
    files: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    combined: bool = False


@dataclass(frozen=True)
class MergeOrder:
    """The ready branches merged one after another into the base."""

    steps: tuple[MergeStep, ...] = ()

    @property
    def conflicting(self) -> tuple[MergeStep, ...]:
        """Steps that conflict once earlier branches have landed."""
        return tuple(s for s in self.steps if not s.clean)


def suggested_order(branches: Sequence[str], matrix: ConflictMatrix) -> list[str]:
    """Branches with fewer conflicts with the others first, so most land cleanly."""
    chosen = set(branches)
    return sorted(branches, key=lambda b: (sum(p in chosen for p in matrix.partners(b)), b))


def speculation_window(
    start: int, partners: Sequence[set[int]], landed: set[int], most: int
) -> list[int]:
    """The steps from START to merge together into the current running result: while a step
    conflicts on its own with a branch already landed (PARTNERS[i]: the steps it conflicts
    with in the matrix), it most likely conflicts with the result too and leaves it as it
    was, so the next step merges into the same commit. The window ends with the first step
    predicted to land, and holds at most MOST steps. A wrong guess costs merges, never a
    wrong outcome: the caller keeps the results up to the first step that really lands."""
    end = start
    while end + 1 < len(partners) and end + 1 - start < most and partners[end] & landed:
        end += 1
    return list(range(start, end + 1))


def blame_steps(
    order: Sequence[str], outcomes: Sequence[Any], matrix: ConflictMatrix
) -> MergeOrder:
    """The merge order from each step's (clean, files): a conflicting step names the landed
    branches it conflicts with on its own, or every landed branch when none does alone.

    Only the step's own conflict partners are looked at, so the cost follows the number of
    conflicts, not steps x landed branches.
    """
    steps: list[MergeStep] = []
    landed: dict[str, int] = {}
    for branch, (clean, files) in zip(order, outcomes, strict=True):
        if clean:
            steps.append(MergeStep(branch, True))
            landed[branch] = len(landed)
            continue
        partners = (p for p in matrix.partners(branch) if p in landed)
        blamed = tuple(sorted(partners, key=landed.__getitem__))
        steps.append(MergeStep(branch, False, tuple(files), blamed or tuple(landed), not blamed))
    return MergeOrder(tuple(steps))
