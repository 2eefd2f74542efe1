"""Building the combined results of a merge train without touching any worktree: merge
commits, squashed commits or rebased commits, all made with `git merge-tree` and
`git commit-tree` in a quarantine (objects reach the repository only when they land)."""

from __future__ import annotations

from collections.abc import Mapping

from wtpar.git import Git
from wtpar.land.plan import Strategy
from wtpar.text import plural


class Combiner:
    """Adds branches one by one onto a running commit, the way STRATEGY lands them."""

    def __init__(
        self, git: Git, strategy: Strategy, base: str, base_sha: str, env: Mapping[str, str]
    ) -> None:
        self.git = git
        self.strategy = strategy
        self.base = base
        self.base_sha = base_sha
        self.env = env
        self._trees: dict[str, str] = {}

    def add(self, running: str, branch: str, head: str) -> str | None:
        """The commit of RUNNING with BRANCH (at HEAD) landed on it, or None on a conflict."""
        if self.strategy is Strategy.REBASE:
            return self._rebase(running, head)
        merged = self.git.merge_tree(running, head, self.env)
        if not merged.clean:
            return None
        if self.strategy is Strategy.MERGE:
            message = f"Merge branch '{branch}' into {self.base}\n"
            commit = self.git.make_commit(merged.tree, [running, head], message, self.env)
        else:
            subjects = self.git.log_subjects(self.base_sha, head)
            body = "".join(f"* {s}\n" for s in subjects)
            message = f"{branch} (squashed, {plural(len(subjects), 'commit')})\n\n{body}"
            commit = self.git.make_commit(merged.tree, [running], message, self.env)
        self._trees[commit] = merged.tree
        return commit

    def _rebase(self, running: str, head: str) -> str | None:
        """Replay each commit C of the branch: a scaffold commit holding RUNNING's tree with
        C's parent as its parent makes C's parent the merge base of `merge-tree`, so the
        merge is exactly a cherry-pick of C onto RUNNING (git 2.38 has no --merge-base)."""
        tree = self._tree(running)
        for commit in self.git.commits_to_replay(self.base_sha, head):
            scaffold = self.git.make_commit(
                tree, [commit.parent], "wtpar land: rebase scaffold\n", self.env
            )
            picked = self.git.merge_tree(scaffold, commit.sha, self.env)
            if not picked.clean:
                return None
            if picked.tree == tree:
                continue  # already in the running result: a rebase drops it too
            running = self.git.make_commit(
                picked.tree, [running], commit.message, self.env, author=commit.author
            )
            tree = picked.tree
            self._trees[running] = tree
        return running

    def _tree(self, commit: str) -> str:
        known = self._trees.get(commit)
        return known if known is not None else self.git.tree_of(commit)
