"""Worktree actions of the dashboard: spawn, remove (with its safety dialog) and prune.

Each runs git in a thread worker and reports back with ActionDone / ActionFailed messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import work
from textual.screen import Screen

from wtpar.errors import WtparError
from wtpar.model import BranchStatus
from wtpar.tui.messages import ActionDone, ActionFailed
from wtpar.tui.screens import ConfirmScreen, PromptScreen
from wtpar.tui.view import branch_name

if TYPE_CHECKING:
    from wtpar.tui.app import WtparApp


class WorktreeActions(Screen[None]):
    """The spawn, remove and prune actions of the main screen."""

    if TYPE_CHECKING:

        @property
        def dash(self) -> WtparApp: ...

        def selected_status(self) -> BranchStatus | None: ...

    def action_remove(self) -> None:
        """Remove the selected worktree after a confirmation."""
        bs = self.selected_status()
        if bs is not None:
            self.ask_remove(bs)

    def action_spawn(self) -> None:
        """Ask for branch names and create their worktrees."""

        def done(text: str | None) -> None:
            if text:
                self._spawn_worker(text.split())

        self.app.push_screen(
            PromptScreen(
                "Spawn worktrees",
                "feature-a feature-b",
                hint="Existing branches are checked out; new ones start from the base.",
            ),
            done,
        )

    @work(thread=True, group="actions")
    def _spawn_worker(self, branches: list[str]) -> None:
        try:
            results = self.dash.services.spawn(branches)
        except WtparError as exc:
            self.post_message(ActionFailed("spawn", exc.message))
            return
        failed = [f"{r.branch}: {r.error}" for r in results if r.error]
        made = [r.branch for r in results if not r.error]
        if failed:
            self.post_message(ActionFailed("spawn", "; ".join(failed)))
        if made:
            self.post_message(ActionDone("spawn", "ready: " + ", ".join(made)))

    def ask_remove(self, bs: BranchStatus) -> None:
        """Remove a worktree once confirmed; refused, with the reason, if work would be lost."""
        self._remove_check_worker(bs)

    @work(thread=True, exclusive=True, group="remove-check")
    def _remove_check_worker(self, bs: BranchStatus) -> None:
        try:
            refusal = self.dash.services.worktrees.removal_refusal(bs.worktree, force=False)
        except WtparError as exc:
            refusal = exc.message
        self.app.call_from_thread(self._confirm_remove, bs, refusal)

    def _confirm_remove(self, bs: BranchStatus, refusal: str | None) -> None:
        name = branch_name(bs)

        def done(yes: bool | None) -> None:
            if yes:
                self._remove_worker(name)

        body = f"Remove the worktree of {name} at\n{bs.worktree.path}?\nThe branch is kept."
        self.app.push_screen(ConfirmScreen(f"Remove {name}", body, refusal), done)

    @work(thread=True, group="actions")
    def _remove_worker(self, branch: str) -> None:
        try:
            results = self.dash.services.remove([branch])
        except WtparError as exc:
            self.post_message(ActionFailed("remove", exc.message))
            return
        for r in results:
            if r.removed:
                also = f"; {r.ignored.text()}" if r.ignored.files else ""
                self.post_message(ActionDone("remove", f"removed {r.branch}{also}"))
            else:
                self.post_message(ActionFailed("remove", f"{r.branch}: {r.error}"))

    def action_prune(self) -> None:
        """Forget worktrees whose folder is gone."""
        self._prune_worker()

    @work(thread=True, group="actions")
    def _prune_worker(self) -> None:
        try:
            result = self.dash.services.prune()
        except WtparError as exc:
            self.post_message(ActionFailed("prune", exc.message))
            return
        what = ", ".join(result.stale) or "nothing to prune"
        self.post_message(ActionDone("prune", what))
