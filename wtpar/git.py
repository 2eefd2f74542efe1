"""The only module that talks to git: GitPython for discovery, the git CLI for batched calls.

Output is parsed from `-z` porcelain formats; status polling passes `--no-optional-locks`
so that a dashboard or a parallel `wtpar list` never takes a worktree's `index.lock`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from wtpar import procs
from wtpar.errors import CommandError, NotARepositoryError, UsageError
from wtpar.model import StatusCounts, Worktree

_OPERATION_MARKERS = (
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
    ("rebase-merge", "rebase"),
    ("rebase-apply", "rebase"),
)
_HEX_RE = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")


@dataclass(frozen=True)
class RepoPaths:
    """Where a repository lives: its main worktree and its common git dir."""

    root: str
    common_dir: str

    @property
    def wtpar_dir(self) -> str:
        """wtpar's own folder, shared by every worktree of the repository."""
        return os.path.join(self.common_dir, "wtpar")


def discover(start: str | os.PathLike[str] = ".") -> RepoPaths:
    """Find the repository containing `start` (any of its worktrees).

    One `git rev-parse` call: GitPython's discovery costs ~50 ms of import and set-up,
    a third of `wtpar list`'s run time on a small repository.
    """
    where = os.path.abspath(start)
    if not os.path.isdir(where):
        raise NotARepositoryError(f"not a git repository (no such folder): {where}")
    res = procs.run(
        ["git", "rev-parse", "--path-format=absolute", "--git-common-dir", "--is-bare-repository"],
        cwd=where,
        check=False,
    )
    if res.returncode != 0:
        raise NotARepositoryError(f"not a git repository (or any parent up to /): {where}")
    common_dir, bare = res.stdout.splitlines()[:2]
    common_dir = os.path.realpath(common_dir)
    if bare == "true":
        raise NotARepositoryError(
            f"{common_dir} is a bare repository; wtpar needs a main working tree"
        )
    if os.path.basename(common_dir) == ".git":
        return RepoPaths(root=os.path.dirname(common_dir), common_dir=common_dir)
    return RepoPaths(root=_main_worktree_root(common_dir), common_dir=common_dir)


def _main_worktree_root(common_dir: str) -> str:
    # `git worktree list` always names the main worktree first.
    out = procs.run(["git", "--git-dir", common_dir, "worktree", "list", "--porcelain"]).stdout
    first = out.split("\n", 1)[0]
    if not first.startswith("worktree "):
        raise NotARepositoryError(f"cannot find the main worktree of {common_dir}")
    return os.path.realpath(first[len("worktree ") :])


@functools.cache
def version() -> tuple[int, int, int]:
    """The installed git's version, detected once."""
    out = procs.run(["git", "--version"]).stdout
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if not m:
        return (0, 0, 0)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


class Git:
    """git commands against one repository (thread-safe: it holds no GitPython objects)."""

    def __init__(self, paths: RepoPaths) -> None:
        self.paths = paths

    def run(
        self,
        *args: str,
        cwd: str | None = None,
        check: bool = True,
        ok_codes: tuple[int, ...] = (0,),
        input: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> procs.Result:
        """Run `git ARGS` in `cwd` (default: the main worktree)."""
        return procs.run(
            ["git", *args],
            cwd=cwd or self.paths.root,
            check=check,
            ok_codes=ok_codes,
            input=input,
            env=env,
        )

    # -- refs ---------------------------------------------------------------------------

    def resolve_commit(self, ref: str) -> str | None:
        """The commit id `ref` names, or None when it names no commit."""
        res = self.run(
            "rev-parse",
            "--verify",
            "--quiet",
            "--end-of-options",
            f"{ref}^{{commit}}",
            check=False,
        )
        sha = res.stdout.strip()
        return sha if res.returncode == 0 and _HEX_RE.match(sha) else None

    def local_branch_exists(self, name: str) -> bool:
        """True when refs/heads/NAME exists."""
        res = self.run("show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False)
        return res.returncode == 0

    def remote_branches_named(self, name: str) -> list[str]:
        """Remote-tracking refs (`origin/NAME`) for a branch name, across all remotes."""
        out = self.run("for-each-ref", "--format=%(refname:short)", f"refs/remotes/*/{name}").stdout
        return [line for line in out.splitlines() if line and not line.endswith("/HEAD")]

    def is_valid_branch_name(self, name: str) -> bool:
        """True when NAME is acceptable to `git check-ref-format --branch`."""
        if not name or name.startswith("-"):
            return False
        return self.run("check-ref-format", "--branch", name, check=False).returncode == 0

    def current_branch(self, cwd: str | None = None) -> str | None:
        """The branch checked out in `cwd`, or None when HEAD is detached."""
        res = self.run("symbolic-ref", "--quiet", "--short", "HEAD", cwd=cwd, check=False)
        return res.stdout.strip() or None

    def default_base(self, configured: str | None, main_branch: str | None = None) -> str:
        """The base for new branches: the configured one, else the remote's default, else
        the main worktree's branch (pass `main_branch` when it is already known)."""
        if configured:
            return configured
        out = self.run(
            "for-each-ref",
            "--format=%(refname)%00%(symref:short)",
            "refs/remotes/origin/HEAD",
            "refs/remotes/upstream/HEAD",
        ).stdout
        targets = dict(line.split("\0", 1) for line in out.splitlines() if "\0" in line)
        for remote in ("origin", "upstream"):
            target = targets.get(f"refs/remotes/{remote}/HEAD")
            if target:
                return target
        branch = main_branch or self.current_branch()
        if branch:
            return branch
        raise UsageError("cannot tell the base branch: HEAD is detached; pass --from REF")

    def is_ancestor(self, commit: str, of: str) -> bool:
        """True when `commit` is reachable from `of`."""
        res = self.run("merge-base", "--is-ancestor", commit, of, check=False, ok_codes=(0, 1))
        return res.returncode == 0

    def ahead_behind(self, base: str, ref: str) -> tuple[int, int] | None:
        """(ahead, behind) of `ref` against `base`, or None when either is unknown."""
        res = self.run("rev-list", "--left-right", "--count", f"{base}...{ref}", check=False)
        if res.returncode != 0:
            return None
        behind, ahead = (int(x) for x in res.stdout.split())
        return ahead, behind

    def branch_tracking(self) -> dict[str, tuple[str | None, int | None, int | None, bool, int]]:
        """Per local branch: (upstream, ahead, behind, gone, committer time), one git call."""
        fmt = "%00".join(
            (
                "%(refname:short)",
                "%(upstream:short)",
                "%(upstream:track,nobracket)",
                "%(committerdate:unix)",
            )
        )
        out = self.run("for-each-ref", f"--format={fmt}", "refs/heads").stdout
        result: dict[str, tuple[str | None, int | None, int | None, bool, int]] = {}
        for line in out.splitlines():
            name, upstream, track, date = line.split("\0")
            gone = track == "gone"
            ahead = behind = None
            if upstream and not gone:
                ahead = behind = 0
                for part in track.split(","):
                    word, _, num = part.strip().partition(" ")
                    if word == "ahead":
                        ahead = int(num)
                    elif word == "behind":
                        behind = int(num)
            result[name] = (upstream or None, ahead, behind, gone, int(date or 0))
        return result

    def unique_commits(self, commit: str, branch: str | None) -> int:
        """How many commits of `commit` are on no other branch and no remote-tracking ref."""
        args = ["rev-list", "--count", commit, "--not"]
        if branch:
            # With --branches, the pattern is matched without the refs/heads/ prefix.
            args.append(f"--exclude={branch}")
        args += ["--branches", "--remotes"]
        return int(self.run(*args).stdout.strip() or 0)

    def is_integrated(self, branch: str, base: str) -> bool:
        """True when BRANCH's work is in BASE: an ancestor, or squash-merged (tree or patch ids)."""
        if self.is_ancestor(branch, base):
            return True
        merged = self.run(
            "merge-tree",
            "--write-tree",
            "--no-messages",
            base,
            branch,
            check=False,
            ok_codes=(0, 1),
        )
        base_tree = self.run("rev-parse", f"{base}^{{tree}}").stdout.strip()
        if merged.returncode == 0 and merged.stdout.split("\n", 1)[0].strip() == base_tree:
            return True
        cherry = self.run("cherry", base, branch, check=False).stdout.split("\n")
        marks = [line[:1] for line in cherry if line]
        return bool(marks) and all(mark == "-" for mark in marks)

    # -- worktrees -----------------------------------------------------------------------

    def worktrees(self) -> list[Worktree]:
        """Every worktree of the repository, the main one first."""
        out = self.run("worktree", "list", "--porcelain", "-z").stdout
        return parse_worktree_list(out)

    def status(self, path: str) -> StatusCounts | None:
        """Staged, modified and untracked counts of one worktree, without taking index.lock."""
        res = self.run(
            "--no-optional-locks",
            "status",
            "--porcelain=v2",
            "-z",
            "--untracked-files=all",
            cwd=path,
            check=False,
        )
        if res.returncode != 0:
            return None
        return parse_status_v2(res.stdout)

    def operation_in_progress(self, worktree_path: str) -> str | None:
        """The merge, rebase, cherry-pick, revert or bisect under way in a worktree, if any."""
        gitdir = worktree_git_dir(worktree_path)
        if gitdir is None:
            return None
        for marker, name in _OPERATION_MARKERS:
            if os.path.exists(os.path.join(gitdir, marker)):
                return name
        return None


def worktree_git_dir(worktree_path: str) -> str | None:
    """The private git dir of a worktree (`.git` itself, or where a `.git` file points)."""
    dotgit = os.path.join(worktree_path, ".git")
    if os.path.isdir(dotgit):
        return dotgit
    try:
        with open(dotgit, encoding="utf-8") as fh:
            line = fh.readline().strip()
    except OSError:
        return None
    if not line.startswith("gitdir:"):
        return None
    target = line[len("gitdir:") :].strip()
    return os.path.normpath(os.path.join(worktree_path, target))


def parse_worktree_list(out: str) -> list[Worktree]:
    """Parse `git worktree list --porcelain -z`."""
    result: list[Worktree] = []
    fields: dict[str, str | None] = {}
    for item in [*out.split("\0"), ""]:
        if item:
            key, _, value = item.partition(" ")
            fields[key] = value if value or key in ("worktree", "branch", "HEAD") else None
            if key in ("locked", "prunable") and not value:
                fields[key] = ""
            continue
        if not fields:
            continue
        branch = fields.get("branch")
        result.append(
            Worktree(
                path=fields.get("worktree") or "",
                head=fields.get("HEAD") or None,
                branch=branch.removeprefix("refs/heads/") if branch else None,
                is_main=not result,
                bare="bare" in fields,
                detached="detached" in fields,
                locked="locked" in fields,
                locked_reason=fields.get("locked") or None,
                prunable="prunable" in fields,
                prunable_reason=fields.get("prunable") or None,
            )
        )
        fields = {}
    return result


def parse_status_v2(out: str) -> StatusCounts:
    """Count staged, modified, untracked and conflicted entries of `status --porcelain=v2 -z`."""
    staged = modified = untracked = conflicted = 0
    items = iter(out.split("\0"))
    for item in items:
        if not item:
            continue
        kind = item[0]
        if kind in "12":
            xy = item[2:4]
            if xy[0] != ".":
                staged += 1
            if xy[1] != ".":
                modified += 1
            if kind == "2":
                next(items, None)  # the rename's original path is its own field
        elif kind == "u":
            conflicted += 1
        elif kind == "?":
            untracked += 1
    return StatusCounts(staged, modified, untracked, conflicted)


def require_version(minimum: tuple[int, int], what: str) -> None:
    """Raise a clear error when git is older than `minimum`."""
    from wtpar.errors import GitVersionError

    have = version()
    if have[:2] < minimum:
        need = ".".join(str(x) for x in minimum)
        got = ".".join(str(x) for x in have)
        raise GitVersionError(f"{what} needs git {need} or newer; this is git {got}")


__all__ = [
    "CommandError",
    "Git",
    "RepoPaths",
    "discover",
    "parse_status_v2",
    "parse_worktree_list",
    "require_version",
    "version",
    "worktree_git_dir",
]
