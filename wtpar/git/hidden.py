"""Hidden changes: files marked assume-unchanged or skip-worktree whose content differs from
the index. `git status` does not show them and `git add -A` does not read them, yet they are
what the worktree holds: removing the worktree would lose them, a run tests them, and a
result or a Dask snapshot of "the worktree's state" must include them."""

from __future__ import annotations

import os
from collections.abc import Mapping

from wtpar import procs


def hidden_changes(path: str) -> list[tuple[str, str]]:
    """(flag, path) of files marked assume-unchanged or skip-worktree whose content differs
    from the index. A skip-worktree file that is absent is a sparse checkout, not a change."""
    out = procs.run(["git", "ls-files", "-v", "-z"], cwd=path).stdout
    flagged: dict[str, str] = {}
    for item in out.split("\0"):
        if len(item) < 3:
            continue
        tag, rel = item[0], item[2:]
        if tag == "S":
            flagged[rel] = "skip-worktree"
        elif tag.islower():
            flagged[rel] = "assume-unchanged"
    present = [
        rel for rel in flagged if "\n" not in rel and os.path.isfile(os.path.join(path, rel))
    ]
    if not present:
        return []
    staged = procs.run(["git", "ls-files", "-s", "-z", "--", *present], cwd=path).stdout
    index: dict[str, str] = {}
    for item in staged.split("\0"):
        meta, _, rel = item.partition("\t")
        fields = meta.split()
        if rel and len(fields) == 3 and fields[0] in ("100644", "100755"):
            index[rel] = fields[1]
    names = [rel for rel in present if rel in index]
    hashed = procs.run(
        ["git", "hash-object", "--stdin-paths"],
        cwd=path,
        input="".join(f"{r}\n" for r in names),
    ).stdout.split()
    return [
        (flagged[rel], rel) for rel, sha in zip(names, hashed, strict=True) if sha != index[rel]
    ]


def unhide(path: str, env: Mapping[str, str]) -> None:
    """In the scratch index `env` names (GIT_INDEX_FILE), drop the entries of the worktree's
    hidden changes, so that a following `git add -A` reads those files from disk again."""
    hidden = [rel for _, rel in hidden_changes(path)]
    if hidden:
        procs.run(["git", "update-index", "--force-remove", "--", *hidden], cwd=path, env=env)
