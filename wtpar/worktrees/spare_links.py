"""Moving a spare's folder breaks its submodules' links: each submodule's `.git` file and
its `core.worktree` are paths relative to where the folder was, and `git worktree repair`
fixes only the worktree's own. This rewrites them for the new place."""

from __future__ import annotations

import os

from wtpar.git import Git


def repair_submodule_links(git: Git, admin_dir: str, old_root: str, new_root: str) -> None:
    """After a worktree moved from OLD_ROOT to NEW_ROOT, point every submodule (nested ones
    too) whose git dir lives under ADMIN_DIR/modules at its new working tree, and back."""
    modules = os.path.join(admin_dir, "modules")
    for folder, dirs, files in os.walk(modules):
        if "config" not in files or "HEAD" not in files:
            continue
        dirs[:] = [d for d in dirs if d == "modules"]  # only nested submodules below
        config = os.path.join(folder, "config")
        found = git.run(
            "config", "--file", config, "--get", "core.worktree", check=False
        ).stdout.strip()
        if not found:
            continue
        old_tree = os.path.normpath(os.path.join(folder, found))
        rel = os.path.relpath(old_tree, old_root)
        if rel.startswith(".."):
            continue  # not inside the moved folder
        new_tree = os.path.join(new_root, rel)
        git.run("config", "--file", config, "core.worktree", os.path.relpath(new_tree, folder))
        dot_git = os.path.join(new_tree, ".git")
        if os.path.isfile(dot_git):
            with open(dot_git, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(f"gitdir: {os.path.relpath(folder, new_tree)}\n")
