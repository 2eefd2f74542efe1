"""A branch's changes against its base, to read before landing it: the files with their
added and deleted line counts, then the patch (what the dashboard's diff pane shows)."""

from __future__ import annotations

from dataclasses import dataclass

from wtpar.git import Git


@dataclass(frozen=True)
class FileChange:
    """One file a branch changed; None counts for a binary file."""

    path: str
    added: int | None
    deleted: int | None


@dataclass(frozen=True)
class BranchDiff:
    """What BRANCH changed since its merge base with BASE."""

    branch: str
    base: str
    files: tuple[FileChange, ...]
    patch: str

    @property
    def added(self) -> int:
        """Lines added over every text file."""
        return sum(f.added or 0 for f in self.files)

    @property
    def deleted(self) -> int:
        """Lines deleted over every text file."""
        return sum(f.deleted or 0 for f in self.files)


def branch_diff(git: Git, base: str, branch: str) -> BranchDiff:
    """The files and the patch of BRANCH against BASE (three-dot: its own changes only)."""
    files = tuple(FileChange(p, a, d) for a, d, p in git.diff_numstat(base, branch))
    return BranchDiff(branch, base, files, git.diff_patch(base, branch))
