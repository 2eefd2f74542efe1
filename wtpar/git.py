"""The only module that builds git command lines: every git call wtpar makes is a method here.

Output is parsed from `-z` porcelain formats; status polling passes `--no-optional-locks`
so that a dashboard or a parallel `wtpar list` never takes a worktree's `index.lock`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence

from wtpar import hidden, procs
from wtpar.errors import CommandError, UsageError, WtparError
from wtpar.gitparse import (
    HEX_RE,
    MergeTreeResult,
    ReplayCommit,
    parse_merge_tree_stdin,
    parse_numstat,
    parse_replay_log,
    parse_status_v2,
    parse_worktree_list,
    with_rebased_branch,
    worktree_git_dir,
)
from wtpar.gitrepo import RepoPaths, discover, require_version, version
from wtpar.model import BranchTracking, StatusCounts, Worktree

_OPERATION_MARKERS = (
    ("MERGE_HEAD", "merge"),
    ("CHERRY_PICK_HEAD", "cherry-pick"),
    ("REVERT_HEAD", "revert"),
    ("BISECT_LOG", "bisect"),
    ("rebase-merge", "rebase"),
    ("rebase-apply", "rebase"),
)


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
        return sha if res.returncode == 0 and HEX_RE.match(sha) else None

    def local_branch_exists(self, name: str) -> bool:
        """True when refs/heads/NAME exists."""
        res = self.run("show-ref", "--verify", "--quiet", f"refs/heads/{name}", check=False)
        return res.returncode == 0

    def remote_branches_named(self, name: str) -> list[str]:
        """Remote-tracking refs (`origin/NAME`) for a branch name, across all remotes."""
        out = self.run("for-each-ref", "--format=%(refname:short)", f"refs/remotes/*/{name}").stdout
        return [line for line in out.splitlines() if line and not line.endswith("/HEAD")]

    def branch_ref_rows(self, names: Sequence[str]) -> list[tuple[str, str, str, str]]:
        """(refname, short name, object id, type) of every ref `refs/heads/NAME` and
        `refs/remotes/*/NAME` match (and refs below them), for all NAMES in one git call."""
        if not names:
            return []
        patterns = [p for n in names for p in (f"refs/heads/{n}", f"refs/remotes/*/{n}")]
        fmt = "%(refname)%00%(refname:short)%00%(objectname)%00%(objecttype)"
        out = self.run("for-each-ref", f"--format={fmt}", *patterns).stdout
        rows = [line.split("\0") for line in out.splitlines()]
        return [(r[0], r[1], r[2], r[3]) for r in rows if len(r) == 4]

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

    def branch_tracking(self) -> dict[str, BranchTracking]:
        """Per local branch: its upstream, ahead/behind it, and its last commit's time; one
        git call."""
        fmt = "%00".join(
            (
                "%(refname:short)",
                "%(upstream:short)",
                "%(upstream:track,nobracket)",
                "%(committerdate:unix)",
            )
        )
        out = self.run("for-each-ref", f"--format={fmt}", "refs/heads").stdout
        result: dict[str, BranchTracking] = {}
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
            result[name] = BranchTracking(upstream or None, ahead, behind, gone, int(date or 0))
        return result

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

    # -- worktrees -----------------------------------------------------------------------

    def worktrees(self) -> list[Worktree]:
        """Every worktree of the repository, the main one first."""
        out = self.run("worktree", "list", "--porcelain", "-z").stdout
        return [with_rebased_branch(wt) for wt in parse_worktree_list(out)]

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

    # -- merge simulation (`wtpar check`) -------------------------------------------------

    def resolve_commits(self, refs: Sequence[str]) -> dict[str, str | None]:
        """The commit id of each ref (None when it names no commit), in one git call."""
        wanted = [r for r in dict.fromkeys(refs) if r and not any(c.isspace() for c in r)]
        result: dict[str, str | None] = dict.fromkeys(refs)
        if not wanted:
            return result
        out = self.run(
            "cat-file",
            "--batch-check=%(objectname) %(objecttype)",
            input="".join(f"{ref}^{{commit}}\n" for ref in wanted),
        ).stdout.splitlines()
        for ref, line in zip(wanted, out, strict=True):
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
        lines = self.run("cherry", base, branch, check=False).stdout.splitlines()
        return bool(lines) and all(line.startswith("-") for line in lines)

    def remote_of(self, ref: str) -> str | None:
        """The remote a ref comes from: `origin` for origin/main, or a branch's configured one."""
        if ref.startswith("-"):
            return None
        args = ("rev-parse", "--verify", "--quiet", "--symbolic-full-name", ref)
        name = self.run(*args, check=False).stdout.strip()
        if name.startswith("refs/remotes/"):
            rest = name[len("refs/remotes/") :]
            remotes = self.run("remote").stdout.split()
            matches = [r for r in remotes if rest.startswith(r + "/")]
            return max(matches, key=len) if matches else None
        if name.startswith("refs/heads/"):
            res = self.run("config", f"branch.{name[len('refs/heads/') :]}.remote", check=False)
            remote = res.stdout.strip()
            return remote if remote and remote != "." else None
        return None

    @contextlib.contextmanager
    def quarantine(self) -> Iterator[dict[str, str]]:
        """An environment whose new objects go to a temporary folder deleted afterwards; the
        repository's objects stay readable as an alternate, and none are added to it."""
        import tempfile  # here, not at the top: `wtpar list` never makes a quarantine

        tmp = tempfile.mkdtemp(prefix="wtpar-objects-")
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

    # -- what removing a worktree would lose (`remove`, `prune`) --------------------------

    def hidden_changes(self, path: str) -> list[tuple[str, str]]:
        """(flag, path) of assume-unchanged or skip-worktree files whose content differs
        from the index (wtpar/hidden.py): changes `git status` does not show."""
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
        out = self.run(
            "for-each-ref", "--format=%(refname)", "refs/worktree/", cwd=path
        ).stdout.split()
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
        return out.splitlines()

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
        for line in out.splitlines():
            sha = line.split(" ", 1)[0]
            src = os.path.join(quarantine, sha[:2], sha[2:])
            dst = os.path.join(target, sha[:2], sha[2:])
            if not os.path.exists(src) or os.path.exists(dst):
                continue
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            tmp = f"{dst}.wtpar-{os.getpid()}"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)

    def fast_forward_checkout(self, worktree: str, old: str, new: str) -> bool:
        """Bring a worktree's index and files from OLD to NEW after its branch moved there
        (`read-tree -m -u`: refuses to overwrite local changes); False if it refused."""
        res = self.run("read-tree", "-m", "-u", old, new, cwd=worktree, check=False)
        return res.returncode == 0

    def upstream_of(self, branch: str) -> tuple[str, str] | None:
        """(remote, remote branch ref) that BRANCH tracks, or None."""
        remote = self.run("config", f"branch.{branch}.remote", check=False).stdout.strip()
        merge = self.run("config", f"branch.{branch}.merge", check=False).stdout.strip()
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
        """Rebase the worktree's branch onto BASE, or merge BASE into it (no editor)."""
        if merge:
            return self.run("merge", "--no-edit", "--quiet", base, cwd=worktree, check=False)
        return self.run(
            "rebase", "--quiet", base, cwd=worktree, check=False, env={"GIT_EDITOR": "true"}
        )

    def conflicted_files(self, worktree: str) -> list[str]:
        """The unmerged paths of a worktree."""
        out = self.run(
            "diff", "--name-only", "-z", "--diff-filter=U", cwd=worktree, check=False
        ).stdout
        return [p for p in dict.fromkeys(out.split("\0")) if p]

    def abort_update(self, worktree: str, merge: bool) -> None:
        """Abort the merge or rebase under way in a worktree."""
        self.run("merge" if merge else "rebase", "--abort", cwd=worktree, check=False)

    def reset_hard(self, worktree: str, commit: str) -> None:
        """Put a worktree back exactly at COMMIT (only after an aborted update of a clean one)."""
        self.run("reset", "--hard", "--quiet", commit, cwd=worktree)

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


_MERGE_TREE = (
    "merge-tree",
    "--write-tree",
    "--name-only",
    "-z",
    "--no-messages",
    "--allow-unrelated-histories",
)


__all__ = [
    "CommandError",
    "Git",
    "MergeTreeResult",
    "RepoPaths",
    "ReplayCommit",
    "discover",
    "parse_merge_tree_stdin",
    "parse_status_v2",
    "parse_worktree_list",
    "require_version",
    "version",
    "worktree_git_dir",
]
