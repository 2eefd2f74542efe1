"""What removing a worktree would lose: hidden changes, ignored files, submodule commits."""

from __future__ import annotations

import os
from collections.abc import Sequence

from wtpar.git import hidden
from wtpar.git.base import GitBase
from wtpar.git.parse import output_lines


class SafetyCommands(GitBase):
    """What removing a worktree would lose: hidden changes, ignored files, submodule commits."""

    # -- what removing a worktree would lose (`remove`, `prune`) --------------------------

    def hidden_changes(self, path: str) -> list[tuple[str, str]]:
        """(flag, path) of assume-unchanged or skip-worktree files whose content differs
        from the index (git/hidden.py): changes `git status` does not show."""
        return hidden.hidden_changes(path)

    def ignored_paths(self, path: str) -> list[str]:
        """Ignored files and folders of a worktree (folders end with `/`), relative to it."""
        out = self.run(
            "ls-files",
            "-z",
            "--others",
            "--ignored",
            "--exclude-standard",
            "--directory",
            cwd=path,
        ).stdout
        return [item for item in out.split("\0") if item]

    def submodule_paths(self, path: str) -> list[str]:
        """The paths of the submodules (gitlinks) in a worktree's index."""
        out = self.run("ls-files", "-s", "-z", cwd=path).stdout
        return [item.partition("\t")[2] for item in out.split("\0") if item.startswith("160000 ")]

    def unpublished_commits(self, path: str) -> list[str]:
        """Commits of the repository at `path` (HEAD and local branches) on no remote-tracking
        ref, newest first."""
        res = self.run(
            "rev-list", "HEAD", "--branches", "--not", "--remotes", cwd=path, check=False
        )
        return res.stdout.split() if res.returncode == 0 else []

    def worktree_ref_commits(self, path: str) -> dict[str, int]:
        """Per worktree-private ref (`refs/worktree/*`, kept in the worktree's own git dir and
        deleted with it): how many commits it alone reaches, on no branch or remote."""
        out = output_lines(
            self.run("for-each-ref", "--format=%(refname)", "refs/worktree/", cwd=path).stdout
        )
        counts: dict[str, int] = {}
        for ref in out:
            res = self.run("rev-list", "--count", ref, "--not", "--branches", "--remotes", cwd=path)
            if int(res.stdout.strip() or 0):
                counts[ref] = int(res.stdout.strip())
        return counts

    def unreachable_in(self, git_dir: str, commits: Sequence[str]) -> list[str]:
        """Those of `commits` that the repository at `git_dir` does not hold on any ref."""
        if not commits or not os.path.isdir(git_dir):
            return list(commits)
        check = self.run(
            "--git-dir",
            git_dir,
            "cat-file",
            "--batch-check=%(objectname) %(objecttype)",
            input="".join(f"{c}\n" for c in commits),
        ).stdout.splitlines()
        present = [c for c, line in zip(commits, check, strict=True) if line.endswith(" commit")]
        missing = [c for c in commits if c not in set(present)]
        if not present:
            return missing
        loose = self.run(
            "--git-dir", git_dir, "rev-list", *present, "--not", "--all"
        ).stdout.split()
        return [c for c in commits if c in set(missing) | set(loose)]

    def forget_worktree(self, path: str) -> None:
        """Drop the metadata of a worktree whose folder is gone (`git worktree remove`)."""
        self.run("worktree", "remove", "--force", path)

    def prune_worktrees(self) -> None:
        """Forget every worktree whose folder is gone (`git worktree prune`)."""
        self.run("worktree", "prune")

    def add_worktree(
        self, path: str, branch: str, new_from: str | None = None, track: bool = False
    ) -> None:
        """Add a worktree for BRANCH at PATH without checking it out (the caller populates it
        with `checkout_all`); with `new_from`, BRANCH is created there (tracking it if `track`)."""
        args = ["worktree", "add", "--no-checkout", "--quiet"]
        if new_from is None:
            args += [path, branch]
        else:
            args += ["--track" if track else "--no-track", "-b", branch, path, new_from]
        self.run(*args)

    def checkout_all(self, path: str) -> None:
        """Fill a worktree's index and files from its HEAD (after `add_worktree`)."""
        self.run("-c", "checkout.workers=0", "reset", "--hard", "--quiet", cwd=path)
