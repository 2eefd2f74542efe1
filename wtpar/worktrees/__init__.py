"""The worktree capability: spawn, list, remove and prune one worktree per branch."""

from wtpar.worktrees.manager import WorktreeManager, worktree_name
from wtpar.worktrees.paths import worktree_path

__all__ = ["WorktreeManager", "worktree_name", "worktree_path"]
