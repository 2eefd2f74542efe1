"""Branch names checked in Python and branch refs found in one git call, so `spawn` of many
branches starts one git process for all of them instead of three per branch.

`branch_name_ok` follows git's `check_refname_format` (refs.c) for `refs/heads/NAME`, plus
what `git check-ref-format --branch` adds (no leading `-`, not `HEAD`). A name with an `@`
may be rewritten by git first (`@{-1}`, `@{upstream}`), so for those it answers None: ask git.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# git's refname_disposition: 4 marks a byte no ref name may hold (control characters,
# space, ~ ^ : ? [ \ and DEL); `*` is refused too outside refspec patterns.
_BAD_BYTES = frozenset([*range(0x20), 0x20, 0x7F, *b"~^:?[\\*"])


def branch_name_ok(name: str) -> bool | None:
    """True/False as `git check-ref-format --branch NAME` would answer; None when only git
    can tell (the name has an `@`, which git may interpret)."""
    if "@" in name:
        return None
    if not name or name.startswith("-") or name == "HEAD":
        return False
    raw = name.encode("utf-8", "surrogateescape")
    if any(b in _BAD_BYTES for b in raw) or b".." in raw:
        return False
    for component in raw.split(b"/"):
        if not component or component.startswith(b".") or component.endswith(b".lock"):
            return False
    return not raw.endswith(b".")


@dataclass(frozen=True)
class BranchRefs:
    """Which of some valid branch names exist locally, and as which remote-tracking refs."""

    names: frozenset[str]  # the valid names looked up
    local: frozenset[str]
    remotes: Mapping[str, tuple[str, ...]]  # name -> short names, `origin/NAME`
    commits: Mapping[str, str]  # short remote-tracking name -> its commit id

    def valid(self, name: str) -> bool:
        """True when NAME was looked up, that is, is a valid branch name."""
        return name in self.names

    def remotes_named(self, name: str) -> tuple[str, ...]:
        """The remote-tracking branches called NAME on some remote (`origin/NAME`)."""
        return self.remotes.get(name, ())


def branch_refs(names: Iterable[str], refs: Sequence[tuple[str, str, str, str]]) -> BranchRefs:
    """Sort `for-each-ref` rows (refname, short name, object id, type) of the patterns
    `refs/heads/NAME` and `refs/remotes/*/NAME` into a BranchRefs: exact names only (a
    pattern also matches refs below it), one remote level, remote HEADs left out."""
    wanted = frozenset(names)
    local: set[str] = set()
    remotes: dict[str, list[str]] = {}
    commits: dict[str, str] = {}
    for refname, short, sha, kind in refs:
        if refname.startswith("refs/heads/"):
            if refname[len("refs/heads/") :] in wanted:
                local.add(refname[len("refs/heads/") :])
            continue
        remote, _, rest = refname[len("refs/remotes/") :].partition("/")
        if not refname.startswith("refs/remotes/") or not remote or rest not in wanted:
            continue
        if short.endswith("/HEAD"):
            continue
        remotes.setdefault(rest, []).append(short)
        if kind == "commit":
            commits[short] = sha
    return BranchRefs(wanted, frozenset(local), {k: tuple(v) for k, v in remotes.items()}, commits)
