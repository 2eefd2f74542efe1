"""The domain as plain frozen data, shared by the core, the CLI and the dashboard: one
module per capability (worktrees and their changes, runs, readiness), every name importable
from here.

A name is imported from its module on first use (PEP 562): `wtpar list` needs the worktree
types only, and creating the run and readiness dataclasses it never uses cost it about
5 ms.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from wtpar.model.changes import (
        IgnoredFiles,
        PruneResult,
        RemoveResult,
        SpawnOutcome,
        SpawnResult,
    )
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
        StatusCounts,
        Worktree,
        WorktreeRecord,
    )

_HOMES = {
    "BranchStatus": "worktrees",
    "BranchTracking": "worktrees",
    "IgnoredFiles": "changes",
    "PruneResult": "changes",
    "Readiness": "readiness",
    "Reason": "readiness",
    "RemoveResult": "changes",
    "RunEvent": "runs",
    "RunFinished": "runs",
    "RunReport": "runs",
    "RunStatus": "runs",
    "SkipKind": "runs",
    "SpawnOutcome": "changes",
    "SpawnResult": "changes",
    "StatusCounts": "worktrees",
    "TaskFinished": "runs",
    "TaskKey": "runs",
    "TaskOutput": "runs",
    "TaskQueued": "runs",
    "TaskRun": "runs",
    "TaskSpec": "runs",
    "TaskStarted": "runs",
    "Verdict": "readiness",
    "When": "runs",
    "Worktree": "worktrees",
    "WorktreeRecord": "worktrees",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wtpar.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"wtpar.model.{home}"), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


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
