"""Every git command line wtpar runs is a method of `Git`, one module per concern (refs,
worktrees, merges, safety, landing, worktree admin files) over the runner in base.py;
repository discovery in repo.py, parsers of `-z` output in parse.py (those of merges and
of the replay log in merge_output.py, imported on first use: PEP 562).

Output is parsed from `-z` porcelain formats; status polling passes `--no-optional-locks`
so that a dashboard or a parallel `wtpar list` never takes a worktree's `index.lock`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from wtpar.errors import CommandError
from wtpar.git.admin_files import AdminFileCommands
from wtpar.git.landing import LandingCommands
from wtpar.git.merges import MergeCommands
from wtpar.git.parse import (
    parse_status_v2,
    parse_worktree_list,
    worktree_git_dir,
)
from wtpar.git.refs import RefCommands
from wtpar.git.repo import RepoPaths, discover, discover_listed, require_version, version
from wtpar.git.safety import SafetyCommands
from wtpar.git.worktrees import WorktreeCommands

if TYPE_CHECKING:
    from wtpar.git.merge_output import MergeTreeResult, ReplayCommit, parse_merge_tree_stdin

_LATER = ("MergeTreeResult", "ReplayCommit", "parse_merge_tree_stdin")


class Git(
    RefCommands,
    WorktreeCommands,
    MergeCommands,
    SafetyCommands,
    LandingCommands,
    AdminFileCommands,
):
    """git commands against one repository."""


__all__ = [
    "CommandError",
    "Git",
    "MergeTreeResult",
    "RepoPaths",
    "ReplayCommit",
    "discover",
    "discover_listed",
    "parse_merge_tree_stdin",
    "parse_status_v2",
    "parse_worktree_list",
    "require_version",
    "version",
    "worktree_git_dir",
]


def __getattr__(name: str) -> Any:
    """The merge parsers' names, from merge_output.py when first asked for (PEP 562)."""
    if name in _LATER:
        return getattr(importlib.import_module("wtpar.git.merge_output"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
