"""Copy the configured ignored files (`[worktrees] copy`, plus `.worktreeinclude`) from the
main worktree into other worktrees, at spawn and again with `wtpar sync`.

`.env`-style files copied once go stale; copying them again must not destroy an edit made
in the worktree. So wtpar remembers the digest of what it last copied into each worktree:
a file still equal to it is updated, a file that differs was changed there and is skipped
(unless forced), and every skip is reported.
"""

from __future__ import annotations

import contextlib
import enum
import fcntl
import glob
import hashlib
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from wtpar import procs
from wtpar.names import unique_component
from wtpar.state import atomic_write_json, read_json

if TYPE_CHECKING:
    from wtpar.worktrees.environment import Environments

INCLUDE_FILE = ".worktreeinclude"
_FICLONE = 0x40049409  # ioctl number of FICLONE on Linux


class FileOutcome(enum.Enum):
    """What syncing one file did."""

    COPIED = "copied"  # it was missing in the worktree
    UPDATED = "updated"  # the source changed and the worktree's copy was untouched
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"  # changed in the worktree: kept (use --force to overwrite)
    FORCED = "overwritten"  # changed in the worktree, overwritten because of --force
    FAILED = "failed"


@dataclass(frozen=True)
class FileSync:
    """One file's result."""

    rel: str
    outcome: FileOutcome
    error: str | None = None


@dataclass(frozen=True)
class SyncResult:
    """Every file's result in one worktree."""

    branch: str
    path: str
    files: tuple[FileSync, ...]

    def with_outcome(self, outcome: FileOutcome) -> list[str]:
        """The relative paths that had `outcome`."""
        return [f.rel for f in self.files if f.outcome is outcome]


def has_include_file(root: str) -> bool:
    """True when the repository has a `.worktreeinclude` file."""
    return os.path.isfile(os.path.join(root, INCLUDE_FILE))


def source_files(root: str, copy: Sequence[str]) -> list[str]:
    """Files (relative to `root`) to copy: `copy` globs, and ignored files `.worktreeinclude`
    matches (gitignore syntax, as coding agents use it)."""
    found: dict[str, None] = {}
    for pattern in copy:
        for src in glob.glob(os.path.join(root, pattern), recursive=True, include_hidden=True):
            rel = os.path.relpath(src, root)
            if rel.split(os.sep, 1)[0] == ".git":
                continue
            if os.path.isdir(src):
                for folder, _, names in os.walk(src):
                    for name in names:
                        found[os.path.relpath(os.path.join(folder, name), root)] = None
            elif os.path.isfile(src):
                found[rel] = None
    if has_include_file(root):
        for rel in _included_ignored(root):
            found[rel] = None
    return sorted(found)


def _included_ignored(root: str) -> list[str]:
    listed = procs.run(
        ["git", "ls-files", "-z", "--others", "--ignored", f"--exclude-from={INCLUDE_FILE}"],
        cwd=root,
    ).stdout
    candidates = [p for p in listed.split("\0") if p]
    if not candidates:
        return []
    # Only files git ignores: a tracked or merely untracked file is not ours to copy.
    ignored = procs.run(
        ["git", "check-ignore", "-z", "--stdin"],
        cwd=root,
        input="\0".join(candidates) + "\0",
        ok_codes=(0, 1),
    ).stdout
    return [p for p in ignored.split("\0") if p]


class CopyManifest:
    """What wtpar last copied into each worktree: `<wtpar>/sync/<branch>.json`, rel -> digest."""

    def __init__(self, wtpar_dir: str) -> None:
        self.dir = os.path.join(wtpar_dir, "sync")

    def _path(self, branch: str) -> str:
        return os.path.join(self.dir, f"{unique_component(branch)}.json")

    def read(self, branch: str) -> dict[str, str]:
        """The digests of what was last copied into `branch`'s worktree."""
        data: Any = read_json(self._path(branch), {})
        files = data.get("files", {}) if isinstance(data, dict) else {}
        return {str(k): str(v) for k, v in files.items()} if isinstance(files, dict) else {}

    def write(self, branch: str, files: Mapping[str, str]) -> None:
        """Remember the digests of what is now in the worktree."""
        atomic_write_json(self._path(branch), {"schema": 1, "files": dict(sorted(files.items()))})

    def forget(self, branches: Iterable[str]) -> None:
        """Drop the manifests of removed worktrees."""
        for branch in branches:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(branch))


def sync_worktree(
    manifest: CopyManifest,
    src_root: str,
    branch: str,
    dst_root: str,
    rels: Sequence[str],
    force: bool = False,
) -> SyncResult:
    """Copy `rels` from `src_root` into one worktree, keeping files changed there."""
    copied = manifest.read(branch)
    results: list[FileSync] = []
    for rel in rels:
        src, dst = os.path.join(src_root, rel), os.path.join(dst_root, rel)
        try:
            want = digest(src)
            if not os.path.lexists(dst):
                outcome = FileOutcome.COPIED
            else:
                have = digest(dst)
                if have == want:
                    copied[rel] = want
                    results.append(FileSync(rel, FileOutcome.UNCHANGED))
                    continue
                if copied.get(rel) == have:
                    outcome = FileOutcome.UPDATED
                elif force:
                    outcome = FileOutcome.FORCED
                else:
                    results.append(FileSync(rel, FileOutcome.SKIPPED))
                    continue
                os.unlink(dst)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            clone_file(src, dst)
            copied[rel] = want
            results.append(FileSync(rel, outcome))
        except OSError as exc:
            results.append(FileSync(rel, FileOutcome.FAILED, f"{rel}: {exc.strerror or exc}"))
    manifest.write(branch, copied)
    return SyncResult(branch, dst_root, tuple(results))


def sync_worktrees(
    envs: Environments, targets: Sequence[tuple[str, str]], force: bool = False
) -> list[SyncResult]:
    """`wtpar sync`: copy the configured files into each (branch, path) again, and write
    `[env] file` again (a refusal is reported as that file's failure)."""
    root, wtpar_dir = envs.paths.root, envs.paths.wtpar_dir
    rels = source_files(root, envs.config.worktrees.copy)
    manifest = CopyManifest(wtpar_dir)
    results = [sync_worktree(manifest, root, b, p, rels, force) for b, p in targets]
    env_file = envs.config.env.file
    if env_file:
        variables = envs.ensure(targets)
        for i, (branch, path) in enumerate(targets):
            error = envs.write_file(path, variables[branch])
            if error:
                failed = FileSync(env_file, FileOutcome.FAILED, error)
                results[i] = replace(results[i], files=(*results[i].files, failed))
    return results


def digest(path: str) -> str:
    """The sha256 of a file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def clone_file(src: str, dst: str) -> str:
    """Copy one file, copy-on-write (FICLONE) where the filesystem can, a plain copy otherwise."""
    try:
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
        shutil.copystat(src, dst)
        return dst
    except OSError:
        return shutil.copy2(src, dst)
