"""The dashboard's fleet cells: who holds each worktree (leases), what other wtpar processes
(agents' runs) are running in it now, and the brief flash of a row whose run just finished,
in whichever process it ran. Free of Textual, like view.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from wtpar.tui.widgets.branch_table import Cell
from wtpar.worktrees.leases import format_duration

if TYPE_CHECKING:
    from wtpar.model import BranchStatus
    from wtpar.tui.view import DashState

FLASH_SECONDS = 3.0
FLASH_STYLES = {True: "bold reverse green", False: "bold reverse red"}


def holder_columns(state: DashState) -> tuple[str, ...]:
    """The Holder column, once anyone holds a worktree."""
    return ("holder",) if state.leases else ()


def holder_cell(bs: BranchStatus, state: DashState, now: float) -> Cell:
    """`alice 1h59m` (time left), or `-`."""
    lease = state.leases.get(bs.worktree.branch or "")
    if lease is None:
        return Cell("-", "dim")
    return Cell(f"{lease.holder} {format_duration(lease.expires - now)}", "bold magenta")


def elsewhere_columns(state: DashState) -> tuple[str, ...]:
    """The Elsewhere column, while another wtpar process runs a task in some worktree."""
    return ("elsewhere",) if state.elsewhere else ()


def elsewhere_cell(bs: BranchStatus, state: DashState) -> Cell:
    """`▶ test, lint`: what other wtpar processes run in the worktree now, or `-`."""
    names = state.elsewhere.get(bs.worktree.path)
    if not names:
        return Cell("-", "dim")
    return Cell("▶ " + ", ".join(names), "bold yellow")


def flash_style(bs: BranchStatus, state: DashState, now: float) -> str | None:
    """The branch cell's style while its run's end is being flashed (None otherwise)."""
    flash = state.flashes.get(bs.worktree.path)
    if flash is None or now - flash[0] >= FLASH_SECONDS:
        return None
    return FLASH_STYLES[flash[1]]
