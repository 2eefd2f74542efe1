"""The diff pane: a branch's changes against the base, the files with their counts first,
then the patch, colored, scrollable; Escape goes back to the table."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from wtpar.land.diff import BranchDiff
from wtpar.text import plural, terminal_safe

# The style of a patch line, by how it starts (checked in this order).
_PATCH_STYLES = (
    ("diff --git", "bold"),
    ("+++", "bold"),
    ("---", "bold"),
    ("@@", "cyan"),
    ("+", "green"),
    ("-", "red"),
)


def line_style(line: str) -> str:
    """The style of one patch line: headers bold, hunks cyan, additions green, deletions red."""
    for prefix, style in _PATCH_STYLES:
        if line.startswith(prefix):
            return style
    return ""


def diff_text(diff: BranchDiff) -> Group:
    """The summary line, the files with their counts, and the colored patch."""
    head = Text()
    head.append(terminal_safe(diff.branch), style="bold")
    head.append(f" against {diff.base}: {plural(len(diff.files), 'file')}, ")
    head.append(f"+{diff.added}", style="green")
    head.append(" ")
    head.append(f"-{diff.deleted}", style="red")
    files = Text()
    adds = [_count("+", f.added) for f in diff.files]
    dels = [_count("-", f.deleted) for f in diff.files]
    wide_add = max(map(len, adds), default=0)
    wide_del = max(map(len, dels), default=0)
    for f, add, delete in zip(diff.files, adds, dels, strict=True):
        files.append(f"  {add.rjust(wide_add)} ", style="green")
        files.append(f"{delete.rjust(wide_del)}  ", style="red")
        files.append(f"{terminal_safe(f.path)}\n")
    patch = Text()
    for line in diff.patch.splitlines():
        # The branch's files may hold escape sequences: shown, never sent to the terminal.
        patch.append(terminal_safe(line) + "\n", style=line_style(line))
    if not diff.files:
        return Group(head, Text(f"\nnothing to show: no change since {diff.base}", style="dim"))
    return Group(head, Text(""), files, patch)


def _count(sign: str, n: int | None) -> str:
    return "bin" if n is None else f"{sign}{n}"


class DiffScreen(Screen[None]):
    """A full-screen, scrollable view of one branch's diff."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("q", "close", "Back", show=False),
        Binding("v", "close", "Back", show=False),
    ]

    def __init__(self, diff: BranchDiff) -> None:
        super().__init__()
        self.diff = diff

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="diff"):
            yield Static(diff_text(self.diff), id="diff-body")
        yield Footer()

    def on_mount(self) -> None:
        """Keys scroll the patch at once."""
        self.query_one("#diff", VerticalScroll).focus()

    def action_close(self) -> None:
        """Back to the table."""
        self.dismiss(None)
