"""Merge simulation for `wtpar check`: merge-tree (single and --stdin), commit-tree, changed
paths, all in a quarantined object directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from wtpar.errors import CommandError, WtparError
from wtpar.git.base import GitBase
from wtpar.git.parse import HEX_RE, output_line, output_lines

_ASCII_BLANK = frozenset(" \t\n\r\v\f")

if TYPE_CHECKING:
    from wtpar.git.merge_output import MergeTreeResult

_MERGE_TREE = (
    "merge-tree",
    "--write-tree",
    "--name-only",
    "-z",
    "--no-messages",
    "--allow-unrelated-histories",
)


# A check's quarantine holds a few kilobytes per merge; RAM is used only with this much free.
_MEMORY_ROOM = 256 << 20
_QUARANTINE_PREFIX = "wtpar-objects-"
# No check runs for a day: an older quarantine in RAM is one a killed check left behind.
_STALE_SECONDS = 24 * 3600


def memory_folder(path: str = "/dev/shm") -> str | None:
    """PATH when it is a writable in-memory file system with room to spare, else None."""
    try:
        room = os.statvfs(path)
    except OSError:
        return None
    if not os.access(path, os.W_OK | os.X_OK) or room.f_bavail * room.f_frsize < _MEMORY_ROOM:
        return None
    return path


def drop_stale_quarantines(folder: str, now: float) -> None:
    """Delete this user's quarantines in FOLDER older than a day: a check killed before its
    clean-up leaves one, and in RAM nothing else deletes it before a reboot."""
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if not entry.name.startswith(_QUARANTINE_PREFIX):
                continue
            with contextlib.suppress(OSError):
                info = entry.stat(follow_symlinks=False)
                if (
                    entry.is_dir(follow_symlinks=False)
                    and info.st_uid == os.getuid()
                    and now - info.st_mtime > _STALE_SECONDS
                ):
                    shutil.rmtree(entry.path, ignore_errors=True)


class MergeCommands(GitBase):
    """Merge simulation for `wtpar check`: merge-tree (single and --stdin), commit-tree, changed"""

    # -- merge simulation (`wtpar check`) -------------------------------------------------

    def resolve_commits(self, refs: Sequence[str]) -> dict[str, str | None]:
        """The commit id of each ref (None when it names no commit), in one git call."""
        # A line each: a ref with a line break or ASCII blank (no valid name has one) names
        # nothing, but U+0085 or U+2028 (Python's `isspace`) may be in a branch's name.
        wanted = [r for r in dict.fromkeys(refs) if r and not _ASCII_BLANK.intersection(r)]
        result: dict[str, str | None] = dict.fromkeys(refs)
        if not wanted:
            return result
        out = self.run(
            "cat-file",
            "--batch-check=%(objectname) %(objecttype)",
            input="".join(f"{ref}^{{commit}}\n" for ref in wanted),
        ).stdout
        for ref, line in zip(wanted, output_lines(out), strict=True):
            sha, _, kind = line.partition(" ")
            result[ref] = sha if kind == "commit" and HEX_RE.match(sha) else None
        return result

    def merge_base(self, a: str, b: str) -> str | None:
        """The best common ancestor of two commits, or None for unrelated histories."""
        res = self.run("merge-base", a, b, check=False, ok_codes=(0, 1))
        sha = res.stdout.strip()
        return sha if res.returncode == 0 and HEX_RE.match(sha) else None

    def changed_paths(self, base: str, commit: str) -> tuple[list[str], list[str]] | None:
        """(paths changed, paths deleted) on COMMIT since its merge base with BASE."""
        res = self.run(
            "diff", "--name-status", "--no-renames", "-z", f"{base}...{commit}", check=False
        )
        if res.returncode != 0:
            return None
        fields = res.stdout.split("\0")
        paths: list[str] = []
        deleted: list[str] = []
        for status, path in zip(fields[0::2], fields[1::2], strict=False):
            if not status:
                break
            paths.append(path)
            if status.startswith("D"):
                deleted.append(path)
        return paths, deleted

    def tree_of(self, commit: str) -> str:
        """The tree id of a commit."""
        return self.run("rev-parse", "--verify", f"{commit}^{{tree}}").stdout.strip()

    def all_patches_in(self, base: str, branch: str) -> bool:
        """True when every commit of BRANCH has an equivalent patch in BASE (`git cherry`)."""
        lines = output_lines(self.run("cherry", base, branch, check=False).stdout)
        return bool(lines) and all(line.startswith("-") for line in lines)

    def remote_of(self, ref: str) -> str | None:
        """The remote a ref comes from: `origin` for origin/main, or a branch's configured one."""
        if ref.startswith("-"):
            return None
        args = ("rev-parse", "--verify", "--quiet", "--symbolic-full-name", ref)
        name = output_line(self.run(*args, check=False).stdout)
        if name.startswith("refs/remotes/"):
            rest = name[len("refs/remotes/") :]
            remotes = output_lines(self.run("remote").stdout)
            matches = [r for r in remotes if rest.startswith(r + "/")]
            return max(matches, key=len) if matches else None
        if name.startswith("refs/heads/"):
            res = self.run("config", f"branch.{name[len('refs/heads/') :]}.remote", check=False)
            remote = output_line(res.stdout)
            return remote if remote and remote != "." else None
        return None

    @contextlib.contextmanager
    def quarantine(self, in_memory: bool = False) -> Iterator[dict[str, str]]:
        """An environment whose new objects go to a temporary folder deleted afterwards; the
        repository's objects stay readable as an alternate, and none are added to it.

        IN_MEMORY puts the folder in RAM (`/dev/shm`) when there is one with room: a merge
        writes every merged tree as a loose object, and creating those files on a busy disk
        costs more than the merges themselves."""
        import tempfile  # here, not at the top: `wtpar list` never makes a quarantine

        where = memory_folder() if in_memory else None
        if where is not None:
            drop_stale_quarantines(where, time.time())
        tmp = tempfile.mkdtemp(prefix=_QUARANTINE_PREFIX, dir=where)
        objects = os.path.join(tmp, "objects")
        os.makedirs(objects)
        try:
            yield {
                "GIT_OBJECT_DIRECTORY": objects,
                "GIT_ALTERNATE_OBJECT_DIRECTORIES": os.path.join(self.paths.common_dir, "objects"),
            }
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def merge_tree(self, a: str, b: str, env: Mapping[str, str]) -> MergeTreeResult:
        """Merge two commits without touching any worktree (`merge-tree --write-tree`).

        Exit 1 means a conflict, but also a bad ref: the output must start with a tree id.
        """
        from wtpar.git.merge_output import MergeTreeResult

        res = self.run(*_MERGE_TREE, a, b, check=False, env=env)
        fields = res.stdout.split("\0")
        if res.returncode not in (0, 1) or not HEX_RE.match(fields[0]):
            raise CommandError(res.args, res.returncode, (res.stderr + res.stdout).strip())
        files = tuple(dict.fromkeys(f for f in fields[1:] if f))
        return MergeTreeResult(res.returncode == 0, fields[0], files)

    def merge_tree_batch(
        self, pairs: Sequence[tuple[str, str]], env: Mapping[str, str]
    ) -> list[MergeTreeResult]:
        """Many merges in one `merge-tree --stdin` process (git 2.39+), one result per pair."""
        from wtpar.git.merge_output import parse_merge_tree_stdin

        if not pairs:
            return []
        res = self.run(
            *_MERGE_TREE, "--stdin", input="".join(f"{a} {b}\n" for a, b in pairs), env=env
        )
        results = parse_merge_tree_stdin(res.stdout)
        if len(results) != len(pairs):
            raise WtparError(
                f"git merge-tree --stdin answered {len(results)} merges for {len(pairs)} asked"
            )
        return results

    def commit_tree(self, tree: str, parents: Sequence[str], env: Mapping[str, str]) -> str:
        """A commit of TREE (in the quarantine of `env`); fixed identity and date, so the
        same merge gives the same id on every run."""
        args = ["commit-tree", tree, "-m", "wtpar check: simulated merge"]
        for parent in parents:
            args += ["-p", parent]
        fixed = {
            "GIT_AUTHOR_NAME": "wtpar",
            "GIT_AUTHOR_EMAIL": "wtpar@localhost",
            "GIT_COMMITTER_NAME": "wtpar",
            "GIT_COMMITTER_EMAIL": "wtpar@localhost",
            "GIT_AUTHOR_DATE": "@0 +0000",
            "GIT_COMMITTER_DATE": "@0 +0000",
        }
        return self.run(*args, env={**env, **fixed}).stdout.strip()

    def fetch(self, remote: str) -> None:
        """Fetch one remote (the caller holds the repository lock)."""
        self.run("fetch", "--quiet", "--prune", remote)
