"""The domain as plain frozen data, shared by the core, the CLI and the dashboard: one
module per capability (worktrees, runs, readiness), every name importable from here."""

from __future__ import annotations

from wtpar.model.readiness import (
    Readiness,
    Reason,
    Verdict,
)
from wtpar.model.runs import (
    RunEvent,
    RunFinished,
    RunReport,
    RunStatus,
    SkipKind,
    TaskFinished,
    TaskKey,
    TaskOutput,
    TaskQueued,
    TaskRun,
    TaskSpec,
    TaskStarted,
    When,
)
from wtpar.model.worktrees import (
    BranchStatus,
    BranchTracking,
    IgnoredFiles,
    PruneResult,
    RemoveResult,
    SpawnOutcome,
    SpawnResult,
    StatusCounts,
    Worktree,
    WorktreeRecord,
)

__all__ = [
    "BranchStatus",
    "BranchTracking",
    "IgnoredFiles",
    "PruneResult",
    "Readiness",
    "Reason",
    "RemoveResult",
    "RunEvent",
    "RunFinished",
    "RunReport",
    "RunStatus",
    "SkipKind",
    "SpawnOutcome",
    "SpawnResult",
    "StatusCounts",
    "TaskFinished",
    "TaskKey",
    "TaskOutput",
    "TaskQueued",
    "TaskRun",
    "TaskSpec",
    "TaskStarted",
    "Verdict",
    "When",
    "Worktree",
    "WorktreeRecord",
]
