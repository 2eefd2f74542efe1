"""Landing and updating branches: compare-and-swap ref updates, rebases, merges, pushes,
diffs."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from wtpar import procs
from wtpar.git.base import GitBase
from wtpar.git.parse import git_reason, output_line, output_lines, parse_numstat

if TYPE_CHECKING:
    from wtpar.git.merge_output import ReplayCommit


class LandingCommands(GitBase):
    """Landing and updating branches: compare-and-swap ref updates, rebases, merges, pushes,"""

    # -- landing (`wtpar land`, `wtpar update`) -------------------------------------------

    def update_ref(self, ref: str, new: str, old: str, reason: str) -> bool:
        """Move REF to NEW only if it is still at OLD (compare and swap); False if it moved."""
        res = self.run("update-ref", "-m", reason, ref, new, old, check=False)
        return res.returncode == 0

    def make_commit(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        env: Mapping[str, str],
        author: Mapping[str, str] | None = None,
    ) -> str:
        """A commit of TREE with the user's identity (`author`: GIT_AUTHOR_* to keep)."""
        args = ["commit-tree", tree, "-F", "-"]
        for parent in parents:
            args += ["-p", parent]
        return self.run(*args, input=message, env={**env, **(author or {})}).stdout.strip()

    def commits_to_replay(self, since: str, branch: str) -> list[ReplayCommit]:
        """The non-merge commits of BRANCH missing from SINCE, oldest first, with their
        parent, author and message (what a rebase replays)."""
        from wtpar.git.merge_output import parse_replay_log

        fmt = "%H%x01%P%x01%an%x01%ae%x01%ad%x01%B"
        out = self.run(
            "log",
            "-z",
            "--reverse",
            "--no-merges",
            "--date=raw",
            f"--format={fmt}",
            f"{since}..{branch}",
            "--",
        ).stdout
        return parse_replay_log(out)

    def log_subjects(self, since: str, branch: str) -> list[str]:
        """The subjects of BRANCH's commits missing from SINCE, oldest first."""
        out = self.run("log", "--reverse", "--format=%s", f"{since}..{branch}", "--").stdout
        return output_lines(out)

    def add_temporary_worktree(self, path: str, commit: str, env: Mapping[str, str]) -> None:
        """A detached worktree at COMMIT (objects read through `env`'s quarantine)."""
        self.run("worktree", "add", "--detach", "--quiet", path, commit, env=env)

    def drop_temporary_worktrees(self, paths: Sequence[str]) -> None:
        """Delete temporary worktrees' folders (even half-made ones), then make git forget
        them in one `worktree prune`."""
        for path in paths:
            shutil.rmtree(path, ignore_errors=True)
        self.run("worktree", "prune", check=False)

    def keep_objects(self, env: Mapping[str, str], new: str, old: str) -> None:
        """Copy the quarantined objects that NEW needs (and OLD lacks) into the repository,
        before a ref may point at NEW."""
        quarantine = env["GIT_OBJECT_DIRECTORY"]
        out = self.run("rev-list", "--objects", new, "--not", old, env=env).stdout
        target = os.path.join(self.paths.common_dir, "objects")
        for line in output_lines(out):
            sha = line.split(" ", 1)[0]
            src = os.path.join(quarantine, sha[:2], sha[2:])
            dst = os.path.join(target, sha[:2], sha[2:])
            if not os.path.exists(src) or os.path.exists(dst):
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            tmp = f"{dst}.wtpar-{os.getpid()}"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)

    def fast_forward_checkout(self, worktree: str, old: str, new: str) -> str | None:
        """Bring a worktree's index and files from OLD to NEW after its branch moved there
        (`read-tree -m -u`: refuses to overwrite local changes); why not, if it refused.
        The index is refreshed first: read-tree takes a file merely touched for changed."""
        self.run("update-index", "-q", "--refresh", cwd=worktree, check=False)
        res = self.run("read-tree", "-m", "-u", old, new, cwd=worktree, check=False)
        return None if res.returncode == 0 else git_reason(res.stderr + res.stdout)

    def upstream_of(self, branch: str) -> tuple[str, str] | None:
        """(remote, remote branch ref) that BRANCH tracks, or None."""
        remote = output_line(self.run("config", f"branch.{branch}.remote", check=False).stdout)
        merge = output_line(self.run("config", f"branch.{branch}.merge", check=False).stdout)
        if not remote or remote == "." or not merge:
            return None
        return remote, merge

    def push_fast_forward(self, remote: str, commit: str, remote_ref: str) -> procs.Result:
        """Push COMMIT to REMOTE's REMOTE_REF; git refuses anything but a fast-forward."""
        return self.run(
            "push", "--quiet", "--porcelain", remote, f"{commit}:{remote_ref}", check=False
        )

    def delete_branch(self, name: str) -> None:
        """Delete a local branch (the caller made sure its work is integrated)."""
        self.run("branch", "-D", "--quiet", name)

    def start_update(self, worktree: str, base: str, merge: bool) -> procs.Result:
        """Rebase the worktree's branch onto BASE, or merge BASE into it (no editor), out of
        reach of a Ctrl-C at the terminal: killed half-way, it left the worktree mid-rebase."""
        args = ("merge", "--no-edit", "--quiet", base) if merge else ("rebase", "--quiet", base)
        env = {"GIT_EDITOR": "true"}
        return self.run(*args, cwd=worktree, check=False, env=env, detached=True)

    def conflicted_files(self, worktree: str) -> list[str]:
        """The unmerged paths of a worktree."""
        out = self.run(
            "diff", "--name-only", "-z", "--diff-filter=U", cwd=worktree, check=False
        ).stdout
        return [p for p in dict.fromkeys(out.split("\0")) if p]

    def abort_update(self, worktree: str, merge: bool) -> None:
        """Abort the merge or rebase under way in a worktree."""
        verb = "merge" if merge else "rebase"
        self.run(verb, "--abort", cwd=worktree, check=False, detached=True)

    def reset_hard(self, worktree: str, commit: str) -> None:
        """Put a worktree back exactly at COMMIT (only after an aborted update of a clean one)."""
        self.run("reset", "--hard", "--quiet", commit, cwd=worktree, detached=True)

    def diff_numstat(self, base: str, branch: str) -> list[tuple[int | None, int | None, str]]:
        """(added, deleted, path) per file BRANCH changed since its merge base with BASE
        (None counts for binary files)."""
        out = self.run(
            "diff", "--numstat", "-z", "--no-renames", f"{base}...{branch}", check=False
        ).stdout
        return parse_numstat(out)

    def diff_patch(self, base: str, branch: str) -> str:
        """The patch of BRANCH since its merge base with BASE."""
        return self.run(
            "diff", "--no-color", "--no-ext-diff", f"{base}...{branch}", check=False
        ).stdout
