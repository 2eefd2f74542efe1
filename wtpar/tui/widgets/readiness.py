"""The readiness panel: counts, the selected branch's reasons, the conflict matrix."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class ReadinessPanel(Static):
    """Merge readiness at a glance, beside the table."""

    def __init__(self) -> None:
        super().__init__(id="readiness")
        self.border_title = "Readiness"

    def show_nothing(self, hint: str) -> None:
        """No check has run yet."""
        self.update(Text(hint, style="dim"))

    def show(
        self,
        ready: int,
        blocked: int,
        selected: str | None,
        reasons: list[tuple[str, bool]],
        matrix: list[tuple[str, str, list[str]]],
        note: str = "",
    ) -> None:
        """Draw the summary; `reasons` are (message, blocking); `matrix` is (a, b, files)."""
        parts: list[RenderableType] = []
        summary = Text()
        summary.append(f"{ready} ready", style="bold green")
        summary.append("  ")
        summary.append(f"{blocked} blocked", style="bold red" if blocked else "dim")
        if note:
            summary.append(f"  {note}", style="dim")
        parts.append(summary)
        if selected:
            parts.append(Text(f"\n{selected}", style="bold"))
            if not reasons:
                parts.append(Text("  no reasons: ready to merge", style="green"))
            for message, blocking in reasons:
                mark, style = ("✗", "red") if blocking else ("!", "yellow")
                parts.append(Text(f"  {mark} {message}", style=style))
        parts.append(Text("\nConflicts between branches", style="bold"))
        if not matrix:
            parts.append(Text("  none", style="green"))
        else:
            table = Table(box=None, show_header=False, padding=(0, 1))
            for a, b, files in matrix:
                shown = ", ".join(files[:3]) + (f" +{len(files) - 3}" if len(files) > 3 else "")
                table.add_row(Text(a, style="red"), Text("×"), Text(b, style="red"), Text(shown))
            parts.append(table)
        self.update(Group(*parts))
