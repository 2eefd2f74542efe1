"""Finding the repository: its main worktree, its common git dir, and the installed git's
version. One git call, no library: this runs at the start of every command.

The CLI finds it with `git worktree list` (started before it imports the command's
modules): the main worktree comes first, and where its `.git` is a folder, that folder is
the common git dir. `list` and `run` need that list anyway, so one git process serves both
(one of four `list` started). Any other layout (a bare repository, a `.git` file: a
separate git dir or a submodule) is found with `git rev-parse`, as without the early call.
There git names the git dir itself as the main worktree (it keeps no way back to the
folder whose `.git` file points to it): from the main worktree, that is git's top level;
from another worktree, a submodule's `core.worktree`, else the error says where to run.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

from wtpar import procs
from wtpar.errors import NotARepositoryError
from wtpar.git.parse import output_line, parse_worktree_list


@dataclass(frozen=True)
class RepoPaths:
    """Where a repository lives: its main worktree and its common git dir."""

    root: str
    common_dir: str

    @property
    def wtpar_dir(self) -> str:
        """wtpar's own folder, shared by every worktree of the repository."""
        return os.path.join(self.common_dir, "wtpar")


_DISCOVER = [
    "git",
    "rev-parse",
    "--path-format=absolute",
    "--git-common-dir",
    "--is-bare-repository",
    "--git-dir",
]


_LIST = ["git", "worktree", "list", "--porcelain", "-z"]


def start_discovery(start: str | os.PathLike[str] = ".") -> procs.Started | None:
    """`discover_listed(start)`'s git call, started now (None when it cannot start): the CLI
    starts it before it imports a command's modules, so that git runs beside them."""
    try:
        where = os.path.abspath(start)
    except OSError:
        return None  # the current folder was deleted: `discover` says so
    if not os.path.isdir(where):
        return None
    try:
        return procs.Started(_LIST, cwd=where)
    except OSError:
        return None  # no git: `discover` says so


def discover_listed(
    start: str | os.PathLike[str] = ".", early: procs.Started | None = None
) -> tuple[RepoPaths, str | None]:
    """The repository containing `start`, and the output of `git worktree list --porcelain
    -z` when `early` (`start_discovery(start)`) found it (else None: `discover` did)."""
    if early is not None and os.path.isdir(start):
        res = early.result(check=False)
        found = _from_listing(res.stdout, start) if res.returncode == 0 else None
        if found is not None:
            return found, res.stdout
    return discover(start), None


def _from_listing(out: str, start: str | os.PathLike[str]) -> RepoPaths | None:
    """The repository of a worktree list whose main worktree keeps its git dir in `.git`,
    seen from one of its worktrees (None for any other layout: a separate git dir named
    `.git` is listed as the main worktree's, from a folder the list does not name)."""
    listed = parse_worktree_list(out)
    if not listed or listed[0].bare:
        return None
    git_dir = os.path.join(listed[0].path, ".git")
    if not os.path.isdir(git_dir):
        return None
    where = os.path.realpath(start)
    if not any(within(where, os.path.realpath(wt.path)) for wt in listed):
        return None
    common_dir = os.path.realpath(git_dir)
    return RepoPaths(root=os.path.dirname(common_dir), common_dir=common_dir)


def within(path: str, folder: str) -> bool:
    """Whether PATH is FOLDER or inside it (both real paths)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def discover(start: str | os.PathLike[str] = ".") -> RepoPaths:
    """Find the repository containing `start` (any of its worktrees).

    One `git rev-parse` call: a library's discovery costs ~50 ms of import and set-up,
    a third of `wtpar list`'s run time on a small repository.
    """
    try:
        where = os.path.abspath(start)
    except FileNotFoundError:
        how = "name one with -C DIR" if str(start) == "." else "give -C an absolute path"
        raise NotARepositoryError(
            f"the current folder no longer exists: cd to a worktree, or {how}"
        ) from None
    if not os.path.isdir(where):
        raise NotARepositoryError(f"not a git repository (no such folder): {where}")
    res = procs.run(_DISCOVER, cwd=where, check=False)
    if res.returncode != 0:
        said = refused_as_untrusted(res.stderr)
        theirs = refused_folder(said, where) if said else _owned_by_another(where)
        if theirs:
            raise untrusted(theirs)
        raise NotARepositoryError(f"not a git repository (or any parent up to /): {where}")
    common_dir, bare, git_dir = res.stdout.split("\n")[:3]  # a "\r" may be in a path
    common_dir = os.path.realpath(common_dir)
    if bare == "true":
        raise _bare(common_dir)
    parent = os.path.dirname(common_dir)
    usual = os.path.basename(common_dir) == ".git"  # the main worktree holds it, usually
    if os.path.realpath(git_dir) == common_dir:  # in the main worktree (or its git dir)
        if usual and within(os.path.realpath(where), parent):
            return RepoPaths(root=parent, common_dir=common_dir)
        top = procs.run(["git", "rev-parse", "--show-toplevel"], cwd=where, check=False)
        if top.returncode == 0 and top.stdout.rstrip("\n"):
            root = os.path.realpath(top.stdout.rstrip("\n"))
            return RepoPaths(root=root, common_dir=common_dir)
    if usual:
        return RepoPaths(root=parent, common_dir=common_dir)
    return RepoPaths(root=_main_worktree_root(common_dir), common_dir=common_dir)


def _owned_by_another(where: str) -> str | None:
    """The folder holding the nearest `.git` above WHERE if another user owns that `.git`
    (git refuses such a repository in words of the user's language: this is what they
    say), else None."""
    found = _nearest_git(where)
    return found[0] if found is not None and found[1] != os.geteuid() else None


def _nearest_git(where: str) -> tuple[str, int] | None:
    """The folder holding the nearest `.git` above WHERE, and who owns that `.git`."""
    folder = where
    while True:
        try:
            return folder, os.stat(os.path.join(folder, ".git")).st_uid
        except FileNotFoundError:
            parent = os.path.dirname(folder)
            if parent == folder:
                return None
            folder = parent
        except OSError:
            return None


def refused_as_untrusted(stderr: str) -> str | None:
    """The folder git names when it refuses a repository another user owns, else None."""
    said = re.search(r"dubious ownership in repository at '(.+?)'\n", stderr + "\n", re.S)
    return said.group(1) if said else None  # the path may hold a line break


def refused_folder(said: str, near: str) -> str:
    """The folder git SAID it refused, running in NEAR: found from NEAR when git's words
    name it (git prints a control character in a message as `?`: its words may name
    another path), else as git said."""
    found = _nearest_git(near)  # theirs, or ours with a git dir of theirs (a linked worktree)
    return found[0] if found is not None and _as_git_prints(found[0]) == said else said


def _as_git_prints(text: str) -> str:
    return "".join("?" if (c < " " or c == "\x7f") and c not in "\t\n" else c for c in text)


def untrusted(theirs: str) -> NotARepositoryError:
    """Git refused the worktree at THEIRS: another user owns it. wtpar runs git in the main
    worktree too, so a linked worktree's advice names both."""
    from wtpar.text import shell_word  # only when refused

    main = _main_of_linked(theirs)
    if main is not None and main != theirs:
        trusted = procs.run(["git", "config", "--get-all", "safe.directory"], check=False)
        if main in trusted.stdout.split("\n"):
            main = None  # already trusted: the worktree alone is to add
    if main is None or main == theirs:
        return NotARepositoryError(
            f"git does not trust the repository at {theirs} (another user owns it); to trust"
            f" it: git config --global --add safe.directory {shell_word(theirs)}"
        )
    add = "git config --global --add safe.directory"
    return NotARepositoryError(
        f"git does not trust the repository at {main} nor its worktree {theirs} (another"
        f" user owns them); to trust them: {add} {shell_word(main)} && {add}"
        f" {shell_word(theirs)}"
    )


def _main_of_linked(worktree: str) -> str | None:
    """The main worktree of the linked worktree at WORKTREE, read from its `.git` file and
    its git dir's `commondir` (git itself will not say: it refuses the repository); None
    for a main worktree or another layout."""
    try:
        with open(os.path.join(worktree, ".git"), encoding="utf-8", errors="surrogateescape") as fh:
            pointer = output_line(fh.readline())
        gitdir = os.path.join(worktree, pointer.removeprefix("gitdir: "))
        common_file = os.path.join(gitdir, "commondir")
        with open(common_file, encoding="utf-8", errors="surrogateescape") as fh:
            common = os.path.realpath(os.path.join(gitdir, output_line(fh.readline())))
    except (OSError, UnicodeDecodeError):
        return None  # `.git` is a folder (a main worktree), or unreadable
    if not pointer.startswith("gitdir: ") or os.path.basename(common) != ".git":
        return None
    return os.path.dirname(common)


def _bare(common_dir: str) -> NotARepositoryError:
    need = "wtpar needs a main working tree"
    return NotARepositoryError(f"{common_dir} is a bare repository; {need}")


def _main_worktree_root(common_dir: str) -> str:
    """The main worktree of a repository whose git dir is not its `.git` folder, asked from
    another worktree."""
    out = procs.run(["git", "--git-dir", common_dir, "worktree", "list", "--porcelain", "-z"])
    listed = parse_worktree_list(out.stdout)  # the main worktree comes first
    if not listed:
        raise NotARepositoryError(f"cannot find the main worktree of {common_dir}")
    if listed[0].bare:
        raise _bare(common_dir)
    root = os.path.realpath(listed[0].path)
    if root != common_dir:
        return root
    # git knows no way back from the git dir: a submodule's records its folder.
    found = procs.run(["git", "--git-dir", common_dir, "config", "core.worktree"], check=False)
    worktree = output_line(found.stdout) if found.returncode == 0 else ""
    if worktree:
        return os.path.realpath(os.path.join(common_dir, worktree))
    raise NotARepositoryError(
        f"cannot find the main worktree of {common_dir} from here (its git dir is kept"
        " apart from it): run wtpar in the main worktree"
    )


@functools.cache
def version() -> tuple[int, int, int]:
    """The installed git's version, detected once."""
    out = procs.run(["git", "--version"]).stdout
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", out)
    if not m:
        return (0, 0, 0)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def require_version(minimum: tuple[int, int], what: str) -> None:
    """Raise a clear error when git is older than `minimum`."""
    from wtpar.errors import GitVersionError

    have = version()
    if have[:2] < minimum:
        need = ".".join(str(x) for x in minimum)
        got = ".".join(str(x) for x in have)
        raise GitVersionError(f"{what} needs git {need} or newer; this is git {got}")
