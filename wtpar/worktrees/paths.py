"""Where a branch's worktree goes: the configured path template, expanded; where the warm
pool keeps its spares and `land` its temporary worktrees; which file holds the leases."""

from __future__ import annotations

import os

from wtpar.config import Config
from wtpar.git import RepoPaths
from wtpar.names import safe_component

SPARES_FOLDER = ".wtpar-spares"  # beside the worktrees, so handing one out is a rename
LEASES_FILE = "leases.json"  # in wtpar's folder; none until someone claims a worktree
LAND_FOLDER = "land"  # in wtpar's folder: `land`'s temporary worktrees, one folder per land


def is_spare_path(path: str) -> bool:
    """True for a worktree that is a spare of the warm pool (not yet handed out)."""
    return os.path.basename(os.path.dirname(os.path.normpath(path))) == SPARES_FOLDER


def is_land_path(paths: RepoPaths, path: str) -> bool:
    """True for one of `land`'s temporary worktrees (a killed land's too, until it is swept:
    its commits may be gone, and nothing should run there)."""
    land = os.path.join(paths.wtpar_dir, LAND_FOLDER) + os.sep
    return os.path.normpath(path).startswith(land)


def worktree_path(paths: RepoPaths, config: Config, branch: str) -> str:
    """Where `branch`'s worktree goes, from the configured template."""
    root = paths.root
    text = config.worktrees.path_template.format(
        repo=os.path.basename(root),
        repo_parent=os.path.dirname(root),
        repo_root=root,
        branch=safe_component(branch),
    )
    text = os.path.expanduser(text)
    return os.path.normpath(text if os.path.isabs(text) else os.path.join(root, text))
