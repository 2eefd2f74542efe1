"""The readiness panel: counts, the selected branch's reasons, the conflict matrix."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from wtpar.text import terminal_safe

if TYPE_CHECKING:  # the check's modules load with the first check, not with the dashboard
    from wtpar.tui.readiness_view import ReadinessSummary


class ReadinessPanel(Static):
    """Merge readiness at a glance, beside the table."""

    def __init__(self) -> None:
        super().__init__(id="readiness")
        self.border_title = "Readiness"

    def show_nothing(self, hint: str) -> None:
        """No check has run yet."""
        self.update(Text(hint, style="dim"))

    def show(self, summary: ReadinessSummary) -> None:
        """Draw the counts, the selected branch's reasons and the conflicting pairs."""
        parts: list[RenderableType] = []
        counts = Text()
        counts.append(f"{summary.ready} ready", style="bold green")
        counts.append("  ")
        counts.append(f"{summary.blocked} blocked", style="bold red" if summary.blocked else "dim")
        if summary.merged:
            counts.append(f"  {summary.merged} merged", style="cyan")
        if summary.new:
            counts.append(f"  {summary.new} new", style="dim")
        if summary.note:
            counts.append(f"  {summary.note}", style="dim")
        parts.append(counts)
        if summary.selected:
            parts.append(Text(f"\n{terminal_safe(summary.selected)}", style="bold"))
            if not summary.reasons:
                parts.append(Text("  no reasons: ready to merge", style="green"))
            for reason in summary.reasons:
                mark, style = ("✗", "red") if reason.blocking else ("!", "yellow")
                parts.append(Text(f"  {mark} {terminal_safe(reason.message)}", style=style))
        parts.append(Text("\nConflicts between branches", style="bold"))
        if not summary.conflicts:
            parts.append(Text("  none", style="green"))
        else:
            table = Table(box=None, show_header=False, padding=(0, 1))
            for pair in summary.conflicts:
                files = list(pair.files)
                shown = ", ".join(files[:3]) + (f" +{len(files) - 3}" if len(files) > 3 else "")
                # Branch and file names as text: nothing in them steers the terminal.
                a, b = (Text(terminal_safe(name), style="red") for name in (pair.a, pair.b))
                table.add_row(a, Text("×"), b, Text(terminal_safe(shown)))
            parts.append(table)
        self.update(Group(*parts))
