"""Refs and commits: resolving, branches, ahead/behind, tracking, integration."""

from __future__ import annotations

from collections.abc import Sequence

from wtpar.errors import UsageError
from wtpar.git.base import GitBase
from wtpar.git.parse import (
    HEX_RE,
    output_line,
    output_lines,
)
from wtpar.model import BranchTracking

_REMOTE_HEADS = ("refs/remotes/origin/HEAD", "refs/remotes/upstream/HEAD")


def _remote_default(targets: dict[str, str]) -> str | None:
    """The branch origin's HEAD names (else upstream's), from refname -> symref target."""
    return next((targets[r] for r in _REMOTE_HEADS if targets.get(r)), None)


class RefCommands(GitBase):
    """Refs and commits: resolving, branches, ahead/behind, tracking, integration."""

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
        return sha if res.returncode == 0 and HEX_RE.match(sha) else None

    def local_branch_exists(self, name: str) -> bool:
        """True when refs/heads/NAME exists."""
        res = self.run("show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False)
        return res.returncode == 0

    def remote_branches_named(self, name: str) -> list[str]:
        """Remote-tracking refs (`origin/NAME`) for a branch name, across all remotes."""
        out = self.run("for-each-ref", "--format=%(refname:short)", f"refs/remotes/*/{name}").stdout
        return [line for line in output_lines(out) if line and not line.endswith("/HEAD")]

    def branch_ref_rows(self, names: Sequence[str]) -> list[tuple[str, str, str, str]]:
        """(refname, short name, object id, type) of every ref `refs/heads/NAME` and
        `refs/remotes/*/NAME` match (and refs below them), for all NAMES in one git call."""
        if not names:
            return []
        patterns = [p for n in names for p in (f"refs/heads/{n}", f"refs/remotes/*/{n}")]
        fmt = "%(refname)%00%(refname:short)%00%(objectname)%00%(objecttype)"
        out = self.run("for-each-ref", f"--format={fmt}", *patterns).stdout
        rows = [line.split("\0") for line in output_lines(out)]
        return [(r[0], r[1], r[2], r[3]) for r in rows if len(r) == 4]

    def is_valid_branch_name(self, name: str) -> bool:
        """True when NAME is acceptable to `git check-ref-format --branch`."""
        if not name or name.startswith("-"):
            return False
        return self.run("check-ref-format", "--branch", name, check=False).returncode == 0

    def current_branch(self, cwd: str | None = None) -> str | None:
        """The branch checked out in `cwd`, or None when HEAD is detached."""
        res = self.run("symbolic-ref", "--quiet", "--short", "HEAD", cwd=cwd, check=False)
        return output_line(res.stdout) or None

    def default_base(self, configured: str | None, main_branch: str | None = None) -> str:
        """The base for new branches: the configured one, else the remote's default, else
        the main worktree's branch (pass `main_branch` when it is already known)."""
        if configured:
            return configured
        out = self.run("for-each-ref", "--format=%(refname)%00%(symref:short)", *_REMOTE_HEADS)
        targets = dict(line.split("\0", 1) for line in output_lines(out.stdout) if "\0" in line)
        return self.pick_base(None, _remote_default(targets), main_branch)

    def pick_base(
        self, configured: str | None, remote_default: str | None, main_branch: str | None
    ) -> str:
        """`default_base` once the remote's default branch is known (`tracking_and_remote`)."""
        branch = configured or remote_default or main_branch or self.current_branch()
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

    def branch_tracking(self) -> dict[str, BranchTracking]:
        """Per local branch: its upstream, ahead/behind it, and its last commit's time; one
        git call."""
        return self.tracking_and_remote()[0]

    def tracking_and_remote(self) -> tuple[dict[str, BranchTracking], str | None]:
        """`branch_tracking()` and the remote's default branch (origin's HEAD, else
        upstream's, else None), in one git call: `wtpar list` made two."""
        fmt = "%00".join(
            (
                "%(refname)",
                "%(symref:short)",
                "%(upstream:short)",
                "%(upstream:track,nobracket)",
                "%(committerdate:unix)",
            )
        )
        out = self.run("for-each-ref", f"--format={fmt}", "refs/heads", *_REMOTE_HEADS).stdout
        result: dict[str, BranchTracking] = {}
        targets: dict[str, str] = {}
        for line in output_lines(out):
            refname, symref, upstream, track, date = line.split("\0")
            if not refname.startswith("refs/heads/"):
                targets[refname] = symref
                continue
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
            name = refname.removeprefix("refs/heads/")
            result[name] = BranchTracking(upstream or None, ahead, behind, gone, int(date or 0))
        return result, _remote_default(targets)

    def commit_time(self, commit: str) -> int:
        """The committer time of `commit` (0 when git cannot tell)."""
        out = self.run("log", "-1", "--format=%ct", commit, check=False).stdout.strip()
        return int(out) if out.isdigit() else 0

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
