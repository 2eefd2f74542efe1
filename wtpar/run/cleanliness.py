"""Whether each worktree of a run was clean, read while the tasks run, not before them.

Results are recorded only for a clean tree. Reading `git status` on every used worktree
before the first task starts cost about 0.6 s with 200 worktrees; the reads now start once
the run's first tasks are under way, in threads, and are awaited only when the results are
recorded. They wait for the first wave of starts (as many tasks as the run can start at
once, or the first task to end) because on a small machine their git processes otherwise
compete with the tasks' own start-up: 16 of them delayed the 8th start of
`run -j 8` by about 40 ms on 2 cores. A task that changes its tree before its read makes
the tree count as dirty: its result is then not recorded, so nothing wrong is ever reused.
So does one that made a dirty tree clean (committed, stashed or checked out the work): the
worktree's index and HEAD's reflog are looked at (stat, no git process) before its tasks
start, and a worktree where either was written since counts as dirty.
`--changed` still reads first (it must know before deciding to skip).

What recording needs besides is prepared beside those reads too, not after the last task
has ended: the modules the end of the run uses (`_END_OF_RUN`: the lock library recording
takes its cache lock with, about 10 ms to import, and the report's and recording's own,
about 5 ms more that no longer delay the first task) and whatever the caller adds
(`prepare`: the run reads the trees of its worktrees' HEADs, one `git cat-file` that
otherwise ran between the last task's end and the exit).
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Iterable

from wtpar.git.parse import worktree_git_dir
from wtpar.model import RunEvent, TaskFinished, TaskStarted

CleanProbe = Callable[[str], bool]
"""path -> True when the worktree at `path` has no uncommitted change."""

Marks = tuple[tuple[int, int, int] | None, ...]

_END_OF_RUN = ("filelock", "wtpar.run.report", "wtpar.run.recording")


def git_marks(path: str) -> Marks | None:
    """What a commit, stash, reset or checkout in the worktree at PATH changes without
    fail: its index's and HEAD's reflog's (inode, size, mtime); None when unknown."""
    gitdir = worktree_git_dir(path)
    if gitdir is None:
        return None
    marks: list[tuple[int, int, int] | None] = []
    for name in ("index", os.path.join("logs", "HEAD")):
        try:
            st = os.stat(os.path.join(gitdir, name))
        except FileNotFoundError:
            marks.append(None)
            continue
        except OSError:
            return None
        marks.append((st.st_ino, st.st_size, st.st_mtime_ns))
    return tuple(marks)


class CleanReads:
    """The cleanliness of some worktrees, read in the loop's default thread pool once the
    run's first wave of tasks has started (subscribe it to the dispatcher's events)."""

    def __init__(
        self, probe: CleanProbe, wave: int = 1, prepare: Callable[[], object] | None = None
    ) -> None:
        self.probe = probe
        self.prepare = prepare  # more of what recording needs, done in the same thread pool
        self.wave = max(1, wave)  # how many starts make the first wave (the run's -j)
        self._paths: dict[str, Marks | None] = {}  # path -> its marks before its tasks
        self._reads: dict[str, asyncio.Future[bool]] = {}
        self._started = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._preload: asyncio.Future[object] | None = None

    def start(self, paths: Iterable[str]) -> None:
        """Read each path (once) after the first wave of starts; call on the running loop."""
        self._loop = asyncio.get_running_loop()
        wanted = list(paths)
        self.wave = min(self.wave, max(1, len(wanted)))
        for path in wanted:
            if path not in self._paths:
                self._paths[path] = git_marks(path)

    def __call__(self, event: RunEvent) -> None:
        """A dispatcher event: the first wave has started once `wave` tasks have, or one
        has ended (the others may be waiting for it or for a lock)."""
        if isinstance(event, TaskStarted):
            self._started += 1
        if self._started >= self.wave or isinstance(event, TaskFinished):
            self._read_pending()

    def _read_pending(self) -> None:
        loop = self._loop
        if loop is None:
            return
        if self._preload is None:
            self._preload = loop.run_in_executor(None, self._prepare)
        for path in self._paths:
            if path not in self._reads:
                self._reads[path] = loop.run_in_executor(None, self._read, path)

    def _prepare(self) -> None:
        for name in _END_OF_RUN:
            importlib.import_module(name)
        if self.prepare is not None:
            self.prepare()

    def _read(self, path: str) -> bool:
        # The probe first: what changes while `git status` runs is then seen by the marks.
        return self.probe(path) and git_marks(path) == self._paths.get(path)

    async def results(self) -> dict[str, bool]:
        """Path -> clean, for every path started; a read that failed counts as dirty."""
        self._read_pending()  # a run that ended before its first wave was complete
        if self._preload is not None:
            # Only ahead of time: what failed here, recording does again (and reports).
            await asyncio.gather(self._preload, return_exceptions=True)
        done = await asyncio.gather(*self._reads.values(), return_exceptions=True)
        return {path: r is True for path, r in zip(self._reads, done, strict=True)}
