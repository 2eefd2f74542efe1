"""The one facade both adapters (the CLI and the dashboard) call: it finds the repository,
reads its configuration once, and hands out the core's operations.

`Services` is assembled from one part per capability over `base.ServicesBase`:
worktree_ops; env_ops, run_ops (runs get the worktrees' environments) and merge_ops
(checks and landing run tasks), each part built on the one it uses. Callers only ever
see `Services`.
"""

from __future__ import annotations

from wtpar.services.base import default_jobs
from wtpar.services.merge_ops import MergeOps
from wtpar.services.worktree_ops import WorktreeOps


class Services(WorktreeOps, MergeOps):
    """Everything wtpar can do on one repository."""


__all__ = ["Services", "default_jobs"]
