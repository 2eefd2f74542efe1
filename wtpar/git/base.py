"""The one runner of git commands: `git ARGS` through procs.run, in the main worktree
unless told otherwise."""

from __future__ import annotations

from collections.abc import Mapping

from wtpar import procs
from wtpar.errors import CommandError
from wtpar.git.repo import RepoPaths, refused_as_untrusted, refused_folder, untrusted


class GitBase:
    """git commands against one repository (thread-safe: it holds no state but the paths)."""

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
        detached: bool = False,
    ) -> procs.Result:
        """Run `git ARGS` in `cwd` (default: the main worktree); `detached`: see procs.run."""
        try:
            return procs.run(
                ["git", *args],
                cwd=cwd or self.paths.root,
                check=check,
                ok_codes=ok_codes,
                input=input,
                env=env,
                detached=detached,
            )
        except CommandError as exc:
            # A folder another user owns, trusted only in part (git's own advice names
            # one worktree): what to do, not git's words.
            said = refused_as_untrusted(exc.output)
            if said is None:
                raise
            raise untrusted(refused_folder(said, cwd or self.paths.root)) from None
