"""wtpar: one git worktree per branch, one process pool for all of them."""

__version__ = "0.1.0"
